#include "packaging/install/test_files.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "common/file_util.h"

namespace ctrsnap::install::testing {

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe)
  std::string templ = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/ctrsnap-pkg.XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() { (void)RemoveTree(path_); }

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  std::string p = Path(name);
  std::string dir = p.substr(0, p.rfind('/'));
  if (!MakeDirs(dir).ok() || !WriteFileAtomic(p, content).ok()) {
    throw std::runtime_error("cannot write " + p);
  }
  return p;
}

std::string TempDir::Read(const std::string& name) const {
  auto text = ReadFileToString(Path(name));
  return text.ok() ? *text : "<missing>";
}

bool TempDir::Exists(const std::string& name) const {
  return ::access(Path(name).c_str(), F_OK) == 0;
}

std::vector<std::string> TempDir::List(const std::string& prefix) const {
  std::vector<std::string> names;
  DIR* d = ::opendir(path_.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && n.starts_with(prefix)) names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace ctrsnap::install::testing
