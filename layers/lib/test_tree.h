// Test helpers: build directories in overlayfs upper format without root
// (user.overlay.* xattrs) and read a layer tar back with libarchive.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace ctrsnap::layers::testing {

// A private temporary directory, removed (rm -rf) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& data, mode_t mode = 0644);
void MakeDir(const std::string& path, mode_t mode = 0755);
void SetXattr(const std::string& path, const std::string& name, const std::string& value);
// A whiteout in user-xattr form: an empty file with user.overlay.whiteout.
void MakeWhiteout(const std::string& path);
void MakeOpaque(const std::string& dir);

struct TarItem {
  std::string path;
  char type = '?';  // 'f' file, 'd' dir, 'l' symlink, 'h' hardlink, 'c' char, 'p' fifo
  std::string data;
  std::string link;  // symlink target or hardlink target
  mode_t perm = 0;
  int64_t uid = 0, gid = 0;
  int64_t mtime = 0;
  long mtime_nsec = 0;
  std::map<std::string, std::string> xattrs;
};

// Reads a (possibly gzip/zstd compressed) tar; fails the test on errors.
std::vector<TarItem> ReadTar(const std::string& bytes);

}  // namespace ctrsnap::layers::testing

namespace ctrsnap::layers::testing {
// Decompresses gzip (multi-member), zstd or plain bytes with libarchive.
std::string Decompress(const std::string& bytes);
}  // namespace ctrsnap::layers::testing
