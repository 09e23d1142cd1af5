// OverlayStack: a read-only stack of directories in overlayfs upper format
// (generation upper dirs on top, the image's lower dirs at the bottom), read
// the way the kernel's overlayfs reads them, without mounting anything.
//
// Understood on-disk forms (trusted.overlay.* and, for unprivileged tests and
// userxattr mounts, user.overlay.*):
//   whiteout   char device 0/0, or a regular file with the overlay.whiteout xattr
//   opaque     directory with overlay.opaque = "y" (or "x")
//   redirect   directory or metacopy file with overlay.redirect = "/abs" or "name"
//   metacopy   regular file with overlay.metacopy: data lives in a lower layer
//
// Security: every lookup goes through *at() calls with O_NOFOLLOW or
// OpenBeneath(); a symlink inside a layer is never followed on the host.
#pragma once

#include <sys/stat.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ctrsnap::layers {

struct RawEntry {
  struct stat st {};
  bool whiteout = false;
  bool opaque = false;    // directories only
  bool metacopy = false;  // regular files only
  std::string redirect;   // absolute container path ("/a/b") after resolution; "" if none
  std::string redirect_name;  // the xattr when relative (a name in the parent's lower dir)
  // xattrs that belong in an image (security.capability, ACLs, user.*), by name.
  std::map<std::string, std::string> xattrs;

  bool is_dir() const { return !whiteout && S_ISDIR(st.st_mode); }
};

class OverlayStack {
 public:
  // LAYERS: top first. Each is opened O_PATH|O_DIRECTORY now.
  static Result<OverlayStack> Open(const std::vector<std::string>& layers);

  size_t size() const { return fds_.size(); }
  int fd(size_t layer) const { return fds_[layer].get(); }
  const std::string& path(size_t layer) const { return paths_[layer]; }

  // Looks up relative path REL ("" = root; no leading slash) in LAYER.
  // Returns nullopt when it does not exist. Refuses symlinked parents.
  Result<std::optional<RawEntry>> Lookup(size_t layer, const std::string& rel) const;

  // The names in directory REL of LAYER, sorted. Missing dir: empty.
  Result<std::vector<std::string>> ListDir(size_t layer, const std::string& rel) const;

  // Where the data of a metacopy file at REL in LAYER lives: the first layer
  // below LAYER holding a regular, non-metacopy file at the (redirected) path.
  // Ancestors' directory redirects are followed (a file under a directory
  // renamed in a newer layer), as overlayfs does.
  Result<std::pair<size_t, std::string>> FindData(size_t layer, const std::string& rel,
                                                  const RawEntry& entry) const;

  // The path of PATH in each layer from START down, following directory
  // redirects; "" for layers START skips or an opaque directory hides.
  Result<std::vector<std::string>> PathsBelow(size_t start, const std::string& path) const;

  // Opens REL in LAYER for reading (O_NOFOLLOW, beneath the layer).
  Result<UniqueFd> OpenFile(size_t layer, const std::string& rel) const;

 private:
  std::vector<UniqueFd> fds_;
  std::vector<std::string> paths_;
};

// "/a/./b/" -> "a/b"; refuses "..".
Result<std::string> CleanRelPath(std::string_view path);

// Reads overlay and image xattrs of FD (a regular file or directory) into E.
Status ReadEntryXattrs(int fd, const std::string& rel, RawEntry* e);

}  // namespace ctrsnap::layers
