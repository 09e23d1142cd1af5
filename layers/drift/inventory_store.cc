#include "layers/drift/inventory_store.h"

#include <ctime>

#include "layers/drift/oci_layout.h"

namespace ctrsnap::drift {
namespace {

constexpr size_t kInventoryMax = 256u << 20;

std::string NowRfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<Inventory> LoadBlob(const std::string& layout, const std::string& digest) {
  ASSIGN_OR_RETURN(std::string text, ReadBlob(layout, digest, kInventoryMax));
  auto inv = Inventory::FromJson(text);
  if (!inv.ok()) return inv.status().WithContext("inventory blob " + digest);
  return inv;
}

}  // namespace

std::map<std::string, std::string> InventoryAnnotations(const Inventory& inv) {
  return {{kAnnotationInventorySummary, inv.SummaryJson()},
          {kAnnotationInventoryDigest, inv.Digest()}};
}

Result<oci::Descriptor> AttachInventory(const std::string& layout,
                                        const oci::Descriptor& image_manifest,
                                        const Inventory& inv) {
  if (!ValidDigest(image_manifest.digest)) {
    return Status::InvalidArgument("attach inventory: bad subject digest '" + image_manifest.digest + "'");
  }
  ASSIGN_OR_RETURN(nlohmann::json index, ReadIndex(layout));
  ASSIGN_OR_RETURN(oci::Descriptor empty, WriteBlob(layout, oci::kMediaTypeEmptyJson, "{}"));
  std::string doc = inv.ToJson();
  ASSIGN_OR_RETURN(oci::Descriptor blob, WriteBlob(layout, kInventoryArtifactType, doc));
  blob.annotations["org.opencontainers.image.title"] = "inventory.json";

  oci::Descriptor subject = image_manifest;
  subject.annotations.clear();  // the subject names the manifest; its annotations are not needed
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", oci::kMediaTypeImageManifest},
      {"artifactType", kInventoryArtifactType},
      {"config", oci::ToJson(empty)},
      {"layers", nlohmann::json::array({oci::ToJson(blob)})},
      {"subject", oci::ToJson(subject)},
      {"annotations",
       {{oci::kAnnotationCreated, NowRfc3339()},
        {kAnnotationInventoryDigest, blob.digest},
        {kAnnotationInventorySummary, inv.SummaryJson()}}},
  };
  ASSIGN_OR_RETURN(oci::Descriptor art,
                   WriteBlob(layout, oci::kMediaTypeImageManifest, manifest.dump()));
  art.artifact_type = kInventoryArtifactType;
  art.annotations[kAnnotationInventoryDigest] = blob.digest;

  // Replace an earlier inventory of the same subject; keep everything else.
  nlohmann::json kept = nlohmann::json::array();
  if (auto m = index.find("manifests"); m != index.end() && m->is_array()) {
    for (const auto& e : *m) {
      if (e.value("artifactType", "") == kInventoryArtifactType) {
        auto old = ReadBlob(layout, e.value("digest", ""));
        if (old.ok()) {
          auto j = nlohmann::json::parse(*old, nullptr, false);
          if (j.is_object() && j.contains("subject") && j["subject"].is_object() &&
              j["subject"].value("digest", "") == image_manifest.digest) {
            continue;
          }
        }
      }
      kept.push_back(e);
    }
  }
  kept.push_back(oci::ToJson(art));
  index["manifests"] = std::move(kept);
  if (!index.contains("schemaVersion")) index["schemaVersion"] = 2;
  RETURN_IF_ERROR(WriteIndex(layout, index));
  return art;
}

Result<Inventory> LoadInventoryForManifest(const std::string& layout,
                                           const oci::Descriptor& image_manifest,
                                           const nlohmann::json& manifest_json) {
  ASSIGN_OR_RETURN(nlohmann::json index, ReadIndex(layout));
  // Referrers listed in index.json: the newest (last) one wins.
  std::string found;
  if (auto m = index.find("manifests"); m != index.end() && m->is_array()) {
    for (const auto& e : *m) {
      if (!e.is_object() || e.value("artifactType", "") != kInventoryArtifactType) continue;
      auto text = ReadBlob(layout, e.value("digest", ""));
      if (!text.ok()) continue;
      auto j = nlohmann::json::parse(*text, nullptr, false);
      if (!j.is_object() || !j.contains("subject") || !j["subject"].is_object() ||
          j["subject"].value("digest", "") != image_manifest.digest) {
        continue;
      }
      auto layers = j.find("layers");
      if (layers == j.end() || !layers->is_array() || layers->empty()) continue;
      const auto& l = (*layers)[0];
      if (l.is_object() && l.value("mediaType", "") == kInventoryArtifactType) {
        found = l.value("digest", "");
      }
    }
  }
  if (!found.empty()) return LoadBlob(layout, found);
  if (auto a = manifest_json.find("annotations"); a != manifest_json.end() && a->is_object()) {
    auto d = a->find(kAnnotationInventoryDigest);
    if (d != a->end() && d->is_string()) return LoadBlob(layout, d->get<std::string>());
  }
  return Status::NotFound("image " + image_manifest.digest + " has no inventory");
}

Result<Inventory> LoadInventory(const std::string& layout, const std::string& ref) {
  ASSIGN_OR_RETURN(ResolvedImage img, ResolveImage(layout, ref));
  return LoadInventoryForManifest(layout, img.manifest, img.manifest_json);
}

}  // namespace ctrsnap::drift
