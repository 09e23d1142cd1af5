// What the core tells the journal about each mutating operation.
//
// The core knows nothing about the journal's format: it calls a MutationSink
// (fusefs/fuse binds it to ChangeJournal). Record() is called after the
// operation succeeded, while the epoch lock is still held, so every record
// carries the generation the change landed in.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace ctrsnap::fs {

enum class MutationOp : uint8_t {
  kCreate,
  kMkdir,
  kMknod,
  kSymlink,
  kLink,
  kUnlink,
  kRmdir,
  kRename,
  kWrite,
  kTruncate,
  kChmod,
  kChown,
  kUtimes,
  kSetxattr,
  kRemovexattr,
  kFallocate,
  kCopyFileRange,
};

std::string_view MutationOpName(MutationOp op);

// The process on whose behalf the kernel sent a request.
struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  mode_t umask = 022;
};

struct Mutation {
  MutationOp op = MutationOp::kWrite;
  uint64_t generation = 0;
  std::string path;   // container path ("/etc/passwd")
  std::string path2;  // rename: destination; link: the new name
  uint64_t ino = 0;   // FUSE-visible inode number
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t handle = 0;  // open file the write came through (for coalescing), 0: none
  Caller caller;
};

class MutationSink {
 public:
  virtual ~MutationSink() = default;
  // REQUIRES: fast and non-blocking (called on the request path).
  virtual void Record(const Mutation& m) = 0;
  // Called under the seal lock after the generation switch.
  virtual void OnSeal(uint64_t sealed, uint64_t live) = 0;
  // Persist everything recorded so far.
  virtual void Flush() = 0;
};

}  // namespace ctrsnap::fs
