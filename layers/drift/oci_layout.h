// Minimal reading and writing of an OCI image layout directory (image-spec
// v1.1 image-layout.md): oci-layout, index.json, blobs/sha256/<hex>.
// Used by the inventory store and by `ctrsnap drift` to find an image's
// manifest, config and layers.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "common/oci_image.h"
#include "common/status.h"

namespace ctrsnap::drift {

bool IsOciLayout(const std::string& dir);
// Whether DIGEST is "sha256:<64 lowercase hex>" (so it is also a safe file name).
bool ValidDigest(std::string_view digest);
std::string BlobPath(const std::string& layout_dir, std::string_view digest);

// Reads a blob and verifies its digest; blobs above MAX_BYTES are refused.
Result<std::string> ReadBlob(const std::string& layout_dir, std::string_view digest,
                             size_t max_bytes = 64u << 20);
// Stores DATA as a blob (atomic; a blob already present is kept) and returns
// its descriptor with MEDIA_TYPE.
Result<oci::Descriptor> WriteBlob(const std::string& layout_dir, const std::string& media_type,
                                  std::string_view data);

Result<nlohmann::json> ReadIndex(const std::string& layout_dir);
// Atomic replace of index.json.
Status WriteIndex(const std::string& layout_dir, const nlohmann::json& index);

Result<oci::Descriptor> DescriptorFromJson(const nlohmann::json& j);

struct ResolvedImage {
  oci::Descriptor manifest;
  nlohmann::json manifest_json;
  std::string config_json;  // the config blob
};

// Finds an image manifest in the layout by REF: empty (the only image
// manifest that is not an artifact), a digest ("sha256:..."), or a
// org.opencontainers.image.ref.name annotation. Nested image indexes are
// followed, preferring linux and the host's architecture.
Result<ResolvedImage> ResolveImage(const std::string& layout_dir, const std::string& ref);

}  // namespace ctrsnap::drift
