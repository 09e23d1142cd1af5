#include "layers/lib/image.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/utsname.h>

#include <ctime>
#include <memory>

#include "common/file_util.h"
#include "layers/lib/digest.h"

namespace ctrsnap::layers {
namespace {

using nlohmann::json;

std::string GoArch() {
  struct utsname u {};
  ::uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m.size() == 4 && m[0] == 'i' && m.substr(2) == "86") return "386";
  return m;
}

Result<json> ParseJson(std::string_view text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return Status::Corrupt(what + ": " + e.what());
  }
}

Result<oci::Descriptor> DescriptorFromJson(const json& j) {
  try {
    oci::Descriptor d;
    d.media_type = j.at("mediaType").get<std::string>();
    d.digest = j.at("digest").get<std::string>();
    d.size = j.at("size").get<int64_t>();
    if (j.contains("annotations")) {
      d.annotations = j["annotations"].get<std::map<std::string, std::string>>();
    }
    if (!IsValidDigest(d.digest)) return Status::Corrupt("bad digest " + d.digest);
    return d;
  } catch (const json::exception& e) {
    return Status::Corrupt(std::string("descriptor: ") + e.what());
  }
}

Result<Image> ImageFromManifest(const BlobStore& store, const std::string& manifest) {
  Image img;
  ASSIGN_OR_RETURN(json m, ParseJson(manifest, "manifest"));
  try {
    ASSIGN_OR_RETURN(img.config_desc, DescriptorFromJson(m.at("config")));
    for (const auto& l : m.at("layers")) {
      ASSIGN_OR_RETURN(auto d, DescriptorFromJson(l));
      img.layers.push_back(std::move(d));
    }
    if (m.contains("annotations")) {
      img.annotations = m["annotations"].get<std::map<std::string, std::string>>();
    }
  } catch (const json::exception& e) {
    return Status::Corrupt(std::string("manifest: ") + e.what());
  }
  ASSIGN_OR_RETURN(std::string config, store.ReadBlob(img.config_desc.digest));
  ASSIGN_OR_RETURN(img.config, ParseJson(config, "image config"));
  return img;
}

}  // namespace

std::vector<std::string> Image::DiffIds() const {
  std::vector<std::string> out;
  try {
    for (const auto& d : config.at("rootfs").at("diff_ids")) out.push_back(d.get<std::string>());
  } catch (const json::exception&) {
  }
  return out;
}

json NewImageConfig() {
  return json{{"architecture", GoArch()},
              {"os", "linux"},
              {"config", json::object()},
              {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}},
              {"history", json::array()}};
}

std::string NowRfc3339() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm {};
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[96];
  std::snprintf(out, sizeof(out), "%s.%09ldZ", buf, ts.tv_nsec);
  return out;
}

