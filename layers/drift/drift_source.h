// What `ctrsnap drift A B` compares: each side is an OCI layout image, a root
// filesystem directory, or a container's live view, turned into an Inventory.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "layers/drift/image_unpack.h"
#include "layers/drift/inventory.h"
#include "layers/drift/scan_root.h"

namespace ctrsnap::drift {

enum class SourceKind { kLayout, kRootDir, kContainer };

struct SourceSpec {
  SourceKind kind = SourceKind::kRootDir;
  std::string path;  // layout dir, root dir, or the container's state dir
  std::string ref;   // layout: image ref or digest (may be empty)
  std::string shown; // for humans and Inventory::source
};

// Accepted forms, tried in this order:
//   oci:DIR[:REF]        an OCI layout (REF: ref name or sha256:... digest)
//   dir:PATH             a root filesystem directory
//   PATH                 a directory: an OCI layout if it has oci-layout, else a root
//   DIR:REF              an OCI layout with a ref
//   ID                   a container whose state is STATE_ROOT/ID (has fs.json)
Result<SourceSpec> ParseSourceSpec(const std::string& arg, const std::string& state_root);

struct SourceOptions {
  bool scan_etc = true;
  UnpackOptions unpack;
  std::string tmp_dir = "/var/tmp";  // where images are unpacked and overlays mounted
};

// Layout: the recorded inventory (inventory_store.h) or, when there is none,
// a scan of the image's layers unpacked into a temp dir; the image config's
// settings are always taken from the image itself.
// Container: the merged view of its generations over its lower dirs, mounted
// read-only with overlayfs (needs root) in a temp dir and scanned.
Result<Inventory> InventoryOf(const SourceSpec& spec, const SourceOptions& options);

// The inventory of the merged tree of DIRS (overlayfs upper-format dirs, top
// first, the image's lower dirs last), mounted read-only with kernel overlayfs
// (redirect_dir=follow, metacopy=on; needs root) in a temp dir below TMP_DIR.
// A single dir is scanned directly.
Result<Inventory> InventoryOfLayers(const std::vector<std::string>& dirs, const std::string& tmp_dir,
                                    const ScanOptions& options);

// The read-only overlay "lowerdir=" list of a container state dir: its
// generations' upper dirs, newest first, then its lower dirs. Exposed for tests.
Result<std::string> ContainerLowerdirOption(const std::string& state_dir);

}  // namespace ctrsnap::drift
