// `ctrsnap demo`: one run of the whole product on this machine, with plain
// runc (no engine needed): a container started through ctrsnap-runtime does
// what a training job does, two snapshots are taken while it runs, and the
// second snapshot is started to show that the work survived and the cache and
// the API key did not.
#pragma once

#include <string>

#include "common/status.h"

namespace ctrsnap::demo {

struct DemoOptions {
  std::string bin_dir;   // where ctrsnap, ctrsnap-runtime, ctrsnap-fs, ctrsnap-hook are
  std::string work_dir;  // scratch root; "" = a new /var/tmp/ctrsnap-demo-XXXXXX
  bool keep = false;     // keep the scratch directory (snapshots, state) afterwards
};

// Runs the demo, printing each step. Cleans up containers, mounts and (unless
// keep) the scratch directory, also when a step fails.
Status RunDemo(const DemoOptions& options);

}  // namespace ctrsnap::demo
