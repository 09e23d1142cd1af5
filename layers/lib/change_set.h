// ChangeSet: the merged changes of several generations (the "delta" layers
// of an OverlayStack), as one tree ready to become a single OCI layer.
//
// Rules (upper-most generation wins for each path; as overlayfs merges):
//   - a whiteout or non-directory hides the same path in every layer below;
//   - directories present in several delta layers merge, until one of them is
//     opaque (the merged directory is then opaque: .wh..wh..opq);
//   - a directory with a redirect (renamed directory) is flattened: the node
//     is opaque and holds the directory's full merged contents from every
//     layer below (delta or not); the old path carries the whiteout overlayfs
//     left there;
//   - a metacopy file takes its data from the first lower layer holding it.
// Inside a flattened (opaque) subtree whiteouts are dropped: nothing below
// can show through an opaque directory anyway.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "layers/lib/overlay_stack.h"

namespace ctrsnap::layers {

struct ChangeNode {
  std::string name;  // "" for the root
  std::string path;  // relative to the root, no leading '/': "etc/passwd"
  RawEntry entry;    // metadata (and whiteout/opaque flags) of the winning layer
  size_t layer = 0;  // the winning layer
  std::string src_path;  // the entry's path in that layer
  // Regular files: where the bytes are (differs from layer/path for metacopy).
  size_t data_layer = 0;
  std::string data_path;
  bool opaque = false;         // emit DIR/.wh..wh..opq
  bool existed_below = false;  // non-directories: the path exists under the delta
  std::vector<std::unique_ptr<ChangeNode>> children;  // sorted by name

  bool is_whiteout() const { return entry.whiteout; }
  bool is_dir() const { return entry.is_dir(); }
};

// DELTA: indices into STACK (0 = top) of the layers to merge, top first. Every
// layer below the lowest delta layer counts as "below" for existed_below.
Result<std::unique_ptr<ChangeNode>> BuildChangeSet(const OverlayStack& stack,
                                                   const std::vector<size_t>& delta);

}  // namespace ctrsnap::layers
