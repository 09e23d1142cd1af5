// A real ctrsnap-fs mount for tests: a private temp dir with lower/, state/
// (or upper/ + work/) and mnt/, the daemon started in the foreground as a
// child (so tests know its pid), and unmounted + reaped at the end, also when
// a test fails.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ctrsnap::fstest {

// Writes DATA to PATH (creating it with MODE); aborts the test on error via
// the returned Status.
Status WriteFile(const std::string& path, const std::string& data, mode_t mode = 0644);
std::string ReadFile(const std::string& path);  // "" on error
// Runs a shell command, returns its exit status.
int Sh(const std::string& cmd);

class MountedFs {
 public:
  // Makes the temp dir and lower/ (fill it before Start()).
  MountedFs();
  ~MountedFs();
  MountedFs(const MountedFs&) = delete;
  MountedFs& operator=(const MountedFs&) = delete;

  // Starts ctrsnap-fs (state mode unless PLAIN) and waits for the mount.
  Status Start(bool plain = false);
  // fusermount3 -u and wait for the daemon to exit; an exit status other than 0
  // (under ASan: a sanitizer report at exit) is an error with its stderr.
  Status Stop();
  // kill -9 the daemon and clean up the dead mount.
  void Kill();

  // {"op":"seal","label":LABEL} through the control socket.
  Result<nlohmann::json> Seal(const std::string& label = "");

  const std::string& dir() const { return dir_; }
  std::string lower() const { return dir_ + "/lower"; }
  std::string mnt() const { return dir_ + "/mnt"; }
  std::string state() const { return dir_ + "/state"; }
  std::string M(const std::string& rel) const { return mnt() + "/" + rel; }
  std::string L(const std::string& rel) const { return lower() + "/" + rel; }
  std::string Upper(uint64_t gen) const;
  pid_t pid() const { return pid_; }

  // Mounts a read-only kernel overlay of generations 1..GEN over lower at a
  // new directory and returns it (unmounted by the destructor).
  Result<std::string> MountOracle(uint64_t gen);

 private:
  std::string dir_;
  pid_t pid_ = -1;
  bool plain_ = false;
  std::vector<std::string> oracles_;
};

// A canonical text listing of a tree: one line per entry with type, mode,
// uid, gid, size, nlink (files), content hash (files), link target, xattrs
// (user.* and security.*). Sorted by path. For comparing two trees.
std::string DescribeTree(const std::string& root, bool with_nlink = true);

}  // namespace ctrsnap::fstest
