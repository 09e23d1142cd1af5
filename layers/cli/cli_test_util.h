// Helpers for the end-to-end tests of the ctrsnap binary.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/file_util.h"

namespace ctrsnap::cli::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string CtrsnapBin() {
  const char* dir = std::getenv("CTRSNAP_BIN_DIR");
  return std::string(dir != nullptr ? dir : "bin") + "/ctrsnap";
}

// Runs `ctrsnap ARGS...` (no shell) with extra environment ENV ("K=V"),
// capturing stdout and stderr.
inline CliResult RunCtrsnap(const std::vector<std::string>& args,
                            const std::vector<std::string>& env = {}) {
  char out_tmpl[] = "/tmp/cli_out.XXXXXX";
  char err_tmpl[] = "/tmp/cli_err.XXXXXX";
  int out_fd = ::mkstemp(out_tmpl);
  int err_fd = ::mkstemp(err_tmpl);
  CliResult r;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> argv;
    std::string bin = CtrsnapBin();
    argv.push_back(bin.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  ::close(out_fd);
  ::close(err_fd);
  r.out = ReadFileToString(out_tmpl).value_or("");
  r.err = ReadFileToString(err_tmpl).value_or("");
  ::unlink(out_tmpl);
  ::unlink(err_tmpl);
  return r;
}

inline std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find('\n', i);
    if (j == std::string::npos) j = s.size();
    out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace ctrsnap::cli::testing
