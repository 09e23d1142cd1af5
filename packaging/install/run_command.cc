#include "packaging/install/run_command.h"

#include <unistd.h>

#include <cstdlib>

namespace ctrsnap::install {

std::string FindInPath(const std::string& name, const std::string& path_env) {
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  std::string path = path_env;
  if (path.empty()) {
    const char* p = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe)
    path = p != nullptr ? p : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  }
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find(':', pos);
    if (next == std::string::npos) next = path.size();
    std::string dir = path.substr(pos, next - pos);
    pos = next + 1;
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

Result<CommandResult> RunCommand(const std::vector<std::string>& argv) {
  if (argv.empty()) return Status::InvalidArgument("run: empty command");
  std::string program = FindInPath(argv[0]);
  if (program.empty()) return Status::NotFound(argv[0] + ": not found in PATH");
  std::vector<std::string> resolved = argv;
  resolved[0] = program;
  return RunProcess(resolved);
}

}  // namespace ctrsnap::install
