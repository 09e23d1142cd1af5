// The lower residue: what a container's generations still need from its
// original root once that root is gone.
//
// While the container runs, STATE/lower is a bind mount of the engine's root
// (overlay2's merged dir, a containerd snapshot, a bundle's rootfs). Deleting
// the container (`docker rm`, `ctr run --rm`) deletes that root, yet a
// post-mortem snapshot reads the lower for two things only (see
// layers/lib/change_set.h); everything else a layer holds is in the
// generations, and the base image comes from the engine's image:
//   - the data of a metacopy file (overlayfs copied up only the metadata of
//     an image file: chmod, chown), at the file's redirect or its own path;
//   - the contents of a renamed directory (a redirect), which a layer
//     flattens into an opaque directory holding its whole merged tree.
// BuildLowerResidue copies exactly those paths, with their metadata, into a
// plain directory. On delete, with the lower still mounted, the shim builds it
// and puts it where the mount was (KeepLowerResidue in fs_daemon.h): the next
// create mounts the new root over it, the next delete builds it anew.
//
// Paths come from attacker-controlled trees: every lookup in the lower is an
// openat2 beneath it without symlinks, a redirect with ".." is ignored, and
// nothing outside DEST is written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace ctrsnap::shim {

struct ResidueStats {
  uint64_t metacopy_files = 0;  // metacopy files whose data was copied
  uint64_t redirects = 0;       // renamed directories whose lower tree was copied
  uint64_t entries = 0;         // entries created under DEST
  uint64_t bytes = 0;           // file data copied
};

// GEN_DIRS: the generation upper dirs (overlayfs upper format; trusted.overlay.*
// or user.overlay.* xattrs). LOWER: the root those generations sit on. DEST:
// must not exist; created (mode 0700 until the root's attributes are copied).
// A path the generations name but LOWER lacks is skipped (nothing to keep).
Result<ResidueStats> BuildLowerResidue(const std::vector<std::string>& gen_dirs,
                                       const std::string& lower, const std::string& dest);

}  // namespace ctrsnap::shim
