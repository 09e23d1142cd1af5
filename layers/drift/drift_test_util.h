// Test helpers: a private temp root filesystem that tests fill with package
// databases. Removed (recursively, no-follow) when the fixture goes away.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "common/file_util.h"

namespace ctrsnap::drift::testing {

class TempRoot {
 public:
  TempRoot() {
    std::string tmpl = "/tmp/ctrsnap-drift-test.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempRoot() { (void)RemoveTree(path_); }
  TempRoot(const TempRoot&) = delete;
  TempRoot& operator=(const TempRoot&) = delete;

  const std::string& path() const { return path_; }
  std::string Abs(const std::string& rel) const { return JoinPath(path_, rel); }

  void Write(const std::string& rel, const std::string& content, mode_t mode = 0644) const {
    std::string p = Abs(rel);
    ASSERT_TRUE(MakeDirs(p.substr(0, p.rfind('/'))).ok()) << p;
    ASSERT_TRUE(WriteFileAtomic(p, content, mode).ok()) << p;
  }
  void Mkdir(const std::string& rel) const { ASSERT_TRUE(MakeDirs(Abs(rel)).ok()); }
  void Symlink(const std::string& target, const std::string& rel) const {
    std::string p = Abs(rel);
    ASSERT_TRUE(MakeDirs(p.substr(0, p.rfind('/'))).ok()) << p;
    ASSERT_EQ(::symlink(target.c_str(), p.c_str()), 0) << p;
  }
  int OpenFd() const { return ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); }

 private:
  std::string path_;
};

// A pip-style dist-info folder: METADATA with Name/Version, RECORD, INSTALLER.
inline void AddDistInfo(const TempRoot& root, const std::string& site, const std::string& name,
                        const std::string& version) {
  std::string dir = site + "/" + name + "-" + version + ".dist-info";
  root.Write(dir + "/METADATA", "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version +
                                    "\nSummary: test package\n\nLong description\nVersion: 0\n");
  root.Write(dir + "/INSTALLER", "pip\n");
  root.Write(dir + "/RECORD", name + "/__init__.py,,\n");
}

}  // namespace ctrsnap::drift::testing
