// Helpers shared by the fault-injection (tests/faults) and hostile-container
// (tests/hostile) suites: running the built `ctrsnap` against a ctrsnap-fs
// state directory, unpacking its output with an independent tool (umoci),
// and checking that a snapshot store holds only complete snapshots.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tests/snapshot/overlay_fixture.h"

namespace ctrsnap::faulttest {

using testing::ShResult;

// Runs `ctrsnap ARGS` with CTRSNAP_ROOT and CTRSNAP_CONFIG private to DIR.
ShResult Ctrsnap(const std::string& dir, const std::string& args);

struct Snap {
  int rc = -1;
  std::string out;       // stdout + stderr
  nlohmann::json json;   // the --json result when rc == 0
  std::string rootfs;    // the image unpacked by umoci when rc == 0
};

// `ctrsnap snapshot --state STATE -o DIR/layout-N --tag t:N --json EXTRA`,
// then `umoci unpack` of that image into DIR/bundle-N.
Snap SnapshotAndUnpack(const std::string& dir, const std::string& state, int n,
                       const std::string& extra = "");

// Every snapshot recorded in STATE/snapshots is complete: its manifest,
// config and layer blobs are there and hash to their digests, and records
// are numbered 1..N without gaps.
Status VerifySnapshotStore(const std::string& state);

// Sends signal 0: true while PID exists (and is not a reaped zombie of ours).
bool Alive(pid_t pid);

// The bytes of every regular file in the tree at ROOT, concatenated with
// their paths (for "does the canary appear anywhere" checks); also every
// symlink target.
bool TreeContains(const std::string& root, const std::string& needle);

// Every regular file's content in every layer tar of the image at LAYOUT
// (any tag): true when NEEDLE appears in a decompressed layer.
bool LayoutContains(const std::string& layout, const std::string& needle);

// One entry of a layer tar, read back with libarchive.
struct LayerEntry {
  mode_t type = 0;        // S_IFREG, S_IFDIR, ...
  int64_t size = 0;
  std::string data;       // regular files up to 1 MiB
  std::string symlink;
  std::string hardlink;
  dev_t rdev = 0;
};

// The entries of the layer blob DIGEST in the OCI layout LAYOUT, by name.
Result<std::map<std::string, LayerEntry>> ReadLayer(const std::string& layout,
                                                    const std::string& digest);

}  // namespace ctrsnap::faulttest
