// RunRequestLoop: serves a FUSE session with a pool of threads in which the
// thread that has just answered a request is the one that reads the next.
//
// Why not libfuse's fuse_session_loop_mt: its workers all block in read(2) on
// /dev/fuse and the kernel wakes them first-in-first-out, so consecutive
// requests of one process land on a different, cold thread each time.
// Measured on a 2-vCPU VM (untar of 1.5k files): 16 workers cost 2.5x the
// daemon CPU time and 3-4x the wall time of 1 or 2 workers, for the same
// number of requests and context switches.
//
// Here exactly one thread at a time reads (the reader). A request that cannot
// block for long (lookup, getattr, xattrs, create, unlink, rename, ...) is
// answered by the reader itself, which then reads again: a sequential client
// is served by one hot thread, as by a single-threaded daemon. Before a
// request that may block (large reads and writes, fsync, fallocate,
// copy_file_range, an open for writing or a truncate that may copy a file up,
// readdir), the reader first hands reading over to the most recently idle
// thread (LIFO; a new thread while fewer than MAX_THREADS exist), so other
// requests are served meanwhile. Threads never exit before the session ends.
//
// Returns 0 when the session ended (unmount, or a signal handled by
// fuse_set_signal_handlers), -1 on a device error. Call from the main thread,
// with fuse_set_signal_handlers installed: the workers block SIGTERM, SIGINT,
// SIGHUP and SIGQUIT, and SIGUSR1 is used internally to interrupt the reader.
#pragma once

#include "fusefs/fuse/fuse_adapter.h"

namespace ctrsnap::fs {

int RunRequestLoop(fuse_session* se, unsigned max_threads);

// Whether a request with this header (and the start of its argument) may
// block long enough to hand reading over first. Exposed for tests.
bool RequestMayBlock(const void* buf, size_t len);

}  // namespace ctrsnap::fs
