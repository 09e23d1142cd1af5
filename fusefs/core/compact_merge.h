// MergeGenerations: folds several overlayfs upper directories (consecutive
// sealed generations) into one, so that
//     overlay(lowerdir = OUT : BELOW...)  ==  overlay(lowerdir = RANGE... : BELOW...)
// (the point-in-time oracle of the newest generation in RANGE still holds).
//
// Rules (overlayfs lookup semantics, applied top-down per directory):
//   - a non-directory is hard-linked from the newest generation that has it
//     (no data is copied; hard links within a generation keep their identity);
//   - a whiteout is kept only when BELOW has an entry at that name (whatever
//     it is); one over an entry of an older generation of RANGE is dropped;
//   - a directory is created new, with the attributes and xattrs of its newest
//     copy; it is made opaque when the lookup stops inside RANGE (an opaque
//     copy, or a whiteout/non-directory under it), and gets an absolute
//     redirect when RANGE renamed it (the lookup continues in BELOW elsewhere);
//   - a metacopy file (metadata-only copy-up) whose data lies in an older
//     generation of RANGE is materialised (data copied, metadata of the
//     metacopy); one whose data lies in BELOW is hard-linked as it is.
// The inputs are only read (they may be lowers of live overlay mounts); OUT
// must be an empty directory on the same filesystem as RANGE (hard links).
// Thread-safety: a pure function of the directories.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace ctrsnap::fs {

struct MergeInput {
  std::vector<std::string> range;  // upper dirs to merge, newest first (at least one)
  std::vector<std::string> below;  // the layers under RANGE, top first (older uppers, lowers)
  std::string out;                 // an existing empty directory
};

struct MergeStats {
  uint64_t linked = 0;           // non-directories hard-linked into OUT
  uint64_t materialized = 0;     // metacopy files whose data was copied
  uint64_t dirs = 0;
  uint64_t whiteouts_kept = 0;
  uint64_t whiteouts_dropped = 0;
};

Result<MergeStats> MergeGenerations(const MergeInput& in);

}  // namespace ctrsnap::fs
