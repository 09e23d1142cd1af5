// LayerWriter: a ChangeSet -> one OCI layer tar (PAX, libarchive), streamed
// through a compressor into a sink while the uncompressed bytes are hashed
// (the diff_id).
//
// Tar contents (OCI image-spec v1.1 "Representing Changes"):
//   - entries sorted depth-first, parents before children; inside a directory
//     the opaque marker (.wh..wh..opq) first, then whiteouts (.wh.NAME), then
//     the other names, all in byte order;
//   - owners numeric (uname/gname empty), mode, mtime with nanoseconds; no
//     atime/ctime; xattrs as SCHILY.xattr.*; hard links within the layer as
//     link entries (when the first member is left out, the next kept member
//     carries the data);
//   - deterministic: the same change set gives the same bytes.
// Never written: runtime-injected files (/etc/hosts, /etc/resolv.conf,
// /etc/hostname, /.dockerenv), anything at or under an excluded path (bind
// mounts, volumes), sockets, and what the FileFilter drops.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/file_filter.h"
#include "common/status.h"
#include "layers/lib/byte_sink.h"
#include "layers/lib/change_set.h"
#include "layers/lib/overlay_stack.h"

namespace ctrsnap::layers {

struct LayerWriterOptions {
  const FileFilter* filter = nullptr;  // required
  // Container paths ("/data") left out with everything under them.
  std::vector<std::string> excluded_paths;
  bool exclude_runtime_files = true;
  // Sparse files: an OCI layer cannot carry holes (image-spec: "sparse files
  // SHOULD NOT be used"), so each hole is written as zeros and a 1 TB sparse
  // file of 4 KiB of data would make a 1 TB tar. A kept file whose holes
  // would add more than this many bytes fails the layer with a message
  // naming it and the ways out (exclude it, or raise the limit); 0 = no limit.
  uint64_t max_sparse_bytes = kDefaultMaxSparseBytes;
  static constexpr uint64_t kDefaultMaxSparseBytes = 1ull << 30;
  // Called now and then with the uncompressed bytes written so far.
  std::function<void(uint64_t)> progress;
};

struct LayerStats {
  std::string diff_id;         // sha256 of the uncompressed tar
  uint64_t tar_bytes = 0;      // uncompressed size
  uint64_t content_bytes = 0;  // file data bytes
  uint64_t added = 0;          // non-directories new in this layer
  uint64_t changed = 0;        // non-directories that existed below
  uint64_t deleted = 0;        // whiteouts
  uint64_t directories = 0;
  uint64_t hardlinks = 0;
  std::vector<FilterFinding> findings;  // dropped or reported by the filter
  std::vector<std::string> excluded;    // left out: runtime files, bind mounts ("/path: why")
};

// The paths a runtime injects into every container.
const std::vector<std::string>& RuntimeInjectedPaths();

// Writes the layer for ROOT (from BuildChangeSet over STACK) into OUT (a
// compressor or a file sink), closing OUT at the end.
Result<LayerStats> WriteLayer(const OverlayStack& stack, const ChangeNode& root,
                              const LayerWriterOptions& options, ByteSink* out);

}  // namespace ctrsnap::layers
