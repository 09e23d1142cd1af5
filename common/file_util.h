// Small fd-based file helpers shared by every component.
//
// Paths that come from a container tree are never resolved with the host's
// symlinks: use OpenBeneath(), which refuses symlinks, magic links and "..".
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ctrsnap {

// openat2(dirfd, path, flags, mode, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
// RESOLVE_NO_MAGICLINKS). O_CLOEXEC is always added.
Result<UniqueFd> OpenBeneath(int dirfd, std::string_view path, int flags, mode_t mode = 0);

Result<std::string> ReadFileToString(const std::string& path);
Result<std::string> ReadFdToString(int fd);
Status WriteAll(int fd, std::string_view data);

// Publishes DATA at PATH atomically: write PATH.tmp.<pid>, fsync, rename,
// fsync the directory. A crash leaves the old file or the new one, never a mix.
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644);

// mkdir -p with MODE for the directories it creates.
Status MakeDirs(const std::string& path, mode_t mode = 0755);

// rm -rf that never follows symlinks and stays on one filesystem.
Status RemoveTree(const std::string& path);

std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace ctrsnap