Status AppendLayer(Image* image, const LayerAppend& a, std::vector<FilterFinding>* env_findings) {
  try {
    json& c = image->config;
    if (!c.is_object()) return Status::Corrupt("image config is not an object");
    if (!c.contains("rootfs")) c["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
    json& diff_ids = c["rootfs"]["diff_ids"];
    if (!c.contains("history") || !c["history"].is_array()) c["history"] = json::array();
    json& history = c["history"];
    size_t non_empty = 0;
    for (const auto& h : history) {
      if (!h.value("empty_layer", false)) non_empty++;
    }
    for (; non_empty < diff_ids.size(); ++non_empty) {
      history.push_back({{"created_by", "(base image layer)"}});
    }
    diff_ids.push_back(a.diff_id);
    json h = {{"created", a.created}, {"created_by", a.created_by}};
    if (!a.comment.empty()) h["comment"] = a.comment;
    history.push_back(std::move(h));
    c["created"] = a.created;
    if (!c.contains("config") || !c["config"].is_object()) c["config"] = json::object();
    json& cc = c["config"];
    for (const auto& [k, v] : a.labels) {
      if (!cc.contains("Labels") || !cc["Labels"].is_object()) cc["Labels"] = json::object();
      cc["Labels"][k] = v;
    }
    std::vector<std::string> env;
    if (cc.contains("Env") && cc["Env"].is_array()) env = cc["Env"].get<std::vector<std::string>>();
    for (const auto& kv : a.add_env) {
      std::string name = kv.substr(0, kv.find('='));
      std::erase_if(env, [&](const std::string& e) { return e.substr(0, e.find('=')) == name; });
      env.push_back(kv);
    }
    if (a.filter != nullptr) {
      auto findings = a.filter->FilterEnv(&env);
      if (env_findings) env_findings->insert(env_findings->end(), findings.begin(), findings.end());
    }
    if (!env.empty() || cc.contains("Env")) cc["Env"] = env;
  } catch (const json::exception& e) {
    return Status::Corrupt(std::string("image config: ") + e.what());
  }
  image->layers.push_back(a.layer);
  return Status::Ok();
}

Status StoreImage(const BlobStore& store, Image* image) {
  ASSIGN_OR_RETURN(image->config_desc,
                   store.PutBytes(image->config.dump(), oci::kMediaTypeImageConfig));
  json m = {{"schemaVersion", 2},
            {"mediaType", oci::kMediaTypeImageManifest},
            {"config", oci::ToJson(image->config_desc)},
            {"layers", json::array()}};
  for (const auto& l : image->layers) m["layers"].push_back(oci::ToJson(l));
  if (!image->annotations.empty()) m["annotations"] = image->annotations;
  ASSIGN_OR_RETURN(image->manifest_desc, store.PutBytes(m.dump(), oci::kMediaTypeImageManifest));
  return Status::Ok();
}

Result<Image> LoadImage(const BlobStore& store, const std::string& manifest_digest) {
  ASSIGN_OR_RETURN(std::string manifest, store.ReadBlob(manifest_digest));
  ASSIGN_OR_RETURN(Image img, ImageFromManifest(store, manifest));
  img.manifest_desc = {oci::kMediaTypeImageManifest, manifest_digest,
                       static_cast<int64_t>(manifest.size()), {}, {}};
  return img;
}

Result<Image> ImportOciLayout(const std::string& dir, const std::string& ref,
                              const BlobStore& store) {
  ASSIGN_OR_RETURN(BlobStore src, BlobStore::Open(dir));
  ASSIGN_OR_RETURN(std::string index_text, ReadFileToString(dir + "/index.json"));
  ASSIGN_OR_RETURN(json index, ParseJson(index_text, dir + "/index.json"));
  std::string manifest_digest;
  try {
    int matches = 0;
    for (const auto& m : index.at("manifests")) {
      std::string name;
      if (m.contains("annotations")) name = m["annotations"].value(oci::kAnnotationRefName, "");
      if (ref.empty() || name == ref) {
        manifest_digest = m.at("digest").get<std::string>();
        matches++;
      }
    }
    if (matches == 0) return Status::NotFound("no image '" + ref + "' in OCI layout " + dir);
    if (matches > 1) return Status::InvalidArgument("OCI layout " + dir + " holds several images: name one");
  } catch (const json::exception& e) {
    return Status::Corrupt(dir + "/index.json: " + e.what());
  }
  ASSIGN_OR_RETURN(std::string manifest, src.ReadBlob(manifest_digest));
  ASSIGN_OR_RETURN(Image img, ImageFromManifest(src, manifest));
  RETURN_IF_ERROR(store.Import(src.BlobPath(img.config_desc.digest), img.config_desc.digest));
  for (const auto& l : img.layers) {
    if (!src.Has(l.digest)) return Status::NotFound("OCI layout " + dir + " lacks layer " + l.digest);
    RETURN_IF_ERROR(store.Import(src.BlobPath(l.digest), l.digest));
  }
  RETURN_IF_ERROR(store.Import(src.BlobPath(manifest_digest), manifest_digest));
  img.manifest_desc = {oci::kMediaTypeImageManifest, manifest_digest,
                       static_cast<int64_t>(manifest.size()), {}, {}};
  return img;
}

Result<Image> ImportDockerArchive(const std::string& tar_path, const BlobStore& store) {
  struct ReadDeleter {
    void operator()(struct archive* a) const { archive_read_free(a); }
  };
  std::unique_ptr<struct archive, ReadDeleter> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), tar_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Status(Code::kIo, "open " + tar_path + ": " + archive_error_string(a.get()));
  }
  std::map<std::string, std::string> json_files;         // name -> content
  std::map<std::string, oci::Descriptor> layer_blobs;     // tar member -> descriptor
  archive_entry* e = nullptr;
  int rc;
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e);
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    auto ends_with = [&](std::string_view suffix) {
      return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends_with(".json") || ends_with("/json") || ends_with("VERSION") ||
        name == "repositories" || name == "oci-layout") {
      std::string content;
      char buf[65536];
      la_ssize_t n;
      while ((n = archive_read_data(a.get(), buf, sizeof(buf))) > 0) {
        content.append(buf, static_cast<size_t>(n));
        if (content.size() > (16 << 20)) return Status::Corrupt(name + " too large");
      }
      json_files[name] = std::move(content);
      continue;
    }
    // Everything else is a blob (docker save's <id>/layer.tar, or an OCI
    // archive's blobs/sha256/<hex>); its compression is told by its magic.
    ASSIGN_OR_RETURN(auto w, store.NewBlob());
    char buf[1 << 16];
    la_ssize_t n;
    std::string media_type = oci::kMediaTypeLayer;
    bool first = true;
    while ((n = archive_read_data(a.get(), buf, sizeof(buf))) > 0) {
      if (first && n >= 4) {
        auto* u = reinterpret_cast<unsigned char*>(buf);
        if (u[0] == 0x1f && u[1] == 0x8b) media_type = oci::kMediaTypeLayerGzip;
        if (u[0] == 0x28 && u[1] == 0xb5 && u[2] == 0x2f && u[3] == 0xfd) {
          media_type = oci::kMediaTypeLayerZstd;
        }
      }
      first = false;
      RETURN_IF_ERROR(w->Write(std::string_view(buf, static_cast<size_t>(n))));
    }
    if (n < 0) return Status(Code::kIo, tar_path + ": " + archive_error_string(a.get()));
    RETURN_IF_ERROR(w->Close());
    ASSIGN_OR_RETURN(auto d, w->Commit(media_type));
    layer_blobs[name] = d;
  }
  if (rc != ARCHIVE_EOF) return Status(Code::kIo, tar_path + ": " + archive_error_string(a.get()));
  auto mit = json_files.find("manifest.json");
  if (mit == json_files.end()) return Status::Corrupt(tar_path + ": no manifest.json");
  ASSIGN_OR_RETURN(json manifest, ParseJson(mit->second, "manifest.json"));
  Image img;
  try {
    const json& m0 = manifest.at(0);
    std::string config_name = m0.at("Config").get<std::string>();
    auto cit = json_files.find(config_name);
    auto bit = layer_blobs.find(config_name);
    if (cit != json_files.end()) {
      ASSIGN_OR_RETURN(img.config, ParseJson(cit->second, config_name));
    } else if (bit != layer_blobs.end()) {
      ASSIGN_OR_RETURN(std::string text, store.ReadBlob(bit->second.digest));
      ASSIGN_OR_RETURN(img.config, ParseJson(text, config_name));
    } else {
      return Status::Corrupt(tar_path + ": no " + config_name);
    }
    for (const auto& l : m0.at("Layers")) {
      auto lit = layer_blobs.find(l.get<std::string>());
      if (lit == layer_blobs.end()) return Status::Corrupt(tar_path + ": missing " + l.dump());
      img.layers.push_back(lit->second);
    }
    if (m0.contains("RepoTags") && m0["RepoTags"].is_array() && !m0["RepoTags"].empty()) {
      img.annotations[oci::kAnnotationRefName] = m0["RepoTags"][0].get<std::string>();
    }
  } catch (const json::exception& ex) {
    return Status::Corrupt(tar_path + ": manifest.json: " + ex.what());
  }
  return img;
}

Result<Image> ImageFromDockerInspect(const nlohmann::json& inspect) {
  Image img;
  try {
    img.config = NewImageConfig();
    img.config["architecture"] = inspect.value("Architecture", img.config["architecture"].get<std::string>());
    img.config["os"] = inspect.value("Os", std::string("linux"));
    json cc = json::object();
    if (inspect.contains("Config") && inspect["Config"].is_object()) {
      for (const char* k : {"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes",
                            "WorkingDir", "Labels", "StopSignal"}) {
        if (inspect["Config"].contains(k) && !inspect["Config"][k].is_null()) {
          cc[k] = inspect["Config"][k];
        }
      }
    }
    img.config["config"] = cc;
    for (const auto& d : inspect.at("RootFS").at("Layers")) {
      std::string diff_id = d.get<std::string>();
      img.config["rootfs"]["diff_ids"].push_back(diff_id);
      img.layers.push_back({oci::kMediaTypeLayer, diff_id, -1, {}, {}});
    }
  } catch (const json::exception& e) {
    return Status::Corrupt(std::string("docker image inspect: ") + e.what());
  }
  return img;
}

}  // namespace ctrsnap::layers
