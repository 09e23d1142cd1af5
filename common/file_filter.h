// FileFilter: what the layer writer asks before a file goes into a layer.
// The policy engine (layers/policy) implements it; the layer writer, `ctrsnap
// scan` and tests use it. Kept here so neither side depends on the other.
//
// Contract:
//   - Directories are always kept (path, owner and mode), so an image whose
//     caches were stripped still has /tmp, ~/.cache, ... with their modes.
//   - EvaluatePath() decides from the path and metadata alone (caches,
//     credential files by path, user globs). It is called for every
//     non-directory entry.
//   - EvaluateContent() is called only for regular files EvaluatePath() kept;
//     FD is open read-only on the file's bytes (use pread; do not assume the
//     offset). It scans for secrets.
//   - A finding never holds a secret's whole value: `masked` shows at most the
//     first and last few characters.
//   - Implementations are thread-safe for concurrent Evaluate* calls.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ctrsnap {

struct FilterEntry {
  std::string path;  // absolute path in the container: "/root/.aws/credentials"
  mode_t mode = 0;   // full st_mode (type and permissions)
  uid_t uid = 0;
  gid_t gid = 0;
  uint64_t size = 0;
  // Identity of a hard-linked file (st_nlink > 1) in the tree being filtered,
  // else 0: its names share their content, so a filter may scan it once.
  uint64_t link_dev = 0;
  uint64_t link_ino = 0;
};

enum class FilterAction {
  kKeep,        // goes into the layer
  kKeepReport,  // goes into the layer, and the finding is reported
  kDrop,        // left out of the layer, finding reported
  kFail,        // the whole snapshot must fail (e.g. --on-secret fail)
};

struct FilterFinding {
  std::string rule;    // rule id: "cache.pip", "secret.aws-access-key-id", "path.aws-credentials"
  std::string kind;    // "cache" | "secret" | "credential-path" | "excluded" | "large-download"
  std::string path;    // container path, or "env:NAME" for an environment variable
  uint64_t line = 0;   // 1-based line of a content finding; 0 when not line-based
  std::string masked;  // masked value for secrets; empty for path rules
  std::string reason;  // one human sentence: why
  uint64_t bytes = 0;  // size of the file concerned
  FilterAction action = FilterAction::kKeep;
};

struct FilterDecision {
  FilterAction action = FilterAction::kKeep;
  std::vector<FilterFinding> findings;
};

class FileFilter {
 public:
  virtual ~FileFilter() = default;
  virtual FilterDecision EvaluatePath(const FilterEntry& entry) const = 0;
  virtual FilterDecision EvaluateContent(const FilterEntry& entry, int fd) const = 0;
  // Removes secret-looking variables ("NAME=value") from ENV in place and
  // returns one finding per removed variable (path "env:NAME").
  virtual std::vector<FilterFinding> FilterEnv(std::vector<std::string>* env) const = 0;
};

// Keeps everything: for --full and for tests.
class KeepAllFilter final : public FileFilter {
 public:
  FilterDecision EvaluatePath(const FilterEntry&) const override { return {}; }
  FilterDecision EvaluateContent(const FilterEntry&, int) const override { return {}; }
  std::vector<FilterFinding> FilterEnv(std::vector<std::string>*) const override { return {}; }
};

}  // namespace ctrsnap
