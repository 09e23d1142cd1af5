// Unpacks an image's layers from an OCI layout into a directory, so that an
// image without a recorded inventory can be scanned. Layers are applied in
// order with OCI whiteouts (.wh.NAME removes NAME, .wh..wh..opq empties the
// directory of what lower layers put there).
//
// Only what the scanners read is written with content (/etc, package
// databases, METADATA/PKG-INFO, package.json, conda-meta records, CUDA
// version files); every other regular file is created empty with its name,
// mode and owner, so the unpacked tree stays small. Devices are skipped.
// Paths are confined to DEST: no "..", no absolute paths, never through a
// symlink extracted earlier.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ctrsnap::drift {

struct UnpackOptions {
  uint64_t max_content_bytes = 2ull << 30;  // bytes written with content, all layers
  uint64_t max_entries = 5'000'000;
};

struct UnpackStats {
  uint64_t entries = 0;
  uint64_t content_bytes = 0;
  uint64_t skipped = 0;  // entries refused (through a symlink, devices, bad paths)
};

// Whether a file at REL_PATH (no leading '/') is read by a scanner.
bool ContentNeeded(std::string_view rel_path);

// REQUIRES: DEST is an empty directory owned by the caller.
Result<UnpackStats> UnpackImageLayers(const std::string& layout_dir,
                                      const nlohmann::json& manifest_json,
                                      const std::string& dest, const UnpackOptions& options = {});

}  // namespace ctrsnap::drift
