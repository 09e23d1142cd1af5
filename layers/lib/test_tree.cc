#include "layers/lib/test_tree.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <gtest/gtest.h>

#include "common/file_util.h"

namespace ctrsnap::layers::testing {

TempDir::TempDir() {
  std::string tmpl = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                     "/ctrsnap-layers-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}
TempDir::~TempDir() { (void)RemoveTree(path_); }

void WriteFile(const std::string& path, const std::string& data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  ASSERT_GE(fd, 0) << path;
  ASSERT_TRUE(WriteAll(fd, data).ok());
  ::fchmod(fd, mode);
  ::close(fd);
}

void MakeDir(const std::string& path, mode_t mode) {
  ASSERT_EQ(::mkdir(path.c_str(), mode), 0) << path;
  ::chmod(path.c_str(), mode);
}

void SetXattr(const std::string& path, const std::string& name, const std::string& value) {
  ASSERT_EQ(::lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0), 0)
      << name << " on " << path << ": " << std::strerror(errno);
}

void MakeWhiteout(const std::string& path) {
  WriteFile(path, "");
  SetXattr(path, "user.overlay.whiteout", "");
}

void MakeOpaque(const std::string& dir) { SetXattr(dir, "user.overlay.opaque", "y"); }

std::vector<TarItem> ReadTar(const std::string& bytes) {
  std::vector<TarItem> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_support_filter_all(a);
  EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK)
      << archive_error_string(a);
  archive_entry* e = nullptr;
  int rc;
  while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    TarItem t;
    t.path = archive_entry_pathname(e);
    t.perm = archive_entry_perm(e);
    t.uid = archive_entry_uid(e);
    t.gid = archive_entry_gid(e);
    t.mtime = archive_entry_mtime(e);
    t.mtime_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_hardlink(e) != nullptr) {
      t.type = 'h';
      t.link = archive_entry_hardlink(e);
    } else {
      switch (archive_entry_filetype(e)) {
        case AE_IFREG: t.type = 'f'; break;
        case AE_IFDIR: t.type = 'd'; break;
        case AE_IFLNK: t.type = 'l'; t.link = archive_entry_symlink(e); break;
        case AE_IFCHR: t.type = 'c'; break;
        case AE_IFIFO: t.type = 'p'; break;
        default: break;
      }
    }
    archive_entry_xattr_reset(e);
    const char* name;
    const void* value;
    size_t size;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      t.xattrs[name] = std::string(static_cast<const char*>(value), size);
    }
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) t.data.append(buf, static_cast<size_t>(n));
    EXPECT_GE(n, 0) << archive_error_string(a);
    out.push_back(std::move(t));
  }
  EXPECT_EQ(rc, ARCHIVE_EOF) << archive_error_string(a);
  archive_read_free(a);
  return out;
}

}  // namespace ctrsnap::layers::testing

namespace ctrsnap::layers::testing {
std::string Decompress(const std::string& bytes) {
  struct archive* a = archive_read_new();
  archive_read_support_format_raw(a);
  archive_read_support_filter_all(a);
  std::string out;
  EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK);
  archive_entry* e = nullptr;
  if (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    EXPECT_GE(n, 0) << archive_error_string(a);
  }
  archive_read_free(a);
  return out;
}
}  // namespace ctrsnap::layers::testing
