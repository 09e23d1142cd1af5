#include "layers/lib/layer_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <iterator>
#include <map>
#include <memory>

#include "common/file_util.h"
#include "common/unique_fd.h"

namespace ctrsnap::layers {
namespace {

constexpr size_t kReadChunk = 1 << 20;
constexpr char kOpaqueMarker[] = ".wh..wh..opq";
constexpr char kWhiteoutPrefix[] = ".wh.";

// Receives libarchive's output: hashes it (diff_id) and forwards it.
struct StreamCtx {
  ByteSink* out;
  Sha256 hash;
  uint64_t bytes = 0;
  Status error;
  const std::function<void(uint64_t)>* progress = nullptr;
  uint64_t next_progress = 0;
  bool aborted = false;
};

la_ssize_t WriteCb(struct archive* a, void* client, const void* buf, size_t len) {
  auto* ctx = static_cast<StreamCtx*>(client);
  if (ctx->aborted) {
    archive_set_error(a, ECANCELED, "layer aborted");
    return -1;
  }
  ctx->hash.Update(buf, len);
  ctx->bytes += len;
  Status st = ctx->out->Write(std::string_view(static_cast<const char*>(buf), len));
  if (!st.ok()) {
    ctx->error = st;
    archive_set_error(a, st.err() ? st.err() : EIO, "%s", st.message().c_str());
    return -1;
  }
  if (ctx->progress && *ctx->progress && ctx->bytes >= ctx->next_progress) {
    (*ctx->progress)(ctx->bytes);
    ctx->next_progress = ctx->bytes + (8 << 20);
  }
  return static_cast<la_ssize_t>(len);
}

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;

// True when NAME survives a PAX "SCHILY.xattr.NAME" record unchanged.
bool StorableXattrName(const std::string& name) {
  for (unsigned char c : name) {
    if (c < 33 || c > 126 || c == '%' || c == '=') return false;
  }
  return true;
}

bool IsUnder(const std::string& path, const std::string& prefix) {
  if (prefix == "/") return true;
  return path == prefix || (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
                            path[prefix.size()] == '/');
}

class Writer {
 public:
  Writer(const OverlayStack& stack, const LayerWriterOptions& o, struct archive* a,
         const Status* stream_error)
      : stack_(stack), opts_(o), a_(a), stream_error_(stream_error) {
    zeros_.assign(kReadChunk, '\0');
    for (const auto& p : o.excluded_paths) {
      std::string clean = p;
      while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
      if (!clean.empty() && clean[0] != '/') clean = "/" + clean;
      if (!clean.empty()) excluded_.push_back(clean);
    }
  }

  Status Dir(const ChangeNode& node) {
    // Order: opaque marker, whiteouts, then the rest; children are sorted by
    // name already, and ".wh.X" names only come from whiteout nodes (Skip
    // leaves out the container's own files of that name).
    if (node.opaque) RETURN_IF_ERROR(Marker(node, JoinTar(node.path, kOpaqueMarker)));
    for (const auto& c : node.children) {
      if (!c->is_whiteout() || Skip(*c)) continue;
      RETURN_IF_ERROR(Marker(*c, JoinTar(node.path, std::string(kWhiteoutPrefix) + c->name)));
      stats.deleted++;
    }
    for (const auto& c : node.children) {
      if (c->is_whiteout() || Skip(*c)) continue;
      RETURN_IF_ERROR(Entry(*c));
      if (c->is_dir()) RETURN_IF_ERROR(Dir(*c));
    }
    return Status::Ok();
  }

  LayerStats stats;

 private:
  static std::string JoinTar(const std::string& dir, const std::string& name) {
    return dir.empty() ? name : dir + "/" + name;
  }

