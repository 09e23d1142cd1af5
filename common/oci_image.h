// OCI image-spec v1.1 vocabulary shared by the layer writer, the engines and
// drift: media types and Descriptor.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace ctrsnap::oci {

inline constexpr char kMediaTypeImageIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kMediaTypeImageManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kMediaTypeImageConfig[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char kMediaTypeLayer[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kMediaTypeLayerGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr char kMediaTypeLayerZstd[] = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr char kMediaTypeEmptyJson[] = "application/vnd.oci.empty.v1+json";

inline constexpr char kAnnotationCreated[] = "org.opencontainers.image.created";
inline constexpr char kAnnotationRefName[] = "org.opencontainers.image.ref.name";
inline constexpr char kAnnotationBaseName[] = "org.opencontainers.image.base.name";
inline constexpr char kAnnotationBaseDigest[] = "org.opencontainers.image.base.digest";
inline constexpr char kAnnotationRevision[] = "org.opencontainers.image.revision";
inline constexpr char kAnnotationSource[] = "org.opencontainers.image.source";

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<64 hex>"
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::string artifact_type;  // optional (image-spec 1.1)
};

inline nlohmann::json ToJson(const Descriptor& d) {
  nlohmann::json j = {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (!d.artifact_type.empty()) j["artifactType"] = d.artifact_type;
  return j;
}

}  // namespace ctrsnap::oci
