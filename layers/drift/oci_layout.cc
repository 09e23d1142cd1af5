#include "layers/drift/oci_layout.h"

#include <sys/stat.h>
#include <sys/utsname.h>

#include <vector>

#include "common/file_util.h"
#include "layers/drift/inventory.h"

namespace ctrsnap::drift {
namespace {

std::string HostGoArch() {
  struct utsname u;
  if (::uname(&u) != 0) return "amd64";
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  return m;
}

constexpr int kMaxIndexDepth = 4;

Result<oci::Descriptor> PickFromIndex(const std::string& layout, const nlohmann::json& index,
                                      const std::string& ref, int depth);

Result<oci::Descriptor> ChooseImage(const std::string& layout, const oci::Descriptor& d,
                                    int depth) {
  if (d.media_type == oci::kMediaTypeImageIndex ||
      d.media_type == "application/vnd.docker.distribution.manifest.list.v2+json") {
    if (depth >= kMaxIndexDepth) return Status::Corrupt("image indexes nested too deeply");
    ASSIGN_OR_RETURN(std::string text, ReadBlob(layout, d.digest));
    nlohmann::json nested = nlohmann::json::parse(text, nullptr, false);
    if (!nested.is_object()) return Status::Corrupt("index " + d.digest + ": bad JSON");
    return PickFromIndex(layout, nested, "", depth + 1);
  }
  return d;
}

Result<oci::Descriptor> PickFromIndex(const std::string& layout, const nlohmann::json& index,
                                      const std::string& ref, int depth) {
  auto mit = index.find("manifests");
  if (mit == index.end() || !mit->is_array()) return Status::Corrupt("index: no manifests array");
  std::vector<oci::Descriptor> found;
  std::vector<nlohmann::json> platforms;
  for (const auto& m : *mit) {
    auto d = DescriptorFromJson(m);
    if (!d.ok()) continue;
    bool match;
    if (ref.empty()) {
      match = d->artifact_type.empty();
    } else if (ref.starts_with("sha256:")) {
      match = d->digest == ref;
    } else {
      auto a = d->annotations.find(oci::kAnnotationRefName);
      match = a != d->annotations.end() && a->second == ref;
    }
    if (match) {
      found.push_back(*d);
      platforms.push_back(m.value("platform", nlohmann::json::object()));
    }
  }
  if (found.empty()) {
    return Status::NotFound(ref.empty() ? std::string("no image manifest in the layout")
                                        : "no image '" + ref + "' in the layout");
  }
  if (found.size() > 1) {
    // A multi-platform index: prefer linux/<host arch>.
    std::string arch = HostGoArch();
    for (size_t k = 0; k < found.size(); ++k) {
      if (platforms[k].value("os", "") == "linux" && platforms[k].value("architecture", "") == arch) {
        return ChooseImage(layout, found[k], depth);
      }
    }
    if (depth == 0) {
      return Status::InvalidArgument("the layout holds " + std::to_string(found.size()) +
                                     " images; name one (DIR:REF or DIR:sha256:...)");
    }
  }
  return ChooseImage(layout, found.front(), depth);
}

}  // namespace

bool IsOciLayout(const std::string& dir) {
  struct stat st;
  return ::stat(JoinPath(dir, "oci-layout").c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         ::stat(JoinPath(dir, "index.json").c_str(), &st) == 0;
}

bool ValidDigest(std::string_view digest) {
  if (!digest.starts_with("sha256:") || digest.size() != 7 + 64) return false;
  for (char c : digest.substr(7)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string BlobPath(const std::string& layout_dir, std::string_view digest) {
  return JoinPath(layout_dir, "blobs/sha256/" + std::string(digest.substr(7)));
}

Result<std::string> ReadBlob(const std::string& layout_dir, std::string_view digest,
                             size_t max_bytes) {
  if (!ValidDigest(digest)) return Status::InvalidArgument("bad digest '" + std::string(digest) + "'");
  std::string path = BlobPath(layout_dir, digest);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat blob", path);
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return Status::InvalidArgument("blob " + std::string(digest) + " is larger than " +
                                   std::to_string(max_bytes) + " bytes");
  }
  ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
  if (Sha256Digest(data) != digest) return Status::Corrupt("blob " + std::string(digest) + ": digest mismatch");
  return data;
}

Result<oci::Descriptor> WriteBlob(const std::string& layout_dir, const std::string& media_type,
                                  std::string_view data) {
  oci::Descriptor d;
  d.media_type = media_type;
  d.digest = Sha256Digest(data);
  d.size = static_cast<int64_t>(data.size());
  RETURN_IF_ERROR(MakeDirs(JoinPath(layout_dir, "blobs/sha256")));
  std::string path = BlobPath(layout_dir, d.digest);
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && st.st_size == d.size) return d;
  RETURN_IF_ERROR(WriteFileAtomic(path, data, 0644));
  return d;
}

Result<nlohmann::json> ReadIndex(const std::string& layout_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(JoinPath(layout_dir, "index.json")));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return Status::Corrupt(JoinPath(layout_dir, "index.json") + ": bad JSON");
  return j;
}

Status WriteIndex(const std::string& layout_dir, const nlohmann::json& index) {
  return WriteFileAtomic(JoinPath(layout_dir, "index.json"), index.dump() + "\n");
}

Result<oci::Descriptor> DescriptorFromJson(const nlohmann::json& j) {
  oci::Descriptor d;
  try {
    d.media_type = j.at("mediaType").get<std::string>();
    d.digest = j.at("digest").get<std::string>();
    d.size = j.at("size").get<int64_t>();
    if (j.contains("annotations")) {
      d.annotations = j.at("annotations").get<std::map<std::string, std::string>>();
    }
    d.artifact_type = j.value("artifactType", "");
  } catch (const nlohmann::json::exception& e) {
    return Status::Corrupt(std::string("descriptor: ") + e.what());
  }
  if (!ValidDigest(d.digest)) return Status::Corrupt("descriptor: bad digest '" + d.digest + "'");
  return d;
}

Result<ResolvedImage> ResolveImage(const std::string& layout_dir, const std::string& ref) {
  ASSIGN_OR_RETURN(nlohmann::json index, ReadIndex(layout_dir));
  ResolvedImage img;
  ASSIGN_OR_RETURN(img.manifest, PickFromIndex(layout_dir, index, ref, 0));
  ASSIGN_OR_RETURN(std::string text, ReadBlob(layout_dir, img.manifest.digest));
  img.manifest_json = nlohmann::json::parse(text, nullptr, false);
  if (!img.manifest_json.is_object()) return Status::Corrupt("manifest " + img.manifest.digest + ": bad JSON");
  auto cfg = img.manifest_json.find("config");
  if (cfg == img.manifest_json.end()) return Status::Corrupt("manifest " + img.manifest.digest + ": no config");
  ASSIGN_OR_RETURN(oci::Descriptor cd, DescriptorFromJson(*cfg));
  ASSIGN_OR_RETURN(img.config_json, ReadBlob(layout_dir, cd.digest));
  return img;
}

}  // namespace ctrsnap::drift
