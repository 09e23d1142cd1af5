// ScratchDir: one private directory per fuzzer process for targets that must
// put their input on a real file system; removed when the process exits
// normally (libFuzzer exits after -max_total_time / -runs). tmpfs when
// available (fast, and it keeps user.* xattrs).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace ctrsnap::fuzz {

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name) {
    namespace fs = std::filesystem;
    std::string base = fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    path_ = base + "/ctrsnap-" + name + "." + std::to_string(::getpid());
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ctrsnap::fuzz
