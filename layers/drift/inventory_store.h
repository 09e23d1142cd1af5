// Storing an Inventory beside a snapshot in an OCI image layout, following
// image-spec 1.1's guidance for artifacts (manifest.md "Guidelines for
// Artifact Usage"), so it travels with the layout and, after a copy or pull
// that keeps referrers, to other machines:
//
//   artifact manifest  mediaType    application/vnd.oci.image.manifest.v1+json
//                      artifactType application/vnd.ctrsnap.inventory.v1+json
//                      config       the empty descriptor (application/vnd.oci.empty.v1+json, "{}")
//                      layers[0]    the inventory JSON (Inventory::ToJson()), same media type
//                      subject      the image manifest's descriptor
//   index.json         lists the artifact manifest (with artifactType and the
//                      inventory digest annotation), without a ref name
//
// Plus two annotations for the image manifest itself (InventoryAnnotations):
// dev.ctrsnap.inventory.summary (counts, < 1 KiB) and
// dev.ctrsnap.inventory.digest (the inventory blob's digest), so a reader
// that only has the image (no referrers) can still find the blob.
//
// Order for the snapshot writer: scan; put InventoryAnnotations() into the
// image manifest's annotations; write the manifest; AttachInventory() with
// the manifest's final descriptor (the subject must name the final digest).
// REQUIRES: no other process rewrites index.json of the layout concurrently.
#pragma once

#include <map>
#include <string>

#include "common/oci_image.h"
#include "common/status.h"
#include "layers/drift/inventory.h"

namespace ctrsnap::drift {

inline constexpr char kInventoryArtifactType[] = "application/vnd.ctrsnap.inventory.v1+json";
inline constexpr char kAnnotationInventorySummary[] = "dev.ctrsnap.inventory.summary";
inline constexpr char kAnnotationInventoryDigest[] = "dev.ctrsnap.inventory.digest";

// The image-manifest annotations naming INV.
std::map<std::string, std::string> InventoryAnnotations(const Inventory& inv);

// Writes the inventory blob, the empty config and the artifact manifest into
// LAYOUT_DIR and lists the artifact in index.json, replacing an earlier
// inventory artifact of the same subject. Returns the artifact manifest's
// descriptor.
Result<oci::Descriptor> AttachInventory(const std::string& oci_layout_dir,
                                        const oci::Descriptor& image_manifest,
                                        const Inventory& inv);

// Finds the inventory of the image named by REF (see ResolveImage): first an
// artifact in index.json whose subject is the image manifest, then the
// image manifest's dev.ctrsnap.inventory.digest annotation. NotFound when
// the image has none.
Result<Inventory> LoadInventory(const std::string& oci_layout_dir,
                                const std::string& image_ref_or_digest);
// The same for an already resolved image manifest.
Result<Inventory> LoadInventoryForManifest(const std::string& oci_layout_dir,
                                           const oci::Descriptor& image_manifest,
                                           const nlohmann::json& manifest_json);

}  // namespace ctrsnap::drift
