// Access to files of a container's root filesystem given as a directory fd.
//
// Paths are resolved by the kernel *inside* the root (openat2 with
// RESOLVE_IN_ROOT): an absolute symlink such as /lib -> /usr/lib or
// /usr/lib64 -> /lib resolves against the container root, never against the
// host, and ".." cannot climb above it. Magic links (/proc/self/...) are
// refused. Directory walks never follow symlinks at all.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ctrsnap::drift {

// openat2(rootfd, path, flags, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS).
// PATH may be absolute ("/var/lib/dpkg/status"): it is taken relative to ROOTFD.
Result<UniqueFd> OpenInRoot(int rootfd, std::string_view path, int flags);

// Opens PATH below ROOTFD for reading if it is a regular file (never a FIFO
// or a device).
Result<UniqueFd> OpenRegularInRoot(int rootfd, std::string_view path);
// Reads a whole regular file below ROOTFD; files larger than MAX_BYTES are an error
// (kInvalidArgument), so a hostile database cannot exhaust memory.
Result<std::string> ReadFileInRoot(int rootfd, std::string_view path,
                                   size_t max_bytes = 256u << 20);
// Reads at most MAX_BYTES of an open file from its start.
Result<std::string> ReadPrefix(int fd, size_t max_bytes);

// Calls FN(name, d_type) for each entry of the directory DIRFD (not "." or
// ".."). DIRFD is not consumed; its offset is rewound first.
Status ForEachEntry(int dirfd, const std::function<void(std::string_view, unsigned char)>& fn);

// Opens NAME below DIRFD as a directory without following a symlink.
Result<UniqueFd> OpenSubdir(int dirfd, std::string_view name);
// Opens the regular file NAME below DIRFD read-only without following a
// symlink; FIFOs, devices and sockets are refused without being opened.
Result<UniqueFd> OpenFileNoFollow(int dirfd, std::string_view name);

// "sha256:<hex>" of the content of FD, streamed.
Result<std::string> Sha256OfFd(int fd);

}  // namespace ctrsnap::drift
