// ChangeSet: what a range of generations changed, read from their upper
// directories (overlayfs upper format) and attributed to the processes that
// did it from the write journal. Backs `ctrsnap diff`.
//
// Upper format, as the kernel writes it:
//   whiteout      character device 0/0: the path was deleted
//   opaque dir    xattr trusted.overlay.opaque = "y": the directory hides
//                 everything below it (it was removed and recreated)
//   redirect      xattr trusted.overlay.redirect on a directory: it was
//                 renamed from that path (absolute, or relative to its parent)
//   metacopy      xattr trusted.overlay.metacopy on a file: only metadata was
//                 copied up; the data still lives below
// Reading trusted.* xattrs needs CAP_SYS_ADMIN; without it, opaque/redirect/
// metacopy markers are not seen.
//
// Security: the trees read here were written by the container. Nothing is
// ever opened through a symlink: every directory is opened with
// O_NOFOLLOW relative to its parent's fd, and lower lookups go component by
// component with fstatat(AT_SYMLINK_NOFOLLOW).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "fusefs/journal/journal_entry.h"

namespace ctrsnap {

enum class ChangeKind { kAdded, kChanged, kDeleted };
char ChangeKindMarker(ChangeKind kind);  // 'A', 'C', 'D' (docker diff's letters)

// One process that changed a path, aggregated over journal entries.
struct ChangeWriter {
  int32_t pid = 0;
  std::string comm;
  uint32_t uid = 0;
  uint64_t ops = 0;            // journal entries that touched the path
  uint64_t bytes_written = 0;  // sum of write/copy_file_range lengths
};

struct Change {
  ChangeKind kind = ChangeKind::kChanged;
  std::string path;      // "/etc/passwd"
  char type = '?';       // f d l c b p s; '-' for a deletion
  uint64_t size = 0;     // regular files: size after the change; 0 otherwise
  mode_t mode = 0;       // st_mode after the change (0 for deletions)
  uint64_t generation = 0;  // the newest generation in the range that touched the path
  bool opaque = false;      // directory replaced: its old contents are gone
  bool metacopy = false;    // only metadata changed
  std::string redirect;     // directory renamed from here (as stored)
  std::vector<ChangeWriter> writers;  // from the journal, most ops first
  int64_t last_change_ns = 0;         // newest journal entry for the path
};

// The overlay stack a range of generations sits on: the layers below the
// oldest generation of the range, top first (older generations' upper dirs,
// then the lower dirs).
struct DiffInput {
  // Upper dirs of the range, OLDEST first, with their generation ids.
  std::vector<std::pair<uint64_t, std::string>> uppers;
  std::vector<std::string> below;  // top first
};

// The net change set of DIFF_INPUT, sorted by path: later generations
// override earlier ones; a path added and deleted within the range does not
// appear; Added vs Changed is decided by whether the path exists in `below`.
Result<std::vector<Change>> ComputeChangeSet(const DiffInput& input);

// Fills writers/last_change_ns of CHANGES from ENTRIES (any order). An entry
// counts for its path, and for path2 of rename (the destination), link (the
// new name) and copy_file_range (none: path2 is the source).
void AttributeWriters(std::vector<Change>& changes, const std::vector<JournalEntry>& entries);

// True when PATH exists in the merged view of LAYERS (top first), honouring
// whiteouts and opaque directories. PATH is absolute ("/a/b").
Result<bool> ExistsInLayers(const std::vector<std::string>& layers, const std::string& path);

// Size of one upper dir: apparent bytes of its regular files, and its
// entries other than directories (whiteouts included).
struct UpperUsage {
  uint64_t bytes = 0;
  uint64_t files = 0;
  uint64_t dirs = 0;
};
Result<UpperUsage> MeasureUpper(const std::string& upper_dir);

}  // namespace ctrsnap
