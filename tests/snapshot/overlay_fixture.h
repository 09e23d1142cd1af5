// Test fixture for snapshot integration tests: a ctrsnap-fs style state dir
// whose generations are written through a real kernel overlayfs mount
// (exactly what ctrsnap-fs stores), a busybox lower dir, and helpers to run
// ctrsnap and shell commands and to compare directory trees.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ctrsnap::testing {

struct ShResult {
  int rc = -1;
  std::string out;  // stdout and stderr together
};
// Runs COMMAND with bash -c; /usr/bin comes first on PATH (Debian's docker).
ShResult Sh(const std::string& command);

// path -> "type mode uid:gid size sha256-or-target" for every entry under DIR.
std::map<std::string, std::string> TreeListing(const std::string& dir);

class OverlayStateTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Mounts the merged view with the live generation as upper at mnt().
  void MountLive();
  // Mounts everything read-only (all generations over the lower) at view().
  void MountView();
  void Unmount();
  // Runs ctrsnap with ARGS; CTRSNAP_ROOT is private to the test.
  ShResult Ctrsnap(const std::string& args);
  uint64_t LiveGeneration() const;
  // Seals the live generation the way the daemon does (fs.json + new gen dirs).
  void SealByHand();

  std::string tmp_, lower_, state_, mnt_, view_;
  bool mounted_ = false;
  bool view_mounted_ = false;
};

// True when the kernel overlay can be mounted here (root, overlay module).
bool CanMountOverlay();

}  // namespace ctrsnap::testing
