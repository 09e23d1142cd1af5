#include "layers/lib/oci_layout.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "layers/lib/digest.h"

namespace ctrsnap::layers {
namespace {

using nlohmann::json;

constexpr char kOciLayoutFile[] = R"({"imageLayoutVersion":"1.0.0"})";

}  // namespace

std::string NormalizedImageName(const std::string& ref) {
  if (ref.empty()) return ref;
  auto slash = ref.find('/');
  std::string first = slash == std::string::npos ? "" : ref.substr(0, slash);
  bool has_domain = !first.empty() && (first.find('.') != std::string::npos ||
                                       first.find(':') != std::string::npos || first == "localhost");
  if (has_domain) return ref;
  return "docker.io/" + std::string(slash == std::string::npos ? "library/" : "") + ref;
}

namespace {

// containerd names imported images by io.containerd.image.name (a full
// reference); OCI tools by org.opencontainers.image.ref.name.
// ARCHIVE: the dual archive, whose index.json lists the image alone (ctr
// import and podman load would take every listed manifest for an image).
std::string IndexJson(const Image& image, const std::string& ref_name, bool archive) {
  oci::Descriptor m = image.manifest_desc;
  if (!ref_name.empty()) m.annotations[oci::kAnnotationRefName] = ref_name;
  if (!ref_name.empty() && archive) {
    m.annotations["io.containerd.image.name"] = NormalizedImageName(ref_name);
  }
  json manifests = json::array({oci::ToJson(m)});
  if (!archive) {
    for (const auto& r : image.referrers) manifests.push_back(oci::ToJson(r));
  }
  json index = {{"schemaVersion", 2},
                {"mediaType", oci::kMediaTypeImageIndex},
                {"manifests", manifests}};
  return index.dump();
}

// Blobs of the referrers that the store has (a missing one is left out: the
// image itself stays complete).
std::vector<std::string> ReferrerBlobs(const BlobStore& store, const Image& image) {
  std::vector<std::string> out;
  for (const auto& r : image.referrers) {
    if (store.Has(r.digest)) out.push_back(r.digest);
  }
  for (const auto& d : image.referrer_blobs) {
    if (store.Has(d)) out.push_back(d);
  }
  return out;
}

std::string BlobName(const std::string& digest) { return "blobs/sha256/" + DigestHex(digest); }

Status FsyncPath(const std::string& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open", path);
  if (::fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync", path);
  return Status::Ok();
}

std::string DirOf(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos) return ".";
  return pos == 0 ? "/" : path.substr(0, pos);
}

}  // namespace

Status WriteOciLayout(const BlobStore& store, const Image& image, const std::string& ref_name,
                      const std::string& dir_in) {
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string tmp = dir + ".tmp-" + std::to_string(::getpid());
  (void)RemoveTree(tmp);
  RETURN_IF_ERROR(MakeDirs(tmp + "/blobs/sha256"));
  auto fail = [&](Status st) {
    (void)RemoveTree(tmp);
    return st.WithContext("write OCI layout " + dir);
  };
  std::vector<std::string> digests = {image.config_desc.digest, image.manifest_desc.digest};
  for (const auto& l : image.layers) digests.push_back(l.digest);
  Image listed = image;
  std::erase_if(listed.referrers, [&](const oci::Descriptor& r) { return !store.Has(r.digest); });
  for (const auto& d : ReferrerBlobs(store, image)) digests.push_back(d);
  for (const auto& d : digests) {
    if (!store.Has(d)) return fail(Status::NotFound("blob " + d + " is not available locally"));
    Status st = LinkOrCopy(store.BlobPath(d), tmp + "/" + BlobName(d));
    if (!st.ok()) return fail(st);
  }
  Status st = WriteFileAtomic(tmp + "/oci-layout", kOciLayoutFile);
  if (st.ok()) st = WriteFileAtomic(tmp + "/index.json", IndexJson(listed, ref_name, false));
  if (st.ok()) st = FsyncPath(tmp + "/blobs/sha256", O_RDONLY | O_DIRECTORY);
  if (st.ok()) st = FsyncPath(tmp, O_RDONLY | O_DIRECTORY);
  if (!st.ok()) return fail(st);
  struct stat sb {};
  if (::lstat(dir.c_str(), &sb) == 0) {
    // Swap the new layout in, then remove the old one: readers see either.
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
      return fail(Status::FromErrno(errno, "rename", dir));
    }
  } else if (::rename(tmp.c_str(), dir.c_str()) != 0) {
    return fail(Status::FromErrno(errno, "rename", dir));
  }
  (void)RemoveTree(tmp);
  return FsyncPath(DirOf(dir), O_RDONLY | O_DIRECTORY);
}

