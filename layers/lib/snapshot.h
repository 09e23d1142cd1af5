// TakeSnapshot: seal the live generation, merge every sealed generation not
// yet exported into one layer, and publish a new image on top of the
// previous snapshot (or the base image for the first one / --squash).
//
// Sealing: when the state lock (layout::LockPath) is free no daemon runs, and
// the live generation is sealed offline under that lock (fs.json edited, new
// live generation created); otherwise the daemon seals through its control
// socket ({"op":"seal"}). Exported generations are marked in fs.json offline,
// and through the daemon's "mark_exported" op when it has one; the snapshot
// records in STATE/snapshots/ are authoritative either way.
//
// Publication: blobs are content-addressed and renamed into place after
// fsync; the record STATE/snapshots/<seq>.json is written last and
// atomically, so a crash leaves a complete snapshot or none.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/file_filter.h"
#include "common/status.h"
#include "layers/lib/blob_store.h"
#include "layers/lib/compressor.h"
#include "layers/lib/image.h"
#include "layers/lib/layer_writer.h"
#include "layers/lib/snapshot_record.h"

namespace ctrsnap::layers {

struct BaseSpec {
  // Exactly one source, tried in this order:
  std::optional<Image> image;     // ready (e.g. from `docker image inspect`)
  std::string oci_layout;         // an OCI layout dir ...
  std::string oci_ref;            // ... and the ref name in it ("" = the only one)
  std::string docker_archive;     // a `docker save` tar
  // None of the above: the state's lower dirs become the base layer.
  std::string name;    // org.opencontainers.image.base.name
  std::string digest;  // org.opencontainers.image.base.digest (manifest or image id)
};

struct SnapshotOptions {
  std::string state_dir;
  std::string container_id;  // for records and labels; default: the state dir's name
  const FileFilter* filter = nullptr;  // required
  Compression compression = Compression::kGzip;
  CompressorOptions compressor;
  bool squash = false;
  bool include_setup = false;  // export generations labelled "setup" too
  bool seal = true;            // seal the live generation first
  std::vector<std::string> excluded_paths;  // bind mounts and volumes
  std::vector<std::string> add_env;         // NAME=value asked for with --env
  BaseSpec base;
  std::string tag;  // recorded; "" allowed
  std::map<std::string, std::string> annotations;  // extra (revision, source)
  std::function<void(uint64_t)> progress;
  // The software inventory (layers/drift) of the snapshot's tree, recorded
  // beside the image: summary + digest annotations on the manifest, the full
  // document as an OCI artifact whose subject is the manifest. Needs root (a
  // read-only overlay mount); without it the snapshot is taken and a note says
  // why it has no inventory.
  bool record_inventory = true;
  std::string tmp_dir = "/var/tmp";  // where that overlay is mounted
};

struct SnapshotResult {
  SnapshotRecord record;
  Image image;
  LayerStats stats;
  std::vector<FilterFinding> env_findings;
  bool sealed_online = false;
  int64_t blocked_us = -1;  // the daemon's report of the seal pause
  std::string inventory_summary;  // Inventory::SummaryJson(), "" when none was recorded
  std::string inventory_note;     // why there is none
};

Result<SnapshotResult> TakeSnapshot(const SnapshotOptions& options);

// The blob store of STATE's snapshots.
Result<BlobStore> OpenSnapshotStore(const std::string& state);

// Label/annotation keys ctrsnap adds.
inline constexpr char kLabelContainer[] = "io.ctrsnap.container";
inline constexpr char kLabelSequence[] = "io.ctrsnap.snapshot.sequence";
inline constexpr char kLabelParent[] = "io.ctrsnap.snapshot.parent";
inline constexpr char kLabelGenerations[] = "io.ctrsnap.snapshot.generations";
inline constexpr char kLabelStripped[] = "io.ctrsnap.stripped";
inline constexpr char kLabelExcluded[] = "io.ctrsnap.excluded";

}  // namespace ctrsnap::layers
