#include "layers/lib/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "common/file_util.h"
#include "layers/lib/digest.h"

namespace ctrsnap::layers {
namespace {

std::string TempName(const std::string& dir) {
  static std::atomic<uint64_t> counter{0};
  return dir + "/.tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open", dir);
  if (::fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync", dir);
  return Status::Ok();
}

}  // namespace

BlobWriter::BlobWriter(const BlobStore* store, std::string tmp_path, UniqueFd fd)
    : store_(store), tmp_path_(std::move(tmp_path)),
      sink_(std::make_unique<HashingFileSink>(std::move(fd))) {}

BlobWriter::~BlobWriter() {
  if (!committed_) ::unlink(tmp_path_.c_str());
}

Status BlobWriter::Close() {
  if (closed_) return Status::Ok();
  closed_ = true;
  return sink_->Close();
}

Result<oci::Descriptor> BlobWriter::Commit(const std::string& media_type) {
  if (!closed_) return Status::Internal("BlobWriter::Commit before Close");
  std::string final_path = store_->BlobPath(sink_->digest());
  if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0) {
    return Status::FromErrno(errno, "rename blob", final_path);
  }
  committed_ = true;
  RETURN_IF_ERROR(FsyncDir(store_->root() + "/blobs/sha256"));
  oci::Descriptor d;
  d.media_type = media_type;
  d.digest = sink_->digest();
  d.size = static_cast<int64_t>(sink_->size());
  return d;
}

Result<BlobStore> BlobStore::Open(const std::string& root) {
  RETURN_IF_ERROR(MakeDirs(root + "/blobs/sha256", 0755));
  BlobStore s;
  s.root_ = root;
  return s;
}

std::string BlobStore::BlobPath(const std::string& digest) const {
  return root_ + "/blobs/sha256/" + DigestHex(digest);
}

bool BlobStore::Has(const std::string& digest) const {
  if (!IsValidDigest(digest)) return false;
  struct stat st {};
  return ::stat(BlobPath(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<int64_t> BlobStore::Size(const std::string& digest) const {
  if (!IsValidDigest(digest)) return Status::InvalidArgument("bad digest: " + digest);
  struct stat st {};
  if (::stat(BlobPath(digest).c_str(), &st) != 0) {
    return Status::FromErrno(errno, "stat blob", BlobPath(digest));
  }
  return static_cast<int64_t>(st.st_size);
}

Result<std::unique_ptr<BlobWriter>> BlobStore::NewBlob() const {
  std::string tmp = TempName(root_ + "/blobs/sha256");
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return Status::FromErrno(errno, "create blob", tmp);
  return std::unique_ptr<BlobWriter>(new BlobWriter(this, tmp, std::move(fd)));
}

Result<oci::Descriptor> BlobStore::PutBytes(std::string_view data,
                                            const std::string& media_type) const {
  std::string digest = Sha256Digest(data);
  if (Has(digest)) {
    return oci::Descriptor{media_type, digest, static_cast<int64_t>(data.size()), {}, {}};
  }
  ASSIGN_OR_RETURN(auto w, NewBlob());
  RETURN_IF_ERROR(w->Write(data));
  RETURN_IF_ERROR(w->Close());
  return w->Commit(media_type);
}

Result<std::string> BlobStore::ReadBlob(const std::string& digest, size_t max_bytes) const {
  if (!IsValidDigest(digest)) return Status::InvalidArgument("bad digest: " + digest);
  ASSIGN_OR_RETURN(int64_t size, Size(digest));
  if (static_cast<size_t>(size) > max_bytes) {
    return Status::InvalidArgument("blob " + digest + " too large to read into memory");
  }
  ASSIGN_OR_RETURN(std::string data, ReadFileToString(BlobPath(digest)));
  if (Sha256Digest(data) != digest) return Status::Corrupt("blob " + digest + " is corrupt");
  return data;
}

Status BlobStore::Import(const std::string& path, const std::string& digest) const {
  if (!IsValidDigest(digest)) return Status::InvalidArgument("bad digest: " + digest);
  if (Has(digest)) return Status::Ok();
  return LinkOrCopy(path, BlobPath(digest));
}

Status LinkOrCopy(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) == 0 || errno == EEXIST) return Status::Ok();
  if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
    return Status::FromErrno(errno, "link " + from, to);
  }
  std::string dir = to.substr(0, to.rfind('/'));
  std::string tmp = TempName(dir);
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return Status::FromErrno(errno, "open", from);
  UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!out) return Status::FromErrno(errno, "create", tmp);
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::unlink(tmp.c_str());
      return Status::FromErrno(errno, "read", from);
    }
    if (n == 0) break;
    Status st = WriteAll(out.get(), std::string_view(buf, static_cast<size_t>(n)));
    if (!st.ok()) {
      ::unlink(tmp.c_str());
      return st;
    }
  }
  if (::fsync(out.get()) != 0 || ::rename(tmp.c_str(), to.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno(err, "publish", to);
  }
  return Status::Ok();
}

}  // namespace ctrsnap::layers
