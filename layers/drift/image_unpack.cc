#include "layers/drift/image_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <memory>

#include "common/file_util.h"
#include "layers/drift/oci_layout.h"
#include "layers/drift/root_fs.h"

namespace ctrsnap::drift {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";

using ReadPtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;

// "./usr//bin/" -> "usr/bin"; empty on "..", empty or absolute-only paths.
std::string CleanPath(std::string_view p) {
  std::string out;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view comp = p.substr(i, j - i);
    i = j + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") return {};
    if (!out.empty()) out += '/';
    out += comp;
  }
  return out;
}

// ARCHIVE_WARN is not an error here: e.g. a UTF-8 name that cannot be
// converted to the C locale keeps its raw bytes, which is what we want.
bool NextHeader(struct archive* a, struct archive_entry** e, int* rc) {
  *rc = archive_read_next_header(a, e);
  return *rc == ARCHIVE_OK || *rc == ARCHIVE_WARN;
}

Result<ReadPtr> OpenLayer(const std::string& path) {
  ReadPtr a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Status(Code::kCorrupt, "open layer " + path + ": " + archive_error_string(a.get()));
  }
  return a;
}

// Removes NAME below DIRFD recursively without following symlinks.
void RemoveAt(int dirfd, const std::string& name) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    auto sub = OpenSubdir(dirfd, name);
    if (sub.ok()) {
      std::vector<std::string> names;
      (void)ForEachEntry(sub->get(), [&](std::string_view n, unsigned char) { names.emplace_back(n); });
      for (const auto& n : names) RemoveAt(sub->get(), n);
    }
    ::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR);
  } else {
    ::unlinkat(dirfd, name.c_str(), 0);
  }
}

// Applies the whiteouts of one layer to what the lower layers left in DEST.
Status ApplyWhiteouts(const std::string& layer_path, int destfd, UnpackStats& stats) {
  ASSIGN_OR_RETURN(ReadPtr a, OpenLayer(layer_path));
  struct archive_entry* e;
  int rc;
  while (NextHeader(a.get(), &e, &rc)) {
    std::string path = CleanPath(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (!base.starts_with(kWhiteoutPrefix)) continue;
    // The parent must be a real directory of DEST, never a symlink.
    auto d = dir.empty() ? OpenSubdir(destfd, ".") : OpenBeneath(destfd, dir, O_RDONLY | O_DIRECTORY);
    if (!d.ok()) continue;  // nothing below to hide
    if (base == kOpaque) {
      std::vector<std::string> names;
      (void)ForEachEntry(d->get(), [&](std::string_view n, unsigned char) { names.emplace_back(n); });
      for (const auto& n : names) RemoveAt(d->get(), n);
    } else {
      std::string target = base.substr(kWhiteoutPrefix.size());
      if (target.empty() || target == "." || target == "..") {
        ++stats.skipped;
        continue;
      }
      RemoveAt(d->get(), target);
    }
  }
  if (rc != ARCHIVE_EOF) {
    return Status(Code::kCorrupt, "read layer " + layer_path + ": " + archive_error_string(a.get()));
  }
  return Status::Ok();
}

Status ExtractLayer(const std::string& layer_path, const std::string& dest,
                    const UnpackOptions& options, UnpackStats& stats) {
  ASSIGN_OR_RETURN(ReadPtr a, OpenLayer(layer_path));
  ReadPtr w(archive_write_disk_new(), archive_write_free);
  int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
              ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK;
  if (::geteuid() == 0) flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(w.get(), flags);
  archive_write_disk_set_standard_lookup(w.get());
  struct archive_entry* e;
  int rc;
  while (NextHeader(a.get(), &e, &rc)) {
    if (++stats.entries > options.max_entries) {
      return Status::InvalidArgument("image has more than " + std::to_string(options.max_entries) +
                                     " entries");
    }
    std::string path = CleanPath(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
    if (path.empty()) continue;  // "./" itself
    std::string_view base = path;
    if (size_t s = path.rfind('/'); s != std::string::npos) base.remove_prefix(s + 1);
    if (base.starts_with(kWhiteoutPrefix)) continue;  // applied before extraction
    mode_t type = archive_entry_filetype(e);
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
      ++stats.skipped;
      continue;
    }
    archive_entry_set_pathname(e, (dest + "/" + path).c_str());
    if (const char* hl = archive_entry_hardlink(e); hl != nullptr) {
      std::string target = CleanPath(hl);
      if (target.empty()) {
        ++stats.skipped;
        continue;
      }
      archive_entry_set_hardlink(e, (dest + "/" + target).c_str());
    }
    bool content = type == AE_IFREG && ContentNeeded(path);
    if (type == AE_IFREG && !content) archive_entry_set_size(e, 0);
    if (content) {
      stats.content_bytes += static_cast<uint64_t>(archive_entry_size(e));
      if (stats.content_bytes > options.max_content_bytes) {
        return Status::InvalidArgument("image content to scan exceeds " +
                                       std::to_string(options.max_content_bytes) + " bytes");
      }
    }
    if (archive_write_header(w.get(), e) < ARCHIVE_WARN) {
      ++stats.skipped;  // e.g. a path through a symlink: refused, not fatal
      continue;
    }
    if (content) {
      const void* buf;
      size_t size;
      la_int64_t offset;
      int r;
      while ((r = archive_read_data_block(a.get(), &buf, &size, &offset)) == ARCHIVE_OK) {
        if (archive_write_data_block(w.get(), buf, size, offset) < ARCHIVE_WARN) break;
      }
      if (r < ARCHIVE_WARN) {
        return Status(Code::kCorrupt, "read layer " + layer_path + ": " + archive_error_string(a.get()));
      }
    }
    archive_write_finish_entry(w.get());
  }
  if (rc != ARCHIVE_EOF) {
    return Status(Code::kCorrupt, "read layer " + layer_path + ": " + archive_error_string(a.get()));
  }
  archive_write_close(w.get());
  return Status::Ok();
}

}  // namespace

