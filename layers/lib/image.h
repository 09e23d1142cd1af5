// Image: an OCI image (manifest + config + layers) whose blobs live in a
// BlobStore, and the config edits a snapshot makes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/file_filter.h"
#include "common/oci_image.h"
#include "common/status.h"
#include "layers/lib/blob_store.h"

namespace ctrsnap::layers {

struct Image {
  nlohmann::json config = nlohmann::json::object();  // OCI image config
  std::vector<oci::Descriptor> layers;  // a blob may be absent (layers a daemon already has)
  std::map<std::string, std::string> annotations;  // manifest annotations
  // Artifact manifests about this image (the drift inventory), in the store:
  // an OCI layout lists them in index.json (image-spec 1.1 referrers); both
  // outputs carry their blobs (REFERRER_BLOBS: their config and layers), so
  // the manifest's dev.ctrsnap.inventory.digest annotation resolves there.
  std::vector<oci::Descriptor> referrers;
  std::vector<std::string> referrer_blobs;
  // Filled by StoreImage / LoadImage:
  oci::Descriptor config_desc;
  oci::Descriptor manifest_desc;

  std::vector<std::string> DiffIds() const;
};

// An empty config for this machine (architecture, os, rootfs with no layers).
nlohmann::json NewImageConfig();

// What AppendLayer changes in a config.
struct LayerAppend {
  oci::Descriptor layer;        // compressed blob descriptor
  std::string diff_id;
  std::string created;          // RFC 3339, UTC
  std::string created_by;       // "ctrsnap snapshot <id> (generations 3-5)"
  std::string comment;
  std::map<std::string, std::string> labels;  // added to config.Labels
  // Environment variables asked for by name (--env): "NAME=value".
  std::vector<std::string> add_env;
  const FileFilter* filter = nullptr;  // FilterEnv() on the final Env (optional)
};

// Appends a layer: diff_ids, history (padded first so that every earlier
// layer has an entry), labels, env; FilterEnv findings are appended to
// ENV_FINDINGS. Carries over everything else of the base config.
Status AppendLayer(Image* image, const LayerAppend& append,
                   std::vector<FilterFinding>* env_findings);

// Writes the config and the manifest into STORE; fills the descriptors.
Status StoreImage(const BlobStore& store, Image* image);
// Reads the manifest with digest MANIFEST_DIGEST and its config from STORE.
Result<Image> LoadImage(const BlobStore& store, const std::string& manifest_digest);

// Imports the image named REF (org.opencontainers.image.ref.name; "" = the
// only one) from the OCI layout at DIR into STORE.
Result<Image> ImportOciLayout(const std::string& dir, const std::string& ref,
                              const BlobStore& store);

// Imports an archive with a docker manifest.json (`docker save`, `podman
// save`, `ctr export`, ctrsnap's dual archive) into STORE: layer blobs keep
// their bytes (media type from their magic); the config is kept as is.
Result<Image> ImportDockerArchive(const std::string& tar_path, const BlobStore& store);

// An image config built from `docker image inspect` JSON (one element): used
// when the daemon already has the base layers and the archive leaves them
// out. Layers get descriptors whose digest is the diff_id and size -1.
Result<Image> ImageFromDockerInspect(const nlohmann::json& inspect);

std::string NowRfc3339();

}  // namespace ctrsnap::layers
