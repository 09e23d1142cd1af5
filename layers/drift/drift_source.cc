#include "layers/drift/drift_source.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "layers/drift/inventory_store.h"
#include "layers/drift/oci_layout.h"
#include "layers/drift/scan_root.h"

namespace ctrsnap::drift {
namespace {

bool IsDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// "DIR:REF" where DIR is an OCI layout; REF may itself contain ':' (digests).
bool SplitLayoutRef(const std::string& s, std::string* dir, std::string* ref) {
  if (IsOciLayout(s)) {
    *dir = s;
    ref->clear();
    return true;
  }
  for (size_t pos = s.find(':'); pos != std::string::npos; pos = s.find(':', pos + 1)) {
    std::string d = s.substr(0, pos);
    if (!d.empty() && IsOciLayout(d)) {
      *dir = d;
      *ref = s.substr(pos + 1);
      return true;
    }
  }
  return false;
}

// A temp directory removed (after unmounting, when MOUNTED) on destruction.
class TempDir {
 public:
  static Result<TempDir> Make(const std::string& parent, const char* tag) {
    std::string tmpl = JoinPath(parent, std::string("ctrsnap-drift-") + tag + ".XXXXXX");
    if (::mkdtemp(tmpl.data()) == nullptr) return Status::FromErrno(errno, "mkdtemp", tmpl);
    TempDir t;
    t.path_ = tmpl;
    return t;
  }
  TempDir() = default;
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)), mounted_(o.mounted_) {
    o.path_.clear();
  }
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    if (path_.empty()) return;
    if (mounted_) {
      ::umount2(path_.c_str(), MNT_DETACH);
      ::rmdir(path_.c_str());
    } else {
      (void)RemoveTree(path_);
    }
  }
  const std::string& path() const { return path_; }
  void set_mounted() { mounted_ = true; }

 private:
  std::string path_;
  bool mounted_ = false;
};

std::string EscapeLowerdir(const std::string& p) {
  std::string out;
  for (char c : p) {
    if (c == ':' || c == ',' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

Result<Inventory> LayoutInventory(const SourceSpec& spec, const SourceOptions& options) {
  ASSIGN_OR_RETURN(ResolvedImage img, ResolveImage(spec.path, spec.ref));
  auto inv = LoadInventoryForManifest(spec.path, img.manifest, img.manifest_json);
  if (!inv.ok() && inv.status().code() != Code::kNotFound) return inv.status();
  if (!inv.ok()) {
    ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(options.tmp_dir, "image"));
    ASSIGN_OR_RETURN(UnpackStats stats,
                     UnpackImageLayers(spec.path, img.manifest_json, tmp.path(), options.unpack));
    ScanOptions so;
    so.scan_etc = options.scan_etc;
    inv = ScanRootPath(tmp.path(), so);
    if (!inv.ok()) return inv.status();
    inv->AddNote("no recorded inventory: computed from the image's layers");
    if (stats.skipped > 0) {
      inv->AddNote("unpack: " + std::to_string(stats.skipped) +
                   " layer entries skipped (devices, paths through symlinks)");
    }
  }
  // The image config is authoritative for its own settings.
  std::erase_if(inv->items, [](const Item& it) { return it.ecosystem == kEcoConfig; });
  RETURN_IF_ERROR(AddImageConfig(img.config_json, *inv));
  inv->source = spec.shown + "@" + img.manifest.digest;
  inv->Normalize();
  return inv;
}

std::string LowerdirList(const std::vector<std::string>& dirs) {
  std::string out;
  for (const auto& d : dirs) {
    if (!out.empty()) out += ':';
    out += EscapeLowerdir(d);
  }
  return out;
}

Result<std::vector<std::string>> ContainerLayerDirs(const std::string& state_dir) {
  ASSIGN_OR_RETURN(FsMeta meta, FsMeta::Load(state_dir));
  std::vector<std::string> dirs;
  for (auto it = meta.generations.rbegin(); it != meta.generations.rend(); ++it) {
    std::string upper = layout::UpperDir(state_dir, it->id);
    if (IsDir(upper)) dirs.push_back(upper);
  }
  for (const auto& l : meta.lowerdirs) dirs.push_back(l);
  return dirs;
}

Result<Inventory> ContainerInventory(const SourceSpec& spec, const SourceOptions& options) {
  ASSIGN_OR_RETURN(std::vector<std::string> dirs, ContainerLayerDirs(spec.path));
  ScanOptions so;
  so.scan_etc = options.scan_etc;
  so.source = spec.shown;
  auto inv = InventoryOfLayers(dirs, options.tmp_dir, so);
  if (!inv.ok()) return inv.status().WithContext("container " + spec.shown);
  inv->source = spec.shown;
  inv->AddNote("live view of a running container: files may change while being read");
  return inv;
}

}  // namespace

Result<Inventory> InventoryOfLayers(const std::vector<std::string>& dirs, const std::string& tmp_dir,
                                    const ScanOptions& options) {
  if (dirs.empty()) return Status::InvalidArgument("inventory: no layer dirs");
  if (dirs.size() == 1) return ScanRootPath(dirs[0], options);
  ASSIGN_OR_RETURN(TempDir mnt, TempDir::Make(tmp_dir, "tree"));
  // The same view the generations oracle uses: redirects and metacopy
  // followed, so renamed directories and metadata-only copy-ups read right.
  std::string opts = "ro,redirect_dir=follow,metacopy=on,lowerdir=" + LowerdirList(dirs);
  if (opts.size() >= 4000) {
    return Status::Unsupported("too many layers (" + std::to_string(dirs.size()) +
                               ") for one overlay mount");
  }
  if (::mount("overlay", mnt.path().c_str(), "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV,
              opts.c_str()) != 0) {
    return Status::FromErrno(errno, "mount overlay (needs root) on", mnt.path());
  }
  mnt.set_mounted();
  return ScanRootPath(mnt.path(), options);
}

Result<std::string> ContainerLowerdirOption(const std::string& state_dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> dirs, ContainerLayerDirs(state_dir));
  if (dirs.size() < 2) {
    // overlayfs needs two layers without an upper; an empty dir completes it.
    return Status::Unsupported(state_dir + ": needs at least one generation and one lower dir");
  }
  return LowerdirList(dirs);
}

