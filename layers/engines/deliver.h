// Deliver: puts a snapshot image where the user asked: OCI layout dirs,
// dual archives (FILE.tar), an engine's image store, a registry.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "layers/lib/blob_store.h"
#include "layers/lib/image.h"

namespace ctrsnap::engines {

struct DeliveryTargets {
  std::vector<std::string> outputs;  // "-o": a path ending in .tar is an archive, else a layout dir
  std::string load;                  // "docker" | "containerd" | "podman" | ""
  std::string push;                  // registry reference, or ""
};

// True when the targets need every layer blob locally (all but a docker load).
bool NeedsAllBlobs(const DeliveryTargets& targets);

// Delivers IMAGE (blobs in STORE) tagged TAG; SCRATCH is a private directory
// for temporary archives/layouts. Returns one line per delivery done.
Result<std::vector<std::string>> Deliver(const layers::BlobStore& store,
                                         const layers::Image& image, const std::string& tag,
                                         const DeliveryTargets& targets,
                                         const std::string& scratch);

// Fills layer blobs missing from STORE (bases whose layers only an engine
// has) by exporting BASE_REF from ENGINE_NAME. No-op when none is missing.
Status FetchMissingBlobs(const layers::BlobStore& store, const layers::Image& image,
                         const std::string& engine_name, const std::string& base_ref,
                         const std::string& scratch);

}  // namespace ctrsnap::engines