bool ContentNeeded(std::string_view p) {
  if (p.starts_with("etc/")) return true;
  if (p == "var/lib/dpkg/status" || p.starts_with("var/lib/dpkg/status.d/")) return true;
  if (p.ends_with("apk/db/installed")) return true;
  if (p.ends_with("rpm/rpmdb.sqlite")) return true;
  std::string_view base = p.substr(p.rfind('/') == std::string_view::npos ? 0 : p.rfind('/') + 1);
  for (std::string_view n : {"METADATA", "PKG-INFO", "package.json", "version.json", "version.txt",
                             "cudnn_version.h", "nccl.h", "NvInferVersion.h"}) {
    if (base == n) return true;
  }
  if (base.ends_with(".egg-info")) return true;
  if (base.ends_with(".json") && p.find("/conda-meta/") != std::string_view::npos) return true;
  return false;
}

Result<UnpackStats> UnpackImageLayers(const std::string& layout_dir,
                                      const nlohmann::json& manifest_json, const std::string& dest,
                                      const UnpackOptions& options) {
  // libarchive checks every component of the target path for symlinks, so
  // DEST itself must be given without any.
  char real[PATH_MAX];
  if (::realpath(dest.c_str(), real) == nullptr) return Status::FromErrno(errno, "realpath", dest);
  std::string root = real;
  UniqueFd destfd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!destfd) return Status::FromErrno(errno, "open", root);
  auto layers = manifest_json.find("layers");
  if (layers == manifest_json.end() || !layers->is_array()) {
    return Status::Corrupt("manifest: no layers array");
  }
  UnpackStats stats;
  for (const auto& l : *layers) {
    ASSIGN_OR_RETURN(oci::Descriptor d, DescriptorFromJson(l));
    std::string path = BlobPath(layout_dir, d.digest);
    // A layer is trusted only once its content matches its digest.
    UniqueFd blob(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!blob) return Status::FromErrno(errno, "open layer", path);
    ASSIGN_OR_RETURN(std::string actual, Sha256OfFd(blob.get()));
    if (actual != d.digest) return Status::Corrupt("layer " + d.digest + ": digest mismatch");
    Status st = ApplyWhiteouts(path, destfd.get(), stats);
    if (st.ok()) st = ExtractLayer(path, root, options, stats);
    if (!st.ok()) return st.WithContext("unpack layer " + d.digest);
  }
  return stats;
}

}  // namespace ctrsnap::drift
