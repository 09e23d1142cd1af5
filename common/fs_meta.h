// FsMeta: the persistent description of one ctrsnap-fs state directory
// (STATE/fs.json): the lower directories and the stack of generations.
//
// Invariants:
//   - generations are ordered by id, ids start at 1 and increase by one;
//   - exactly one generation, the last, is live (sealed == false); every other
//     generation is sealed and its upper directory never changes again;
//   - a generation with compacted_into set is sealed, its upper is empty, and
//     compacted_into names a later generation;
//   - fs.json is replaced atomically (WriteFileAtomic), so a crash leaves
//     either the state before a seal or the state after it.
// The daemon is the only writer; the CLI, the layer writer and the hook read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace ctrsnap {

struct GenerationMeta {
  uint64_t id = 0;
  std::string label;          // "setup" for the setup generation, or a user label
  bool sealed = false;
  int64_t created_unix_ns = 0;
  int64_t sealed_unix_ns = 0;  // 0 while live
  // Digest of the snapshot layer that contains this generation, once exported
  // (set by `ctrsnap snapshot`, recorded through the daemon or offline).
  std::string exported_in;
  // Compaction (fusefs/core/state_dir_compact.cc) merges consecutive exported
  // generations FROM..N into N: N gets compacted_from = FROM and holds the
  // merged tree; each id in FROM..N-1 stays listed, with compacted_into = N
  // and an empty upper directory (so a stack of every gen/K/upper still shows
  // the same tree). 0: not compacted.
  uint64_t compacted_from = 0;
  uint64_t compacted_into = 0;
};

struct FsMeta {
  static constexpr int kVersion = 1;

  int version = kVersion;
  std::vector<std::string> lowerdirs;  // leftmost is the top, as in overlayfs
  std::vector<GenerationMeta> generations;

  // REQUIRES: !generations.empty()
  const GenerationMeta& live() const { return generations.back(); }
  const GenerationMeta* Find(uint64_t id) const;
  // The sealed generations with exported_in empty, oldest first.
  std::vector<const GenerationMeta*> UnexportedSealed() const;

  Status Validate() const;
  std::string ToJson() const;
  static Result<FsMeta> FromJson(std::string_view text);

  // Read STATE/fs.json; Corrupt/NotFound errors name the file.
  static Result<FsMeta> Load(const std::string& state_dir);
  // Atomic replace of STATE/fs.json.
  Status Save(const std::string& state_dir) const;
};

}  // namespace ctrsnap
