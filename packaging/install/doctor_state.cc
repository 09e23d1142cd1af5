// State directory checks: filesystem type, free space, trusted.* xattrs
// (overlayfs upper format needs them), reflink.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/file_util.h"
#include "common/unique_fd.h"
#include "packaging/install/doctor.h"

namespace ctrsnap::install {
namespace {

std::string Gib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1ULL << 30));
  return buf;
}

// The state root if it exists, else its nearest existing ancestor.
std::string ExistingAncestor(std::string path) {
  while (!path.empty() && ::access(path.c_str(), F_OK) != 0) {
    size_t slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
    if (slash == std::string::npos) return ".";
  }
  return path.empty() ? "/" : path;
}

// A temporary file in DIR, unlinked when the handle goes.
struct TempFile {
  UniqueFd fd;
  explicit TempFile(const std::string& dir) {
    fd.reset(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  }
};

CheckResult CheckXattr(const std::string& dir) {
  CheckResult r{"state xattrs", CheckLevel::kOk, "", ""};
  // O_TMPFILE files cannot take xattrs through fsetxattr on every fs: use a named file.
  std::string path = dir + "/.ctrsnap-doctor." + std::to_string(::getpid());
  UniqueFd fd(::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) {
    r.level = CheckLevel::kWarn;
    r.message = "cannot create a file in " + dir + ": " + std::strerror(errno);
    r.fix = "run doctor as root";
    return r;
  }
  int rc = ::fsetxattr(fd.get(), "trusted.ctrsnap.doctor", "y", 1, 0);
  int err = errno;
  ::unlink(path.c_str());
  if (rc == 0) {
    r.message = dir + " takes trusted.* xattrs (overlay upper format)";
  } else if (err == EPERM) {
    r.level = CheckLevel::kWarn;
    r.message = "trusted.* xattrs need CAP_SYS_ADMIN (not root?)";
    r.fix = "run doctor as root";
  } else {
    r.level = CheckLevel::kFail;
    r.message = dir + " does not take trusted.* xattrs: " + std::strerror(err);
    r.fix = "put state_root on ext4, xfs, btrfs or tmpfs (config.json \"state_root\" or CTRSNAP_ROOT)";
  }
  return r;
}

CheckResult CheckReflink(const std::string& dir) {
  CheckResult r{"state reflink", CheckLevel::kOk, "", ""};
  TempFile a(dir), b(dir);
  if (!a.fd || !b.fd) {
    r.level = CheckLevel::kWarn;
    r.message = "cannot create temporary files in " + dir + ": " + std::strerror(errno);
    return r;
  }
  char block[4096];
  std::memset(block, 'c', sizeof block);
  if (!WriteAll(a.fd.get(), std::string_view(block, sizeof block)).ok()) {
    r.level = CheckLevel::kWarn;
    r.message = "cannot write in " + dir;
    return r;
  }
  if (::ioctl(b.fd.get(), FICLONE, a.fd.get()) == 0) {
    r.message = "FICLONE works: copy-up of large files shares blocks";
  } else {
    r.level = CheckLevel::kNote;
    r.message = std::string("no reflink (") + std::strerror(errno) +
                "): copy-up copies whole files; xfs or btrfs make it cheap";
  }
  return r;
}

}  // namespace

std::string FsTypeName(int64_t t) {
  switch (static_cast<uint64_t>(t)) {
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x6969: return "nfs";
    case 0xFE534D42: return "smb2";
    case 0xFF534D42: return "cifs";
    case 0x794C7630: return "overlayfs";
    case 0x65735546: return "fuse";
    case 0x2FC12FC1: return "zfs";
    case 0xF2F52010: return "f2fs";
    case 0x858458F6: return "ramfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(t));
      return buf;
    }
  }
}

std::vector<CheckResult> CheckStateDir(const DoctorOptions& o) {
  std::vector<CheckResult> out;
  const std::string root = o.config.state_root;
  const std::string dir = ExistingAncestor(root);
  struct statfs sfs;
  if (::statfs(dir.c_str(), &sfs) != 0) {
    out.push_back({"state dir", CheckLevel::kFail,
                   "statfs " + dir + ": " + std::strerror(errno), ""});
    return out;
  }
  const std::string type = FsTypeName(static_cast<int64_t>(sfs.f_type));
  CheckResult fs{"state dir", CheckLevel::kOk, root + " on " + type, ""};
  if (dir != root) fs.message += " (does not exist yet: " + dir + " checked)";
  if (type == "nfs" || type == "cifs" || type == "smb2" || type == "fuse" ||
      type == "overlayfs") {
    fs.level = CheckLevel::kFail;
    fs.message += ": overlayfs cannot use an upper directory on " + type;
    fs.fix = "set \"state_root\" in " + o.config_path + " to a directory on ext4, xfs, btrfs or tmpfs";
  } else if (type != "ext4" && type != "xfs" && type != "btrfs" && type != "tmpfs") {
    fs.level = CheckLevel::kWarn;
    fs.message += ": untested filesystem (ext4, xfs, btrfs and tmpfs are known to work)";
  }
  out.push_back(std::move(fs));

  const uint64_t free_bytes = static_cast<uint64_t>(sfs.f_bavail) * sfs.f_bsize;
  CheckResult space{"state space", CheckLevel::kOk, Gib(free_bytes) + " free in " + dir, ""};
  if (free_bytes < o.min_free_bytes) {
    space.level = CheckLevel::kWarn;
    space.message += " (under " + Gib(o.min_free_bytes) + ")";
    space.fix = "ctrsnap gc, or move state_root to a larger filesystem";
  }
  out.push_back(std::move(space));
  out.push_back(CheckXattr(dir));
  out.push_back(CheckReflink(dir));
  return out;
}

}  // namespace ctrsnap::install
