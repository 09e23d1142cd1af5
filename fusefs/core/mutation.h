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
  // Paths as the journal defines them (fusefs/journal/journal_entry.h): link:
  // path = new name, path2 = existing name; rename: path = from, path2 = to;
  // copy_file_range: path = destination, path2 = source; truncate: length =
  // new size.
  std::string path = {};  // container path ("/etc/passwd")
  std::string path2 = {};
  uint64_t ino = 0;   // FUSE-visible inode number
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t handle = 0;  // open file the write came through (for coalescing), 0: none
  uint32_t mode = 0;    // create/mkdir/mknod/chmod
  uint32_t rdev = 0;    // mknod
  uint32_t flags = 0;   // rename, setxattr, fallocate flags
  uint32_t owner_uid = UINT32_MAX;  // chown (UINT32_MAX: unchanged)
  uint32_t owner_gid = UINT32_MAX;
  std::string name = {};  // xattr name
  Caller caller = {};
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
  // The kernel flushed / released open file FH (ends write coalescing).
  virtual void OnHandleFlush(uint64_t fh) = 0;
  virtual void OnHandleRelease(uint64_t fh) = 0;
};

}  // namespace ctrsnap::fs