Result<SourceSpec> ParseSourceSpec(const std::string& arg, const std::string& state_root) {
  SourceSpec s;
  s.shown = arg;
  if (arg.empty()) return Status::InvalidArgument("empty source");
  if (arg.starts_with("oci:")) {
    if (!SplitLayoutRef(arg.substr(4), &s.path, &s.ref)) {
      return Status::NotFound(arg + ": not an OCI layout (no oci-layout/index.json)");
    }
    s.kind = SourceKind::kLayout;
    return s;
  }
  if (arg.starts_with("dir:")) {
    s.path = arg.substr(4);
    if (!IsDir(s.path)) return Status::NotFound(arg + ": not a directory");
    s.kind = SourceKind::kRootDir;
    return s;
  }
  if (IsDir(arg)) {
    s.path = arg;
    s.kind = IsOciLayout(arg) ? SourceKind::kLayout : SourceKind::kRootDir;
    return s;
  }
  if (SplitLayoutRef(arg, &s.path, &s.ref)) {
    s.kind = SourceKind::kLayout;
    return s;
  }
  bool plain_id = arg.find('/') == std::string::npos && arg != "." && arg != "..";
  if (plain_id) {
    std::string state = JoinPath(state_root, arg);
    struct stat st;
    if (::stat(layout::FsMetaPath(state).c_str(), &st) == 0) {
      s.path = state;
      s.kind = SourceKind::kContainer;
      s.shown = "container:" + arg;
      return s;
    }
  }
  return Status::NotFound(arg + ": not an OCI layout, a directory, or a container under " +
                          state_root);
}

Result<Inventory> InventoryOf(const SourceSpec& spec, const SourceOptions& options) {
  switch (spec.kind) {
    case SourceKind::kLayout: return LayoutInventory(spec, options);
    case SourceKind::kContainer: return ContainerInventory(spec, options);
    case SourceKind::kRootDir: {
      ScanOptions so;
      so.scan_etc = options.scan_etc;
      so.source = spec.shown;
      return ScanRootPath(spec.path, so);
    }
  }
  return Status::Internal("unknown source kind");
}

}  // namespace ctrsnap::drift
