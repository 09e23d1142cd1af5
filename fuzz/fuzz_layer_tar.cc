// Tar writing from arbitrary names and attributes (layers/lib/layer_writer.h).
// The input describes up to 12 entries (type, name bytes, parent, mode, owner,
// mtime, a user.* xattr, data or link target); they are created in a fresh
// generation directory on tmpfs, the layer is written with WriteLayer, and
// the tar is read back with libarchive's reader. Every entry must come back
// with its name, type, permission bits, owner, size/data, link target and
// xattrs; nothing else may appear; names reserved for whiteouts (".wh.") must
// never be emitted for a container's own files (they would delete files when
// the layer is applied).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "common/file_filter.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/scratch_dir.h"
#include "layers/lib/byte_sink.h"
#include "layers/lib/change_set.h"
#include "layers/lib/layer_writer.h"
#include "layers/lib/overlay_stack.h"

namespace fs = std::filesystem;
namespace ly = ctrsnap::layers;

namespace {

struct Want {
  char type;  // 'f' 'd' 'l' 'h' 'p'
  std::string rel;
  mode_t perm = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string data;  // file bytes
  std::string link;  // symlink target, or hard link target's rel path
  std::map<std::string, std::string> xattrs;
};

struct Got {
  char type = '?';
  mode_t perm = 0;
  int64_t uid = 0, gid = 0;
  std::string data, link;
  std::map<std::string, std::string> xattrs;
};

const std::string& Base() {
  static ctrsnap::fuzz::ScratchDir dir("fuzz_layer_tar");
  return dir.path();
}

std::string CleanName(std::string s) {
  for (char& c : s) {
    if (c == '/' || c == '\0') c = '_';
  }
  if (s.size() > 255) s.resize(255);
  if (s.empty() || s == "." || s == "..") s = "n";
  return s;
}

std::map<std::string, Got> ReadBack(const std::string& tar) {
  std::map<std::string, Got> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  FUZZ_CHECK(archive_read_open_memory(a, tar.data(), tar.size()) == ARCHIVE_OK, "open: %s",
             archive_error_string(a));
  struct archive_entry* e;
  int r;
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    std::string path = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    while (!path.empty() && path.back() == '/') path.pop_back();
    Got g;
    const char* hl = archive_entry_hardlink(e);
    mode_t ft = archive_entry_filetype(e);
    if (hl) {
      g.type = 'h';
      g.link = hl;
    } else if (ft == AE_IFREG) {
      g.type = 'f';
    } else if (ft == AE_IFDIR) {
      g.type = 'd';
    } else if (ft == AE_IFLNK) {
      g.type = 'l';
      g.link = archive_entry_symlink(e) ? archive_entry_symlink(e) : "";
    } else if (ft == AE_IFIFO) {
      g.type = 'p';
    }
    g.perm = archive_entry_perm(e);
    g.uid = archive_entry_uid(e);
    g.gid = archive_entry_gid(e);
    archive_entry_xattr_reset(e);
    const char* name;
    const void* value;
    size_t size;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      g.xattrs[name] = std::string(static_cast<const char*>(value), size);
    }
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) g.data.append(buf, n);
    FUZZ_CHECK(n == 0, "data of %s: %s", path.c_str(), archive_error_string(a));
    FUZZ_CHECK(out.count(path) == 0, "entry '%s' twice", path.c_str());
    if (g.type == 'h') {
      auto t = out.find(g.link);
      FUZZ_CHECK(t != out.end() && t->second.type == 'f',
                 "hard link '%s' -> '%s': no earlier regular file of that name", path.c_str(),
                 g.link.c_str());
    }
    out[path] = std::move(g);
  }
  FUZZ_CHECK(r == ARCHIVE_EOF, "tar does not read back: %s", archive_error_string(a));
  archive_read_free(a);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  std::error_code ec;
  fs::remove_all(Base() + "/upper", ec);
  fs::remove_all(Base() + "/lower", ec);
  const std::string upper = Base() + "/upper", lower = Base() + "/lower";
  fs::create_directories(upper);
  fs::create_directories(lower);

  std::vector<Want> wants;
  std::vector<size_t> dirs;  // indices of directories in wants
  size_t n = p.ConsumeIntegralInRange<size_t>(1, 12);
  for (size_t i = 0; i < n && p.remaining_bytes() > 0; ++i) {
    Want w;
    static const char kTypes[] = {'f', 'f', 'd', 'd', 'l', 'h', 'p'};
    w.type = kTypes[p.ConsumeIntegralInRange<size_t>(0, sizeof(kTypes) - 1)];
    std::string name = CleanName(p.ConsumeRandomLengthString(300));
    std::string parent;
    if (!dirs.empty() && p.ConsumeBool()) {
      parent = wants[dirs[p.ConsumeIntegralInRange<size_t>(0, dirs.size() - 1)]].rel + "/";
    }
    w.rel = parent + name;
    if (w.rel.size() > 3000) continue;
    bool dup = false;
    for (const auto& o : wants) dup |= o.rel == w.rel;
    if (dup) continue;
    w.perm = p.ConsumeIntegral<uint16_t>() & 07777;
    if (w.type == 'd') w.perm |= 0700;  // so that we can create entries inside
    w.uid = p.ConsumeIntegralInRange<uint32_t>(0, 1u << 31);
    w.gid = p.ConsumeIntegralInRange<uint32_t>(0, 1u << 31);
    std::string path = upper + "/" + w.rel;
    int rc = 0;
    switch (w.type) {
      case 'f': {
        w.data = p.ConsumeRandomLengthString(2000);
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
        if (fd < 0) continue;
        rc = ::write(fd, w.data.data(), w.data.size()) == static_cast<ssize_t>(w.data.size())
                 ? 0
                 : -1;
        ::close(fd);
        break;
      }
      case 'd':
        rc = ::mkdir(path.c_str(), 0700);
        break;
      case 'p':
        rc = ::mkfifo(path.c_str(), 0600);
        break;
      case 'l': {
        w.link = p.ConsumeRandomLengthString(400);
        for (char& c : w.link) {
          if (c == '\0') c = '_';
        }
        if (w.link.empty()) w.link = "x";
        rc = ::symlink(w.link.c_str(), path.c_str());
        break;
      }
      case 'h': {
        const Want* target = nullptr;
        for (const auto& o : wants) {
          if (o.type == 'f' && o.link.empty()) target = &o;
        }
        if (!target) continue;
        w.link = target->rel;
        rc = ::link((upper + "/" + target->rel).c_str(), path.c_str());
        break;
      }
    }
    if (rc != 0) continue;
    if (w.type == 'h') {
      wants.push_back(w);  // shares the target's inode: attributes are the target's
      continue;
    }
    if (p.ConsumeBool() && w.type != 'l') {
      std::string xname = "user." + CleanName(p.ConsumeRandomLengthString(40));
      std::string xval = p.ConsumeRandomLengthString(200);
      // Names with bytes outside 33..126, '%' or '=' cannot be stored in a PAX
      // xattr record unchanged: the writer leaves such xattrs out (reported
      // in LayerStats::excluded).
      bool storable = true;
      for (unsigned char c : xname) storable &= c >= 33 && c <= 126 && c != '%' && c != '=';
      if (xname.rfind("user.overlay.", 0) != 0 && xname.size() < 255 &&
          ::lsetxattr(path.c_str(), xname.c_str(), xval.data(), xval.size(), 0) == 0) {
        if (storable) w.xattrs[xname] = xval;
      }
    }
    if (::lchown(path.c_str(), w.uid, w.gid) != 0) {
      w.uid = 0;
      w.gid = 0;
      FUZZ_CHECK(::lchown(path.c_str(), 0, 0) == 0 || ::geteuid() != 0, "lchown");
    }
    if (w.type != 'l') FUZZ_CHECK(::chmod(path.c_str(), w.perm) == 0, "chmod %s", path.c_str());
    if (w.type == 'l') w.perm = 0777;
    if (w.type == 'd') dirs.push_back(wants.size());
    wants.push_back(std::move(w));
  }
  if (::geteuid() != 0) {
    for (auto& w : wants) w.uid = ::geteuid(), w.gid = ::getegid();
  }
  // Hard links carry their target's attributes (same inode).
  for (auto& w : wants) {
    if (w.type != 'h') continue;
    for (const auto& t : wants) {
      if (t.rel == w.link) {
        w.perm = t.perm, w.uid = t.uid, w.gid = t.gid, w.xattrs = t.xattrs, w.data = t.data;
      }
    }
  }

  auto stack = ly::OverlayStack::Open({upper, lower});
  FUZZ_CHECK(stack.ok(), "OverlayStack::Open: %s", stack.status().ToString().c_str());
  auto root = ly::BuildChangeSet(*stack, {0});
  FUZZ_CHECK(root.ok(), "BuildChangeSet: %s", root.status().ToString().c_str());
  ctrsnap::KeepAllFilter keep;
  ly::LayerWriterOptions o;
  o.filter = &keep;
  o.exclude_runtime_files = false;
  ly::StringSink sink;
  auto stats = ly::WriteLayer(*stack, **root, o, &sink);
  FUZZ_CHECK(stats.ok(), "WriteLayer: %s", stats.status().ToString().c_str());

  std::map<std::string, Got> got = ReadBack(sink.data());
  for (const auto& [path, g] : got) {
    std::string base = path.substr(path.rfind('/') + 1);
    FUZZ_CHECK(base.rfind(".wh.", 0) != 0, "container file emitted as whiteout name '%s'",
               path.c_str());
  }
  // Excluded: entries the writer reported leaving out (with a reason).
  auto excluded = [&](const std::string& rel) {
    for (const auto& x : stats->excluded) {
      // "/REL: why"; xattr notes ("/REL: xattr left out ...") keep the entry.
      std::string prefix = "/" + rel + ": ";
      if (x.size() > prefix.size() && x.compare(0, prefix.size(), prefix) == 0 &&
          x.compare(prefix.size(), 14, "xattr left out") != 0) {
        return true;
      }
    }
    return false;
  };
  size_t matched = 0;
  for (const auto& w : wants) {
    auto it = got.find(w.rel);
    if (it == got.end()) {
      bool under_excluded = false;
      for (const auto& o2 : wants) {
        if (excluded(o2.rel) && w.rel.rfind(o2.rel + "/", 0) == 0) under_excluded = true;
      }
      FUZZ_CHECK(excluded(w.rel) || under_excluded, "entry '%s' (%c) missing from the tar",
                 w.rel.c_str(), w.type);
      continue;
    }
    ++matched;
    const Got& g = it->second;
    // A hard link pair: either member may carry the data (the writer picks).
    if (w.type == 'h' || (w.type == 'f' && g.type == 'h')) {
      FUZZ_CHECK(g.type == 'h' || g.type == 'f', "'%s': hard link became '%c'", w.rel.c_str(),
                 g.type);
    } else {
      FUZZ_CHECK(g.type == w.type, "'%s': type '%c' came back as '%c'", w.rel.c_str(), w.type,
                 g.type);
    }
    FUZZ_CHECK(g.perm == w.perm, "'%s': mode %o came back as %o", w.rel.c_str(), w.perm, g.perm);
    FUZZ_CHECK(g.uid == w.uid && g.gid == w.gid, "'%s': owner %u:%u came back as %lld:%lld",
               w.rel.c_str(), w.uid, w.gid, static_cast<long long>(g.uid),
               static_cast<long long>(g.gid));
    if (g.type == 'f') FUZZ_CHECK(g.data == w.data, "'%s': data differs", w.rel.c_str());
    if (g.type == 'l') {
      FUZZ_CHECK(g.link == w.link, "'%s': symlink target differs", w.rel.c_str());
    }
    if (g.type != 'h' && g.xattrs != w.xattrs) {
      auto show = [](const std::map<std::string, std::string>& m) {
        std::string out;
        for (const auto& [k, v] : m) {
          out += "[" + k + "] (" + std::to_string(k.size()) + " bytes) = " +
                 std::to_string(v.size()) + " bytes; ";
        }
        return out;
      };
      FUZZ_CHECK(false, "'%s': xattrs differ: wrote %s read %s", w.rel.c_str(),
                 show(w.xattrs).c_str(), show(g.xattrs).c_str());
    }
  }
  FUZZ_CHECK(matched == got.size(), "the tar holds %zu entries, %zu expected", got.size(),
             matched);
  return 0;
}
