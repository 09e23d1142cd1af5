// Test helpers: writes a real OCI image layout (oci-layout, index.json,
// gzip tar layers made with libarchive, config, manifest) for the store,
// unpack and CLI tests.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/oci_image.h"
#include "layers/drift/oci_layout.h"

namespace ctrsnap::drift::testing {

struct TarEntry {
  std::string path;
  std::string content;     // regular file content
  std::string symlink;     // non-empty: a symlink to this target
  bool dir = false;
  mode_t mode = 0644;
};

inline TarEntry File(std::string path, std::string content, mode_t mode = 0644) {
  TarEntry e;
  e.path = std::move(path);
  e.content = std::move(content);
  e.mode = mode;
  return e;
}
inline TarEntry Dir(std::string path) {
  TarEntry e;
  e.path = std::move(path);
  e.dir = true;
  return e;
}
inline TarEntry Link(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.symlink = std::move(target);
  return e;
}

inline std::string MakeTarGz(const std::vector<TarEntry>& entries) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_add_filter_gzip(a);
  std::string out;
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* ud, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(ud)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const auto& e : entries) {
    struct archive_entry* en = archive_entry_new();
    archive_entry_set_pathname(en, e.path.c_str());
    if (e.dir) {
      archive_entry_set_filetype(en, AE_IFDIR);
      archive_entry_set_perm(en, 0755);
    } else if (!e.symlink.empty()) {
      archive_entry_set_filetype(en, AE_IFLNK);
      archive_entry_set_symlink(en, e.symlink.c_str());
      archive_entry_set_perm(en, 0777);
    } else {
      archive_entry_set_filetype(en, AE_IFREG);
      archive_entry_set_perm(en, e.mode);
      archive_entry_set_size(en, static_cast<la_int64_t>(e.content.size()));
    }
    archive_write_header(a, en);
    if (!e.dir && e.symlink.empty()) archive_write_data(a, e.content.data(), e.content.size());
    archive_entry_free(en);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// Writes (or adds to) an OCI layout at DIR with one image of LAYERS and
// CONFIG (the "config" object of the image config), tagged REF.
inline oci::Descriptor WriteImage(const std::string& dir,
                                  const std::vector<std::vector<TarEntry>>& layers,
                                  const nlohmann::json& config, const std::string& ref,
                                  const std::map<std::string, std::string>& annotations = {}) {
  EXPECT_TRUE(MakeDirs(dir + "/blobs/sha256").ok());
  EXPECT_TRUE(WriteFileAtomic(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})").ok());
  nlohmann::json cfg = {{"architecture", "amd64"}, {"os", "linux"}, {"config", config},
                        {"rootfs", {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}}}};
  nlohmann::json ls = nlohmann::json::array();
  for (const auto& l : layers) {
    auto d = WriteBlob(dir, oci::kMediaTypeLayerGzip, MakeTarGz(l));
    EXPECT_TRUE(d.ok());
    ls.push_back(oci::ToJson(*d));
  }
  auto cd = WriteBlob(dir, oci::kMediaTypeImageConfig, cfg.dump());
  EXPECT_TRUE(cd.ok());
  nlohmann::json m = {{"schemaVersion", 2},
                      {"mediaType", oci::kMediaTypeImageManifest},
                      {"config", oci::ToJson(*cd)},
                      {"layers", ls}};
  if (!annotations.empty()) m["annotations"] = annotations;
  auto md = WriteBlob(dir, oci::kMediaTypeImageManifest, m.dump());
  EXPECT_TRUE(md.ok());
  nlohmann::json index = {{"schemaVersion", 2}, {"manifests", nlohmann::json::array()}};
  auto old = ReadIndex(dir);
  if (old.ok()) index = *old;
  oci::Descriptor entry = *md;
  entry.annotations[oci::kAnnotationRefName] = ref;
  index["manifests"].push_back(oci::ToJson(entry));
  EXPECT_TRUE(WriteIndex(dir, index).ok());
  return *md;
}

}  // namespace ctrsnap::drift::testing