namespace {

struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

Status AddBytes(struct archive* a, const std::string& name, std::string_view data) {
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                             archive_entry_free);
  archive_entry_set_pathname(e.get(), name.c_str());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), 0644);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
  if (archive_write_header(a, e.get()) != ARCHIVE_OK ||
      (!data.empty() && archive_write_data(a, data.data(), data.size()) < 0)) {
    return Status(Code::kIo, "archive " + name + ": " + archive_error_string(a));
  }
  return Status::Ok();
}

Status AddDir(struct archive* a, const std::string& name) {
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                             archive_entry_free);
  archive_entry_set_pathname(e.get(), name.c_str());
  archive_entry_set_filetype(e.get(), AE_IFDIR);
  archive_entry_set_perm(e.get(), 0755);
  if (archive_write_header(a, e.get()) != ARCHIVE_OK) {
    return Status(Code::kIo, "archive " + name + ": " + archive_error_string(a));
  }
  return Status::Ok();
}

Status AddFile(struct archive* a, const std::string& name, const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat", path);
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                             archive_entry_free);
  archive_entry_set_pathname(e.get(), name.c_str());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), 0644);
  archive_entry_set_size(e.get(), st.st_size);
  if (archive_write_header(a, e.get()) != ARCHIVE_OK) {
    return Status(Code::kIo, "archive " + name + ": " + archive_error_string(a));
  }
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read", path);
    if (n == 0) break;
    if (archive_write_data(a, buf.data(), static_cast<size_t>(n)) < 0) {
      return Status(Code::kIo, "archive " + name + ": " + archive_error_string(a));
    }
  }
  return Status::Ok();
}

}  // namespace

Status WriteDualArchive(const BlobStore& store, const Image& image, const std::string& repo_tag,
                        const std::string& path, const ArchiveOptions& options) {
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::unique_ptr<struct archive, WriteDeleter> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  if (archive_write_open_filename(a.get(), tmp.c_str()) != ARCHIVE_OK) {
    return Status(Code::kIo, "create " + tmp + ": " + archive_error_string(a.get()));
  }
  auto run = [&]() -> Status {
    json layers = json::array();
    for (const auto& l : image.layers) layers.push_back(BlobName(l.digest));
    json manifest = json::array({{{"Config", BlobName(image.config_desc.digest)},
                                  {"RepoTags", repo_tag.empty() ? json::array()
                                                                : json::array({repo_tag})},
                                  {"Layers", layers}}});
    RETURN_IF_ERROR(AddBytes(a.get(), "oci-layout", kOciLayoutFile));
    RETURN_IF_ERROR(AddBytes(a.get(), "index.json", IndexJson(image, repo_tag, true)));
    RETURN_IF_ERROR(AddBytes(a.get(), "manifest.json", manifest.dump()));
    RETURN_IF_ERROR(AddDir(a.get(), "blobs/"));
    RETURN_IF_ERROR(AddDir(a.get(), "blobs/sha256/"));
    for (const auto* d : {&image.config_desc, &image.manifest_desc}) {
      RETURN_IF_ERROR(AddFile(a.get(), BlobName(d->digest), store.BlobPath(d->digest)));
    }
    for (size_t i = 0; i < image.layers.size(); ++i) {
      const auto& l = image.layers[i];
      if (i < options.omit_first_layers) continue;
      if (!store.Has(l.digest)) {
        if (options.allow_missing_layers) continue;
        return Status::NotFound("layer " + l.digest + " is not available locally");
      }
      RETURN_IF_ERROR(AddFile(a.get(), BlobName(l.digest), store.BlobPath(l.digest)));
    }
    for (const auto& d : ReferrerBlobs(store, image)) {
      RETURN_IF_ERROR(AddFile(a.get(), BlobName(d), store.BlobPath(d)));
    }
    if (archive_write_close(a.get()) != ARCHIVE_OK) {
      return Status(Code::kIo, "close " + tmp + ": " + archive_error_string(a.get()));
    }
    RETURN_IF_ERROR(FsyncPath(tmp, O_RDONLY));
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno(errno, "rename", path);
    return FsyncPath(DirOf(path), O_RDONLY | O_DIRECTORY);
  };
  Status st = run();
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st.WithContext("write archive " + path);
  }
  return Status::Ok();
}

}  // namespace ctrsnap::layers
