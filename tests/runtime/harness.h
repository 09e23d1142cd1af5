// Shared pieces of the runtime and end-to-end suites: a busybox-static root
// filesystem, a runc bundle, shell commands with captured output, and the
// ctrsnap config the wrapper under test reads.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctrsnap::testing {

struct CmdResult {
  int rc = -1;
  std::string out;  // stdout and stderr together
};

// Runs CMD with bash -c, with a timeout (seconds), capturing output.
CmdResult Sh(const std::string& cmd, int timeout_s = 120);

std::string Env(const char* name);  // "" when unset
std::string BinDir();     // $CTRSNAP_BIN_DIR, else build/bin beside the test
std::string SourceDir();  // $CTRSNAP_SOURCE_DIR
std::string MakeTempDir(const std::string& tag);

// ctrsnap-fs to test with: $CTRSNAP_TEST_FS_BINARY (e.g. the fuse-overlayfs
// stand-in tests/runtime/fake-ctrsnap-fs.sh), else BIN/ctrsnap-fs.
std::string FsBinary();
bool FsIsReal();

// A root filesystem with /bin/busybox and its applets as symlinks.
void MakeBusyboxRootfs(const std::string& dir);

// A runc bundle at DIR: rootfs/ + config.json from `runc spec`, terminal off,
// root writable unless READONLY, process args ARGS.
void MakeBundle(const std::string& dir, const std::vector<std::string>& args,
                bool readonly = false);
nlohmann::json ReadJson(const std::string& path);
void WriteJson(const std::string& path, const nlohmann::json& j);

// Generation upper dirs of STATE that hold PATH (relative to the root).
std::vector<std::string> GenerationsHolding(const std::string& state, const std::string& path);

// The top mount's fs type at PATH ("" if none).
std::string MountTypeAt(const std::string& path);

std::string ShellQuote(const std::string& s);

// Why the engine suites (real dockerd, containerd, registry) cannot run
// here, "" when they can: they need tests/services.sh's private services
// (CTRSNAP_TEST_SERVICES, from its env) and root.
std::string EngineSuiteUnavailable();
// Debian's docker client as a shell command (a newer one in /usr/local/bin
// shadows it and may refuse Debian's dockerd).
std::string DockerCommand();

}  // namespace ctrsnap::testing
