// A private kernel overlayfs mount built with the new mount API.
//
// The mount is detached (fsopen/fsconfig/fsmount): it is visible in no mount
// namespace, has no option-length limit, and disappears when the last fd that
// refers to it is closed. Layers are passed as fds, so a lower stays reachable
// after ctrsnap-fs is mounted over the lower's own path.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ctrsnap::fs {

struct OverlayLayers {
  std::vector<int> lowers;  // directory fds, top first
  int upper = -1;           // -1: read-only overlay
  int work = -1;
};

// Features the kernel accepted for a mount.
struct OverlayFeatures {
  bool metacopy = false;
  bool redirect_dir = false;
};

// Mounts LAYERS with redirect_dir=on, metacopy=on (dropped if the kernel
// refuses it), index=off, xino=auto. Returns the detached mount's root fd.
Result<UniqueFd> MountOverlay(const OverlayLayers& layers, OverlayFeatures* features = nullptr);

// Opens PATH as an O_PATH directory fd (following symlinks: PATH is a host
// path given by the administrator, not a container path).
Result<UniqueFd> OpenLayerDir(const std::string& path);

}  // namespace ctrsnap::fs
