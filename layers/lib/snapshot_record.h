// SnapshotRecord: what `ctrsnap snapshot` leaves in STATE/snapshots/:
//   snapshots/<seq>.json   one record per snapshot (atomic replace)
//   snapshots/blobs/sha256/<hex>   the blobs of every snapshot (each stores
//                          only its new layer, config and manifest; earlier
//                          layers are shared)
//   snapshots/base.json    the base image built from the lower dir, if any
//   snapshots/lock         flock held while a snapshot is being taken
//   snapshots/index.json, oci-layout   the store is also an OCI image layout
//                          naming every snapshot by its tag
//
// Which generations are exported: fs.json's exported_in (written offline,
// under the state lock) combined with the records' "generations" (written
// while the daemon owns fs.json). ExportedGenerations() combines both.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/file_filter.h"
#include "common/fs_meta.h"
#include "common/oci_image.h"
#include "common/status.h"

namespace ctrsnap::layers {

struct StrippedItem {
  std::string path;
  std::string rule;
  std::string kind;
  std::string reason;
  uint64_t bytes = 0;
  std::string action;  // "dropped" | "reported" | "excluded"
};

struct SnapshotRecord {
  uint64_t sequence = 0;
  std::string created;  // RFC 3339
  std::string container_id;
  std::string tag;
  std::string manifest_digest;
  std::string config_digest;
  oci::Descriptor layer;  // the new layer
  std::string diff_id;
  uint64_t tar_bytes = 0;
  std::vector<uint64_t> generations;
  std::string parent_manifest;  // previous snapshot or base image manifest
  std::string base_name;
  std::string base_digest;
  bool squash = false;
  std::string compression;
  uint64_t added = 0, changed = 0, deleted = 0;
  std::vector<StrippedItem> stripped;
  double seconds = 0;

  nlohmann::json ToJson() const;
  static Result<SnapshotRecord> FromJson(const nlohmann::json& j);
};

std::string SnapshotStoreRoot(const std::string& state);  // STATE/snapshots
std::string SnapshotRecordPath(const std::string& state, uint64_t seq);

// All records, by sequence. A missing snapshots/ dir gives none; a corrupt
// record is an error naming the file.
Result<std::vector<SnapshotRecord>> LoadSnapshotRecords(const std::string& state);
Status SaveSnapshotRecord(const std::string& state, const SnapshotRecord& record);

// Generations already in a snapshot: fs.json exported_in plus the records.
std::set<uint64_t> ExportedGenerations(const FsMeta& meta,
                                       const std::vector<SnapshotRecord>& records);

}  // namespace ctrsnap::layers
