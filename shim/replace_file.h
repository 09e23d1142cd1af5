// ReplaceFile: atomic replace without fsync, for files on the container
// start path (the bundle's config.json, container.json, config.orig.json).
//
// Readers see the old file or the new one, never a mix (temp file + rename),
// but a host crash may lose the new content: acceptable for these files,
// which the next create rewrites, and it keeps two fsyncs per file (tens of
// ms on the journal-less ext4 of this project's machines) off every start.
// Use WriteFileAtomic (common/file_util.h) for data that must survive a crash.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace ctrsnap::shim {

Status ReplaceFile(const std::string& path, std::string_view data, mode_t mode);

}  // namespace ctrsnap::shim
