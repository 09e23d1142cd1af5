// `ctrsnap demo`: one run of the whole product on this machine: a container
// started through ctrsnap-runtime does what a training job does, two
// snapshots are taken while it runs, and the second snapshot is started to
// show that the work survived and the cache and the API key did not.
// Two engines tell the same story: plain runc (no engine needed; the bundle,
// runc root and ctrsnap state all in a scratch directory) and Docker (the
// daemon DOCKER_HOST names, with ctrsnap-runtime registered as "ctrsnap"; the
// snapshots are loaded into Docker and the container is removed before a last,
// post-mortem snapshot).
#pragma once

#include <string>

#include "common/status.h"

namespace ctrsnap::demo {

enum class DemoEngine { kRunc, kDocker };

struct DemoOptions {
  // "runc", "docker", or "auto": Docker when a daemon answers and has the
  // ctrsnap runtime registered, else runc.
  std::string engine = "auto";
  std::string bin_dir;   // where ctrsnap, ctrsnap-runtime, ctrsnap-fs, ctrsnap-hook are
  std::string work_dir;  // scratch root; "" = a new /var/tmp/ctrsnap-demo-XXXXXX
  bool keep = false;     // keep the scratch directory (snapshots, state) afterwards
};

// Runs the demo, printing each step. Cleans up containers, mounts and (unless
// keep) the scratch directory, also when a step fails.
Status RunDemo(const DemoOptions& options);

// Resolves options.engine; "auto" asks Docker (quietly) and says what it chose.
Result<DemoEngine> ChooseEngine(const DemoOptions& options);

// The Docker mode (demo_docker.cc).
Status RunDockerDemo(const DemoOptions& options);

}  // namespace ctrsnap::demo
