// A private temporary directory for a test, removed with everything in it.
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "common/file_util.h"

namespace ctrsnap::gpu {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/ctrsnap-gpu-test.XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    path_ = p ? p : "";
  }
  ~TempDir() {
    if (!path_.empty()) (void)RemoveTree(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Write(const std::string& rel, const std::string& text, mode_t mode = 0644) const {
    std::string p = path_ + "/" + rel;
    (void)MakeDirs(p.substr(0, p.rfind('/')));
    (void)WriteFileAtomic(p, text, mode);
    return p;
  }

 private:
  std::string path_;
};

}  // namespace ctrsnap::gpu
