// The libfuse low-level operations table of ctrsnap-fs: each callback decodes
// its request, calls FsCore, and sends one reply. No filesystem logic here.
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

namespace ctrsnap::fs {

class FsCore;

struct FuseAdapterOptions {
  bool writeback_cache = true;
  double timeout_s = 86400.0;  // entry/attr cache: every change goes through us
};

// Userdata for fuse_session_new: REQUIRES: outlives the session.
struct FuseContext {
  FsCore* core = nullptr;
  FuseAdapterOptions options;
};

const fuse_lowlevel_ops& FuseOperations();

}  // namespace ctrsnap::fs