  bool Skip(const ChangeNode& n) {
    std::string abs = "/" + n.path;
    // A container's own file named ".wh.X" cannot be stored: every consumer
    // of the layer would read it as a whiteout and delete X (and drop the
    // file). Leave it out, with a reason.
    if (!n.is_whiteout() && n.name.rfind(kWhiteoutPrefix, 0) == 0) {
      stats.excluded.push_back(abs + ": name starts with " + kWhiteoutPrefix +
                               " (reserved for whiteouts in OCI layers)");
      return true;
    }
    if (opts_.exclude_runtime_files && !n.is_dir()) {
      for (const auto& p : RuntimeInjectedPaths()) {
        if (abs == p) {
          stats.excluded.push_back(abs + ": injected by the container runtime");
          return true;
        }
      }
    }
    for (const auto& p : excluded_) {
      if (IsUnder(abs, p)) {
        if (abs == p) stats.excluded.push_back(abs + ": bind mount or volume");
        return true;
      }
    }
    return false;
  }

  EntryPtr NewEntry(const std::string& path, const struct stat& st) {
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_uid(e.get(), st.st_uid);
    archive_entry_set_gid(e.get(), st.st_gid);
    archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    return e;
  }

  Status Header(archive_entry* e, const std::string& path) {
    int rc = archive_write_header(a_, e);
    if (rc < ARCHIVE_WARN) {
      if (!stream_error_->ok()) return *stream_error_;
      return Status(Code::kIo, "tar header " + path + ": " + archive_error_string(a_));
    }
    return Status::Ok();
  }

  // A zero-length marker file (whiteout or opaque marker) owned by root.
  Status Marker(const ChangeNode& n, const std::string& path) {
    struct stat st = n.entry.st;
    st.st_uid = 0;
    st.st_gid = 0;
    EntryPtr e = NewEntry(path, st);
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), 0);
    return Header(e.get(), path);
  }

  Status Refuse(const FilterDecision& d, const std::string& abs) {
    std::string rules;
    for (const auto& f : d.findings) rules += (rules.empty() ? "" : ", ") + f.rule;
    return Status(Code::kPermissionDenied,
                  "policy refuses " + abs + (rules.empty() ? "" : " (" + rules + ")"));
  }

  // Applies a filter decision; returns whether the entry stays.
  Result<bool> Apply(const FilterDecision& d, const std::string& abs) {
    if (d.action == FilterAction::kFail) return Refuse(d, abs);
    for (const auto& f : d.findings) stats.findings.push_back(f);
    return d.action != FilterAction::kDrop;
  }

