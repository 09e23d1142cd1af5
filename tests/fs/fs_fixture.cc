#include "tests/fs/fs_fixture.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/control_client.h"
#include "common/file_util.h"
#include "common/state_layout.h"

namespace ctrsnap::fstest {
namespace {

constexpr long kFuseMagic = 0x65735546;

bool IsFuseMount(const std::string& p) {
  struct statfs sf;
  return ::statfs(p.c_str(), &sf) == 0 && sf.f_type == kFuseMagic;
}

std::string BinDir() {
  const char* b = std::getenv("CTRSNAP_BIN_DIR");
  return b ? b : "build/bin";
}

}  // namespace

Status WriteFile(const std::string& path, const std::string& data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return Status::FromErrno(errno, "open", path);
  return WriteAll(fd.get(), data);
}

std::string ReadFile(const std::string& path) {
  auto r = ReadFileToString(path);
  return r.ok() ? *r : std::string();
}

int Sh(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

MountedFs::MountedFs() {
  char t[] = "/tmp/ctrsnap-fstest-XXXXXX";
  if (::mkdtemp(t)) dir_ = t;
  ::chmod(dir_.c_str(), 0755);  // other uids must reach mnt/
  (void)MakeDirs(lower());
  (void)MakeDirs(mnt());
}

MountedFs::~MountedFs() {
  for (const auto& o : oracles_) ::umount2(o.c_str(), MNT_DETACH);
  if (pid_ > 0) {
    // A test that did not stop the daemon itself still learns how it exited.
    Status st = Stop();
    if (!st.ok()) ADD_FAILURE() << st.ToString();
  }
  if (pid_ > 0) Kill();
  if (!dir_.empty()) (void)RemoveTree(dir_);
}

std::string MountedFs::Upper(uint64_t gen) const {
  return plain_ ? dir_ + "/upper" : layout::UpperDir(state(), gen);
}

Status MountedFs::Start(bool plain) {
  plain_ = plain;
  std::string opts = "lowerdir=" + lower();
  if (plain) {
    RETURN_IF_ERROR(MakeDirs(dir_ + "/upper"));
    RETURN_IF_ERROR(MakeDirs(dir_ + "/work"));
    opts += ",upperdir=" + dir_ + "/upper,workdir=" + dir_ + "/work";
  } else {
    opts += ",state=" + state();
  }
  std::string bin = BinDir() + "/ctrsnap-fs";
  std::string log = dir_ + "/stderr.log";
  pid_ = ::fork();
  if (pid_ < 0) return Status::FromErrno(errno, "fork");
  if (pid_ == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) ::dup2(fd, 2);
    ::execl(bin.c_str(), bin.c_str(), "-f", "-o", opts.c_str(), mnt().c_str(),
            static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 500; ++i) {
    if (IsFuseMount(mnt())) return Status::Ok();
    int st;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Internal("ctrsnap-fs exited: " + ReadFile(log) + ReadFile(layout::DaemonLogPath(state())));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Internal("ctrsnap-fs did not mount in 10 s");
}

Status MountedFs::Stop() {
  if (pid_ <= 0) return Status::Ok();
  if (Sh("fusermount3 -u " + mnt() + " 2>/dev/null") != 0) {
    return Status::Internal("fusermount3 -u failed");
  }
  for (int i = 0; i < 500; ++i) {
    int st;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return Status::Ok();
      return Status::Internal("ctrsnap-fs exited with status " + std::to_string(st) + " after unmount: " +
                              ReadFile(dir_ + "/stderr.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Internal("ctrsnap-fs did not exit after unmount");
}

void MountedFs::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
  ::umount2(mnt().c_str(), MNT_DETACH);
}

Result<nlohmann::json> MountedFs::Seal(const std::string& label) {
  nlohmann::json req = {{"op", "seal"}};
  if (!label.empty()) req["label"] = label;
  return ControlCall(state(), req);
}

Result<std::string> MountedFs::MountOracle(uint64_t gen) {
  std::string lowers;
  for (uint64_t g = gen; g >= 1; --g) lowers += Upper(g) + ":";
  lowers += lower();
  std::string dir = dir_ + "/oracle" + std::to_string(oracles_.size());
  RETURN_IF_ERROR(MakeDirs(dir));
  std::string cmd = "mount -t overlay -o ro,redirect_dir=follow,metacopy=on,lowerdir=" + lowers +
                    " none " + dir;
  if (Sh(cmd) != 0) return Status::Internal("oracle mount failed: " + cmd);
  oracles_.push_back(dir);
  return dir;
}

std::string DescribeTree(const std::string& root, bool with_nlink) {
  std::map<std::string, std::string> lines;
  static thread_local std::map<std::string, std::string>* out;
  static thread_local size_t root_len;
  static thread_local bool nlink;
  out = &lines;
  root_len = root.size();
  nlink = with_nlink;
  ::nftw(
      root.c_str(),
      [](const char* path, const struct stat* st, int, struct FTW*) -> int {
        std::string rel = std::string(path).substr(root_len);
        if (rel.empty()) rel = "/";
        std::ostringstream l;
        l << std::oct << st->st_mode << std::dec << " " << st->st_uid << ":" << st->st_gid;
        if (S_ISREG(st->st_mode)) {
          l << " size=" << st->st_size;
          if (nlink) l << " nlink=" << st->st_nlink;
          std::string data = ReadFile(path);
          l << " hash=" << std::hash<std::string>()(data);
        } else if (S_ISLNK(st->st_mode)) {
          char buf[4096];
          ssize_t n = ::readlink(path, buf, sizeof(buf));
          l << " -> " << std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
        } else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
          l << " rdev=" << st->st_rdev;
        }
        if (!S_ISLNK(st->st_mode)) {
          char names[4096];
          ssize_t n = ::listxattr(path, names, sizeof(names));
          std::vector<std::string> xs;
          for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) {
            std::string name(names + i);
            if (name.rfind("trusted.overlay.", 0) == 0) continue;
            char val[4096];
            ssize_t vn = ::getxattr(path, name.c_str(), val, sizeof(val));
            xs.push_back(name + "=" + std::string(val, vn > 0 ? static_cast<size_t>(vn) : 0));
          }
          std::sort(xs.begin(), xs.end());
          for (auto& x : xs) l << " x:" << x;
        }
        (*out)[rel] = l.str();
        return 0;
      },
      64, FTW_PHYS);
  std::string all;
  for (auto& [k, v] : lines) all += k + " " + v + "\n";
  return all;
}

}  // namespace ctrsnap::fstest
