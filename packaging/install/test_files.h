// Test helpers: a private temporary directory with real files in it.
#pragma once

#include <string>
#include <vector>

namespace ctrsnap::install::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }
  // Writes NAME (creating directories); returns its path.
  std::string Write(const std::string& name, const std::string& content) const;
  // The file's content, or "<missing>".
  std::string Read(const std::string& name) const;
  bool Exists(const std::string& name) const;
  // Names in the directory (not recursive) starting with PREFIX.
  std::vector<std::string> List(const std::string& prefix = "") const;

 private:
  std::string path_;
};

}  // namespace ctrsnap::install::testing