  Status Entry(const ChangeNode& n) {
    const struct stat& st = n.entry.st;
    std::string abs = "/" + n.path;
    std::string path = n.path;
    if (n.is_dir()) {
      EntryPtr e = NewEntry(path + "/", st);
      archive_entry_set_filetype(e.get(), AE_IFDIR);
      archive_entry_set_perm(e.get(), st.st_mode & 07777);
      AddXattrs(e.get(), n);
      stats.directories++;
      return Header(e.get(), path);
    }
    if (S_ISSOCK(st.st_mode)) return Status::Ok();  // tar cannot carry sockets
    FilterEntry fe{abs, st.st_mode, st.st_uid, st.st_gid, static_cast<uint64_t>(st.st_size)};
    ASSIGN_OR_RETURN(bool keep, Apply(opts_.filter->EvaluatePath(fe), abs));
    if (!keep) return Status::Ok();

    EntryPtr e = NewEntry(path, st);
    archive_entry_set_perm(e.get(), st.st_mode & 07777);
    AddXattrs(e.get(), n);
    if (S_ISREG(st.st_mode)) {
      ASSIGN_OR_RETURN(UniqueFd fd, stack_.OpenFile(n.data_layer, n.data_path));
      struct stat dst {};
      if (::fstat(fd.get(), &dst) != 0) return Status::FromErrno(errno, "fstat", abs);
      fe.size = static_cast<uint64_t>(dst.st_size);
      if (st.st_nlink > 1) {
        fe.link_dev = static_cast<uint64_t>(st.st_dev);
        fe.link_ino = static_cast<uint64_t>(st.st_ino);
      }
      ASSIGN_OR_RETURN(keep, Apply(opts_.filter->EvaluateContent(fe, fd.get()), abs));
      if (!keep) return Status::Ok();
      RETURN_IF_ERROR(CheckSparse(dst, abs));
      Count(n);
      archive_entry_set_filetype(e.get(), AE_IFREG);
      if (st.st_nlink > 1) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        auto it = links_.find(key);
        if (it != links_.end()) {
          archive_entry_set_size(e.get(), 0);
          archive_entry_set_hardlink(e.get(), it->second.c_str());
          stats.hardlinks++;
          return Header(e.get(), path);
        }
        links_.emplace(key, path);
      }
      archive_entry_set_size(e.get(), dst.st_size);
      RETURN_IF_ERROR(Header(e.get(), path));
      return Data(fd.get(), static_cast<uint64_t>(dst.st_size), abs);
    }
    Count(n);
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(std::max<off_t>(st.st_size, 0)) + 1, '\0');
      ASSIGN_OR_RETURN(UniqueFd parent, ParentFd(n));
      std::string name = n.src_path.substr(n.src_path.rfind('/') + 1);
      ssize_t len = ::readlinkat(parent.get(), name.c_str(), target.data(), target.size());
      if (len < 0) return Status::FromErrno(errno, "readlink", abs);
      target.resize(static_cast<size_t>(len));
      archive_entry_set_filetype(e.get(), AE_IFLNK);
      archive_entry_set_symlink(e.get(), target.c_str());
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      archive_entry_set_filetype(e.get(), S_ISCHR(st.st_mode) ? AE_IFCHR : AE_IFBLK);
      archive_entry_set_rdev(e.get(), st.st_rdev);
    } else if (S_ISFIFO(st.st_mode)) {
      archive_entry_set_filetype(e.get(), AE_IFIFO);
    }
    return Header(e.get(), path);
  }

  // Refuses a file whose holes would be written as more than
  // max_sparse_bytes of zeros (see LayerWriterOptions). Allocated blocks
  // bound the data; the rest of the size is holes.
  Status CheckSparse(const struct stat& st, const std::string& abs) const {
    if (opts_.max_sparse_bytes == 0 || st.st_size <= 0) return Status::Ok();
    uint64_t size = static_cast<uint64_t>(st.st_size);
    uint64_t allocated = static_cast<uint64_t>(st.st_blocks) * 512;
    if (allocated >= size || size - allocated <= opts_.max_sparse_bytes) return Status::Ok();
    return Status(Code::kInvalidArgument,
                  abs + " is a sparse file of " + HumanBytes(size) + " with " +
                      HumanBytes(allocated) + " of data: OCI layers cannot hold holes, so it " +
                      "would add " + HumanBytes(size - allocated) + " of zeros to the layer " +
                      "(more than the limit of " + HumanBytes(opts_.max_sparse_bytes) +
                      "); leave it out with --exclude " + abs +
                      ", or raise the limit with --max-sparse-size");
  }

  static std::string HumanBytes(uint64_t n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = static_cast<double>(n);
    size_t u = 0;
    while (v >= 1024 && u + 1 < std::size(units)) {
      v /= 1024;
      ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
  }

  Result<UniqueFd> ParentFd(const ChangeNode& n) {
    // The entry's own directory in the layer that holds it (src_path differs
    // from path inside a flattened, renamed directory).
    auto pos = n.src_path.rfind('/');
    std::string parent = pos == std::string::npos ? "" : n.src_path.substr(0, pos);
    return OpenBeneath(stack_.fd(n.layer), parent, O_PATH | O_DIRECTORY);
  }

  void Count(const ChangeNode& n) {
    if (n.existed_below) {
      stats.changed++;
    } else {
      stats.added++;
    }
  }

  void AddXattrs(archive_entry* e, const ChangeNode& n) {
    for (const auto& [name, value] : n.entry.xattrs) {
      // libarchive URL-encodes xattr names holding bytes outside 33..126, '%'
      // or '=' in the "SCHILY.xattr.NAME" record, and readers (libarchive, Go's
      // archive/tar) do not decode them: such an xattr would come back under
      // another name. Leave it out and say so.
      if (!StorableXattrName(name)) {
        stats.excluded.push_back("/" + n.path + ": xattr left out (its name holds bytes a tar " +
                                 "xattr record cannot carry)");
        continue;
      }
      archive_entry_xattr_add_entry(e, name.c_str(), value.data(), value.size());
    }
  }

  // Streams SIZE bytes of FD; holes are not read, zeros are written for them.
  Status Data(int fd, uint64_t size, const std::string& abs) {
    std::string buf(kReadChunk, '\0');
    uint64_t off = 0;
    while (off < size) {
      off_t data = ::lseek(fd, static_cast<off_t>(off), SEEK_DATA);
      uint64_t data_at = data < 0 ? size : std::min<uint64_t>(static_cast<uint64_t>(data), size);
      while (off < data_at) {  // a hole
        size_t n = static_cast<size_t>(std::min<uint64_t>(data_at - off, kReadChunk));
        RETURN_IF_ERROR(Put(zeros_.data(), n, abs));
        off += n;
      }
      if (off >= size) break;
      off_t hole = ::lseek(fd, static_cast<off_t>(off), SEEK_HOLE);
      uint64_t hole_at = hole < 0 ? size : std::min<uint64_t>(static_cast<uint64_t>(hole), size);
      while (off < hole_at) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(hole_at - off, kReadChunk));
        ssize_t got = ::pread(fd, buf.data(), want, static_cast<off_t>(off));
        if (got < 0) {
          if (errno == EINTR) continue;
          return Status::FromErrno(errno, "read", abs);
        }
        if (got == 0) return Status::Corrupt(abs + ": file shrank while it was read");
        RETURN_IF_ERROR(Put(buf.data(), static_cast<size_t>(got), abs));
        off += static_cast<uint64_t>(got);
      }
    }
    stats.content_bytes += size;
    return Status::Ok();
  }

  Status Put(const char* p, size_t n, const std::string& abs) {
    la_ssize_t w = archive_write_data(a_, p, n);
    if (w < 0 || static_cast<size_t>(w) != n) {
      if (!stream_error_->ok()) return *stream_error_;
      return Status(Code::kIo, "tar data " + abs + ": " + archive_error_string(a_));
    }
    return Status::Ok();
  }

  const OverlayStack& stack_;
  const LayerWriterOptions& opts_;
  struct archive* a_;
  const Status* stream_error_;
  std::vector<std::string> excluded_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  std::string zeros_;
};

}  // namespace

