// Image outputs: an OCI image layout directory and the "dual" archive (an
// OCI layout plus a docker-archive manifest.json pointing into
// blobs/sha256/), which Docker 20.10, podman and `ctr import` all load.
// Both are published atomically (temp name, fsync, rename).
#pragma once

#include <string>

#include "common/status.h"
#include "layers/lib/blob_store.h"
#include "layers/lib/image.h"

namespace ctrsnap::layers {

// Writes IMAGE (all blobs must be in STORE) as an OCI image layout at DIR,
// index.json naming it REF_NAME. An existing DIR is replaced as a whole.
Status WriteOciLayout(const BlobStore& store, const Image& image, const std::string& ref_name,
                      const std::string& dir);

struct ArchiveOptions {
  // Layers whose blob STORE lacks are listed in manifest.json but left out of
  // the archive: `docker load` accepts that when the daemon already has them.
  // When false, a missing blob is an error.
  bool allow_missing_layers = false;
};

// "bb:1" -> "docker.io/library/bb:1"; references with a registry stay as they are.
std::string NormalizedImageName(const std::string& ref);

// Writes IMAGE as a dual archive at PATH; REPO_TAG goes into manifest.json's
// RepoTags and index.json's ref name.
Status WriteDualArchive(const BlobStore& store, const Image& image, const std::string& repo_tag,
                        const std::string& path, const ArchiveOptions& options = {});

}  // namespace ctrsnap::layers
