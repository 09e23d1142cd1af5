#include "tests/runtime/harness.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "shim/fs_daemon.h"

namespace ctrsnap::testing {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

CmdResult Sh(const std::string& cmd, int timeout_s) {
  // Output goes to a file, not a pipe: a detached container inherits the
  // command's stdio and would hold a pipe open long after the command ended.
  char out_path[] = "/tmp/ctrsnap-sh-XXXXXX";
  int fd = ::mkstemp(out_path);
  CmdResult r;
  if (fd < 0) return r;
  ::close(fd);
  std::string full = "timeout -k 5 " + std::to_string(timeout_s) + " bash -c " + ShellQuote(cmd) +
                     " >" + out_path + " 2>&1 </dev/null";
  int status = std::system(full.c_str());  // NOLINT(concurrency-mt-unsafe): tests are serial
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(out_path);
  std::stringstream ss;
  ss << in.rdbuf();
  r.out = ss.str();
  ::unlink(out_path);
  return r;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return v != nullptr ? v : "";
}

std::string EngineSuiteUnavailable() {
  if (Env("CTRSNAP_TEST_SERVICES").empty()) {
    return "CTRSNAP_TEST_SERVICES unset: start tests/services.sh and eval its env";
  }
  if (::geteuid() != 0) return "needs root";
  return "";
}

std::string DockerCommand() { return "PATH=/usr/sbin:/usr/bin:$PATH docker"; }

std::string BinDir() {
  std::string d = Env("CTRSNAP_BIN_DIR");
  return d.empty() ? "build/bin" : d;
}
std::string SourceDir() {
  std::string d = Env("CTRSNAP_SOURCE_DIR");
  return d.empty() ? "." : d;
}

std::string MakeTempDir(const std::string& tag) {
  std::string tmpl = "/tmp/ctrsnap-" + tag + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  ::chmod(tmpl.c_str(), 0755);
  return tmpl;
}

std::string FsBinary() {
  std::string f = Env("CTRSNAP_TEST_FS_BINARY");
  return f.empty() ? BinDir() + "/ctrsnap-fs" : f;
}
bool FsIsReal() { return Env("CTRSNAP_TEST_FS_BINARY").empty(); }

void MakeBusyboxRootfs(const std::string& dir) {
  CmdResult r = Sh("set -e; mkdir -p " + dir + "/bin " + dir + "/etc " + dir + "/tmp " + dir +
                   "/root; cp /bin/busybox " + dir + "/bin/busybox; cd " + dir +
                   "/bin; for a in $(./busybox --list); do [ \"$a\" = busybox ] || ln -sf busybox $a; done;"
                   " echo 'root:x:0:0:root:/root:/bin/sh' > ../etc/passwd; echo 'root:x:0:' > ../etc/group");
  if (r.rc != 0) {
    std::fprintf(stderr, "MakeBusyboxRootfs: %s\n", r.out.c_str());
    std::abort();
  }
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str(), nullptr, false);
}

void WriteJson(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2);
}

void MakeBundle(const std::string& dir, const std::vector<std::string>& args, bool readonly) {
  MakeBusyboxRootfs(dir + "/rootfs");
  CmdResult r = Sh("cd " + dir + " && rm -f config.json && runc spec");
  if (r.rc != 0) {
    std::fprintf(stderr, "runc spec: %s\n", r.out.c_str());
    std::abort();
  }
  nlohmann::json spec = ReadJson(dir + "/config.json");
  spec["process"]["terminal"] = false;
  spec["process"]["args"] = args;
  spec["root"]["readonly"] = readonly;
  WriteJson(dir + "/config.json", spec);
}

std::vector<std::string> GenerationsHolding(const std::string& state, const std::string& path) {
  std::vector<std::string> out;
  for (int g = 1; g < 1000; ++g) {
    std::string gen = state + "/gen/" + std::to_string(g);
    struct stat st{};
    if (::stat(gen.c_str(), &st) != 0) {
      if (g > 8) break;
      continue;
    }
    if (::lstat((gen + "/upper/" + path).c_str(), &st) == 0) out.push_back(gen);
  }
  return out;
}

std::string MountTypeAt(const std::string& path) { return shim::TopMountType(path); }

}  // namespace ctrsnap::testing