const std::vector<std::string>& RuntimeInjectedPaths() {
  static const std::vector<std::string> kPaths = {"/etc/hosts", "/etc/resolv.conf",
                                                  "/etc/hostname", "/.dockerenv"};
  return kPaths;
}

Result<LayerStats> WriteLayer(const OverlayStack& stack, const ChangeNode& root,
                              const LayerWriterOptions& options, ByteSink* out) {
  if (options.filter == nullptr) return Status::InvalidArgument("WriteLayer: no filter");
  // ctx outlives the archive: freeing an archive may still flush through it.
  StreamCtx ctx{out, Sha256(), 0, Status::Ok(), &options.progress, 0, false};
  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_write_new());
  if (!a) return Status::Internal("archive_write_new failed");
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_set_format_option(a.get(), "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
      archive_write_set_format_option(a.get(), "pax", "hdrcharset", "BINARY") != ARCHIVE_OK) {
    return Status::Internal(std::string("libarchive pax options: ") + archive_error_string(a.get()));
  }
  // Large blocks: fewer callbacks; the last block is not padded beyond the
  // end-of-archive marker.
  archive_write_set_bytes_per_block(a.get(), 1 << 20);
  archive_write_set_bytes_in_last_block(a.get(), 1);
  if (archive_write_open2(a.get(), &ctx, nullptr, WriteCb, nullptr, nullptr) != ARCHIVE_OK) {
    return Status::Internal(std::string("archive open: ") + archive_error_string(a.get()));
  }
  Writer w(stack, options, a.get(), &ctx.error);
  Status st = w.Dir(root);
  if (!st.ok()) {
    ctx.aborted = true;  // freeing the archive flushes nothing more into OUT
    if (!ctx.error.ok()) return ctx.error;
    return st;
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    if (!ctx.error.ok()) return ctx.error;
    return Status(Code::kIo, std::string("tar close: ") + archive_error_string(a.get()));
  }
  RETURN_IF_ERROR(out->Close());
  LayerStats stats = std::move(w.stats);
  stats.diff_id = ctx.hash.Finish();
  stats.tar_bytes = ctx.bytes;
  return stats;
}

}  // namespace ctrsnap::layers
