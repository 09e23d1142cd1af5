#include "tests/faults/fault_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "common/file_util.h"
#include "common/unique_fd.h"
#include "layers/lib/blob_store.h"
#include "layers/lib/digest.h"
#include "layers/lib/image.h"
#include "layers/lib/snapshot.h"
#include "layers/lib/snapshot_record.h"

namespace ctrsnap::faulttest {

ShResult Ctrsnap(const std::string& dir, const std::string& args) {
  const char* bin = std::getenv("CTRSNAP_BIN_DIR");
  std::string exe = std::string(bin ? bin : "build/bin") + "/ctrsnap";
  return testing::Sh("CTRSNAP_ROOT=" + dir + "/root CTRSNAP_CONFIG=" + dir +
                     "/no-config.json " + exe + " " + args);
}

Snap SnapshotAndUnpack(const std::string& dir, const std::string& state, int n,
                       const std::string& extra) {
  Snap s;
  std::string tag = "t:" + std::to_string(n);
  std::string layout = dir + "/layout-" + std::to_string(n);
  auto r = Ctrsnap(dir, "snapshot --state " + state + " -o " + layout + " --tag " + tag +
                            " --json --no-progress " + extra);
  s.rc = r.rc;
  s.out = r.out;
  if (r.rc != 0) return s;
  auto brace = r.out.find('{');
  try {
    s.json = nlohmann::json::parse(r.out.substr(brace == std::string::npos ? 0 : brace));
  } catch (const nlohmann::json::exception& e) {
    s.rc = 200;
    s.out += std::string("\n(unparsable JSON: ") + e.what() + ")";
    return s;
  }
  std::string bundle = dir + "/bundle-" + std::to_string(n);
  auto u = testing::Sh("umoci unpack --image " + layout + ":" + tag + " " + bundle);
  if (u.rc != 0) {
    s.rc = 201;
    s.out += "\numoci: " + u.out;
    return s;
  }
  s.rootfs = bundle + "/rootfs";
  return s;
}

namespace {

Status CheckBlob(const layers::BlobStore& store, const std::string& digest) {
  UniqueFd fd(::open(store.BlobPath(digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open blob", digest);
  layers::Sha256 h;
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) return Status::FromErrno(errno, "read blob", digest);
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
  }
  std::string got = h.Finish();
  if (got != digest) return Status::Corrupt("blob " + digest + " hashes to " + got);
  return Status::Ok();
}

}  // namespace

Status VerifySnapshotStore(const std::string& state) {
  ASSIGN_OR_RETURN(auto records, layers::LoadSnapshotRecords(state));
  ASSIGN_OR_RETURN(auto store, layers::OpenSnapshotStore(state));
  uint64_t want = 1;
  for (const auto& r : records) {
    if (r.sequence != want++) {
      return Status::Corrupt("snapshot records not numbered 1..N at " + std::to_string(r.sequence));
    }
    RETURN_IF_ERROR(CheckBlob(store, r.manifest_digest));
    RETURN_IF_ERROR(CheckBlob(store, r.config_digest));
    ASSIGN_OR_RETURN(auto img, layers::LoadImage(store, r.manifest_digest));
    for (const auto& l : img.layers) RETURN_IF_ERROR(CheckBlob(store, l.digest));
    if (img.layers.empty() || img.layers.back().digest != r.layer.digest) {
      return Status::Corrupt("snapshot " + std::to_string(r.sequence) +
                             ": its layer is not the image's top layer");
    }
  }
  return Status::Ok();
}

bool Alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

bool TreeContains(const std::string& root, const std::string& needle) {
  auto r = testing::Sh("cd '" + root + "' && { find . -type f -print0 | xargs -0r cat; " +
                       "find . -type l -printf '%l\\n'; find . -printf '%p\\n'; } | grep -qaF -- '" +
                       needle + "'");
  return r.rc == 0;
}

bool LayoutContains(const std::string& layout, const std::string& needle) {
  auto r = testing::Sh("for b in '" + layout + "'/blobs/sha256/*; do zcat -f \"$b\"; done | " +
                       "grep -qaF -- '" + needle + "'");
  return r.rc == 0;
}

Result<std::map<std::string, LayerEntry>> ReadLayer(const std::string& layout,
                                                    const std::string& digest) {
  std::string path = layout + "/blobs/sha256/" + digest.substr(digest.find(':') + 1);
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_all(a);
  std::map<std::string, LayerEntry> out;
  Status st = Status::Ok();
  if (archive_read_open_filename(a, path.c_str(), 1 << 20) != ARCHIVE_OK) {
    st = Status::Internal("open layer " + path + ": " + archive_error_string(a));
  }
  archive_entry* e = nullptr;
  while (st.ok()) {
    int rc = archive_read_next_header(a, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      st = Status::Internal(std::string("read layer: ") + archive_error_string(a));
      break;
    }
    LayerEntry le;
    le.type = archive_entry_filetype(e);
    le.size = archive_entry_size(e);
    if (const char* s = archive_entry_symlink(e)) le.symlink = s;
    if (const char* h = archive_entry_hardlink(e)) le.hardlink = h;
    le.rdev = archive_entry_rdev(e);
    if (le.type == AE_IFREG && le.size <= (1 << 20)) {
      le.data.resize(static_cast<size_t>(le.size));
      if (le.size > 0 && archive_read_data(a, le.data.data(), le.data.size()) != le.size) {
        st = Status::Internal("short read of " + std::string(archive_entry_pathname(e)));
      }
    }
    out[archive_entry_pathname(e)] = std::move(le);
  }
  archive_read_free(a);
  if (!st.ok()) return st;
  return out;
}

}  // namespace ctrsnap::faulttest
