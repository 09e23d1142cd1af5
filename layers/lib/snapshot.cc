#include "layers/lib/snapshot.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>

#include "common/control_client.h"
#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/log.h"
#include "common/state_layout.h"
#include "layers/drift/drift_source.h"
#include "layers/drift/inventory_store.h"
#include "layers/drift/oci_layout.h"
#include "layers/drift/scan_root.h"
#include "layers/lib/change_set.h"

namespace ctrsnap::layers {
namespace {

using nlohmann::json;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<UniqueFd> TryLock(const std::string& path, bool* got) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return Status::FromErrno(errno, "open lock", path);
  *got = ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
  if (!*got && errno != EWOULDBLOCK) return Status::FromErrno(errno, "flock", path);
  return fd;
}

bool DirEmpty(const std::string& path) {
  auto names = OverlayStack::Open({path});
  if (!names.ok()) return true;
  auto list = names->ListDir(0, "");
  return !list.ok() || list->empty();
}

// Seals the live generation without a daemon. REQUIRES: the state lock.
Status SealOffline(const std::string& state, FsMeta* meta) {
  GenerationMeta& live = meta->generations.back();
  if (DirEmpty(layout::UpperDir(state, live.id))) return Status::Ok();
  uint64_t next = live.id + 1;
  RETURN_IF_ERROR(MakeDirs(layout::UpperDir(state, next), 0755));
  RETURN_IF_ERROR(MakeDirs(layout::WorkDir(state, next), 0700));
  live.sealed = true;
  live.sealed_unix_ns = NowNs();
  GenerationMeta g;
  g.id = next;
  g.created_unix_ns = live.sealed_unix_ns;
  meta->generations.push_back(g);
  return meta->Save(state);
}

std::string GenList(const std::vector<uint64_t>& gens) {
  if (gens.empty()) return "none";
  bool contiguous = gens.back() - gens.front() + 1 == gens.size();
  if (contiguous && gens.size() > 1) {
    return std::to_string(gens.front()) + "-" + std::to_string(gens.back());
  }
  std::string s;
  for (auto g : gens) s += (s.empty() ? "" : ",") + std::to_string(g);
  return s;
}

std::string StrippedSummary(const LayerStats& stats) {
  std::map<std::string, int> by_rule;
  for (const auto& f : stats.findings) {
    if (f.action == FilterAction::kDrop) by_rule[f.rule]++;
  }
  std::string s;
  for (const auto& [rule, n] : by_rule) {
    s += (s.empty() ? "" : ", ") + rule + "=" + std::to_string(n);
  }
  return s.empty() ? "none" : s;
}

std::string ActionName(FilterAction a) {
  switch (a) {
    case FilterAction::kDrop: return "dropped";
    case FilterAction::kKeepReport: return "reported";
    case FilterAction::kFail: return "refused";
    case FilterAction::kKeep: break;
  }
  return "kept";
}

// Writes one layer for DELTA over STACK into STORE.
Result<std::pair<oci::Descriptor, LayerStats>> WriteLayerBlob(
    const BlobStore& store, const OverlayStack& stack, const std::vector<size_t>& delta,
    const LayerWriterOptions& lw, Compression compression, const CompressorOptions& copts) {
  ASSIGN_OR_RETURN(auto root, BuildChangeSet(stack, delta));
  ASSIGN_OR_RETURN(auto blob, store.NewBlob());
  auto comp = NewCompressor(compression, blob.get(), copts);
  ASSIGN_OR_RETURN(LayerStats stats, WriteLayer(stack, *root, lw, comp.get()));
  ASSIGN_OR_RETURN(auto desc, blob->Commit(LayerMediaType(compression)));
  return std::make_pair(desc, stats);
}

// The base image made of the lower dirs themselves, cached in base.json.
Result<Image> LowerDirBase(const BlobStore& store, const std::string& state, const FsMeta& meta,
                           Compression compression, const CompressorOptions& copts) {
  std::string cache = SnapshotStoreRoot(state) + "/base.json";
  auto cached = ReadFileToString(cache);
  if (cached.ok()) {
    try {
      auto j = json::parse(*cached);
      auto img = LoadImage(store, j.at("manifest_digest").get<std::string>());
      if (img.ok()) return img;
    } catch (const json::exception&) {
    }
  }
  if (meta.lowerdirs.empty()) return Status::InvalidArgument(state + ": fs.json has no lower dirs");
  if (::access(layout::LowerResidueMarkerPath(state).c_str(), F_OK) == 0) {
    // After delete the lower is a residue (shim/lower_residue.h), not a root.
    return Status::NotFound(state + ": the container's root filesystem was removed with the "
                            "container; name its image with --base-image");
  }
  ASSIGN_OR_RETURN(OverlayStack stack, OverlayStack::Open(meta.lowerdirs));
  std::vector<size_t> all;
  for (size_t i = 0; i < stack.size(); ++i) all.push_back(i);
  KeepAllFilter keep;
  LayerWriterOptions lw;
  lw.filter = &keep;
  lw.exclude_runtime_files = false;
  ASSIGN_OR_RETURN(auto layer, WriteLayerBlob(store, stack, all, lw, compression, copts));
  Image img;
  img.config = NewImageConfig();
  LayerAppend a;
  a.layer = layer.first;
  a.diff_id = layer.second.diff_id;
  a.created = NowRfc3339();
  a.created_by = "ctrsnap: base layer from the lower dir";
  RETURN_IF_ERROR(AppendLayer(&img, a, nullptr));
  RETURN_IF_ERROR(StoreImage(store, &img));
  RETURN_IF_ERROR(WriteFileAtomic(cache, json{{"manifest_digest", img.manifest_desc.digest}}.dump()));
  return img;
}

Result<Image> ResolveBase(const BlobStore& store, const SnapshotOptions& o, const FsMeta& meta) {
  if (o.base.image) return *o.base.image;
  if (!o.base.oci_layout.empty()) return ImportOciLayout(o.base.oci_layout, o.base.oci_ref, store);
  if (!o.base.docker_archive.empty()) {
    ASSIGN_OR_RETURN(Image img, ImportDockerArchive(o.base.docker_archive, store));
    RETURN_IF_ERROR(StoreImage(store, &img));
    return img;
  }
  return LowerDirBase(store, o.state_dir, meta, o.compression, o.compressor);
}

// Keeps STATE/snapshots an OCI image layout listing every snapshot, so that
// `skopeo inspect oci:STATE/snapshots:TAG` and umoci read it directly.
Status UpdateStoreIndex(const std::string& state, const std::vector<SnapshotRecord>& records) {
  json manifests = json::array();
  for (const auto& r : records) {
    json m = {{"mediaType", oci::kMediaTypeImageManifest}, {"digest", r.manifest_digest}};
    auto store = BlobStore::Open(SnapshotStoreRoot(state));
    if (!store.ok()) return store.status();
    auto size = store->Size(r.manifest_digest);
    if (!size.ok()) continue;
    m["size"] = *size;
    std::string name = r.tag.empty() ? "snap-" + std::to_string(r.sequence) : r.tag;
    m["annotations"] = {{oci::kAnnotationRefName, name}};
    manifests.push_back(std::move(m));
  }
  // Artifacts (inventories) attached to the snapshots stay listed.
  auto old = ReadFileToString(SnapshotStoreRoot(state) + "/index.json");
  if (old.ok()) {
    json j = json::parse(*old, nullptr, false);
    if (j.is_object() && j.contains("manifests") && j["manifests"].is_array()) {
      for (const auto& e : j["manifests"]) {
        if (e.is_object() && e.contains("artifactType")) manifests.push_back(e);
      }
    }
  }
  json index = {{"schemaVersion", 2}, {"mediaType", oci::kMediaTypeImageIndex},
                {"manifests", manifests}};
  RETURN_IF_ERROR(WriteFileAtomic(SnapshotStoreRoot(state) + "/oci-layout",
                                  R"({"imageLayoutVersion":"1.0.0"})"));
  return WriteFileAtomic(SnapshotStoreRoot(state) + "/index.json", index.dump());
}

// The layer dirs whose merged tree is the snapshot's image: generations up
// to TOP (newest first, setup left out unless exported), then the lowers.
std::vector<std::string> TreeDirs(const std::string& state, const FsMeta& meta, uint64_t top,
                                  bool include_setup) {
  std::vector<std::string> dirs;
  for (auto it = meta.generations.rbegin(); it != meta.generations.rend(); ++it) {
    if (it->id > top || (it->label == "setup" && !include_setup)) continue;
    std::string upper = layout::UpperDir(state, it->id);
    struct stat st;
    if (::stat(upper.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) dirs.push_back(upper);
  }
  for (const auto& l : meta.lowerdirs) dirs.push_back(l);
  return dirs;
}

Result<drift::Inventory> ScanSnapshotTree(const SnapshotOptions& o, const FsMeta& meta,
                                          uint64_t top, const Image& image,
                                          const std::string& source) {
  drift::ScanOptions so;
  so.source = source;
  ASSIGN_OR_RETURN(drift::Inventory inv,
                   drift::InventoryOfLayers(TreeDirs(o.state_dir, meta, top, o.include_setup),
                                            o.tmp_dir, so));
  RETURN_IF_ERROR(drift::AddImageConfig(image.config.dump(), inv));
  inv.source = source;
  inv.Normalize();
  return inv;
}

// Lists the inventory artifact of IMAGE (already stored) in the store's
// index.json and on IMAGE, so the outputs carry it.
Status AttachToImage(const BlobStore& store, const std::string& state, const drift::Inventory& inv,
                     Image* image) {
  ASSIGN_OR_RETURN(oci::Descriptor art,
                   drift::AttachInventory(SnapshotStoreRoot(state), image->manifest_desc, inv));
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(store.BlobPath(art.digest)));
  json m = json::parse(text, nullptr, false);
  if (!m.is_object()) return Status::Internal("inventory artifact " + art.digest + " unreadable");
  image->referrers = {art};
  image->referrer_blobs.clear();
  if (m.contains("config")) image->referrer_blobs.push_back(m["config"].value("digest", ""));
  for (const auto& l : m.value("layers", json::array())) {
    image->referrer_blobs.push_back(l.value("digest", ""));
  }
  return Status::Ok();
}

}  // namespace

Result<BlobStore> OpenSnapshotStore(const std::string& state) {
  RETURN_IF_ERROR(MakeDirs(SnapshotStoreRoot(state), 0700));
  return BlobStore::Open(SnapshotStoreRoot(state));
}

Result<SnapshotResult> TakeSnapshot(const SnapshotOptions& o) {
  if (o.filter == nullptr) return Status::InvalidArgument("TakeSnapshot: no filter");
  const std::string& state = o.state_dir;
  auto t0 = std::chrono::steady_clock::now();
  SnapshotResult res;
  ASSIGN_OR_RETURN(BlobStore store, OpenSnapshotStore(state));

  // One snapshot at a time per state dir.
  bool got = false;
  ASSIGN_OR_RETURN(UniqueFd snap_lock, TryLock(SnapshotStoreRoot(state) + "/lock", &got));
  if (!got) return Status(Code::kBusy, "another snapshot of " + state + " is in progress");

  // The daemon holds the state lock for its whole life.
  bool offline = false;
  ASSIGN_OR_RETURN(UniqueFd state_lock, TryLock(layout::LockPath(state), &offline));
  ASSIGN_OR_RETURN(FsMeta meta, FsMeta::Load(state));
  if (o.seal) {
    if (offline) {
      RETURN_IF_ERROR(SealOffline(state, &meta).WithContext("seal offline"));
    } else {
      auto reply = ControlCall(state, {{"op", "seal"}, {"label", "snapshot"}});
      if (!reply.ok()) {
        return reply.status().WithContext("seal through the daemon of " + state);
      }
      res.sealed_online = true;
      res.blocked_us = reply->value("blocked_us", int64_t{-1});
      ASSIGN_OR_RETURN(meta, FsMeta::Load(state));
    }
  }

  ASSIGN_OR_RETURN(auto records, LoadSnapshotRecords(state));
  std::set<uint64_t> exported = ExportedGenerations(meta, records);
  std::vector<uint64_t> gens;  // oldest first
  for (const auto& g : meta.generations) {
    if (!g.sealed) continue;
    if (g.label == "setup" && !o.include_setup) continue;
    if (!o.squash && exported.count(g.id)) continue;
    gens.push_back(g.id);
  }
  if (gens.empty()) {
    return Status(Code::kNotFound, "nothing to snapshot: no sealed generation since the last snapshot");
  }

  // Stack: generations from the newest exported one down to 1, then lowers.
  uint64_t top = gens.back();
  std::vector<std::string> layers;
  for (uint64_t g = top; g >= 1; --g) layers.push_back(layout::UpperDir(state, g));
  for (const auto& l : meta.lowerdirs) layers.push_back(l);
  ASSIGN_OR_RETURN(OverlayStack stack, OverlayStack::Open(layers));
  std::vector<size_t> delta;
  for (auto it = gens.rbegin(); it != gens.rend(); ++it) delta.push_back(top - *it);

  // Parent image.
  Image image;
  const SnapshotRecord* prev = (!o.squash && !records.empty()) ? &records.back() : nullptr;
  std::string base_name = o.base.name, base_digest = o.base.digest;
  if (prev != nullptr) {
    ASSIGN_OR_RETURN(image, LoadImage(store, prev->manifest_digest));
    base_name = prev->base_name;
    base_digest = prev->base_digest;
  } else {
    ASSIGN_OR_RETURN(image, ResolveBase(store, o, meta));
    if (base_digest.empty()) base_digest = image.manifest_desc.digest;
    if (base_name.empty()) base_name = o.base.oci_layout.empty() ? "lowerdir" : o.base.oci_layout;
  }
  std::string parent_manifest = prev ? prev->manifest_digest : image.manifest_desc.digest;
  image.annotations.clear();

  LayerWriterOptions lw;
  lw.filter = o.filter;
  lw.excluded_paths = o.excluded_paths;
  lw.max_sparse_bytes = o.max_sparse_bytes;
  lw.progress = o.progress;
  ASSIGN_OR_RETURN(auto layer,
                   WriteLayerBlob(store, stack, delta, lw, o.compression, o.compressor));
  res.stats = layer.second;

  SnapshotRecord& rec = res.record;
  rec.sequence = records.empty() ? 1 : records.back().sequence + 1;
  rec.created = NowRfc3339();
  rec.container_id = o.container_id.empty() ? state.substr(state.rfind('/') + 1) : o.container_id;
  rec.tag = o.tag;
  rec.layer = layer.first;
  rec.diff_id = res.stats.diff_id;
  rec.tar_bytes = res.stats.tar_bytes;
  rec.generations = gens;
  rec.parent_manifest = parent_manifest;
  rec.base_name = base_name;
  rec.base_digest = base_digest;
  rec.squash = o.squash;
  rec.compression = std::string(CompressionName(o.compression));
  rec.added = res.stats.added;
  rec.changed = res.stats.changed;
  rec.deleted = res.stats.deleted;
  for (const auto& f : res.stats.findings) {
    rec.stripped.push_back({f.path, f.rule, f.kind, f.reason, f.bytes, ActionName(f.action)});
  }
  for (const auto& e : res.stats.excluded) {
    auto pos = e.find(": ");
    rec.stripped.push_back({e.substr(0, pos), "excluded", "excluded",
                            pos == std::string::npos ? "" : e.substr(pos + 2), 0, "excluded"});
  }

  std::map<std::string, std::string> labels = {
      {kLabelContainer, rec.container_id},
      {kLabelSequence, std::to_string(rec.sequence)},
      {kLabelParent, parent_manifest},
      {kLabelGenerations, GenList(gens)},
      {kLabelStripped, StrippedSummary(res.stats)},
  };
  if (!o.excluded_paths.empty()) {
    std::string ex;
    for (const auto& p : o.excluded_paths) ex += (ex.empty() ? "" : ",") + p;
    labels[kLabelExcluded] = ex;
  }
  LayerAppend a;
  a.layer = layer.first;
  a.diff_id = res.stats.diff_id;
  a.created = rec.created;
  a.created_by = "ctrsnap snapshot " + rec.container_id + " #" + std::to_string(rec.sequence) +
                 (o.squash ? " --squash" : "") + " (generations " + GenList(gens) + ")";
  a.comment = "stripped: " + StrippedSummary(res.stats);
  a.labels = labels;
  a.add_env = o.add_env;
  a.filter = o.filter;
  RETURN_IF_ERROR(AppendLayer(&image, a, &res.env_findings));
  for (const auto& f : res.env_findings) {
    rec.stripped.push_back({f.path, f.rule, f.kind, f.reason, 0, ActionName(f.action)});
  }
  image.annotations = labels;
  image.annotations[oci::kAnnotationCreated] = rec.created;
  if (!base_name.empty()) image.annotations[oci::kAnnotationBaseName] = base_name;
  if (!base_digest.empty()) image.annotations[oci::kAnnotationBaseDigest] = base_digest;
  for (const auto& [k, v] : o.annotations) image.annotations[k] = v;
  std::optional<drift::Inventory> inventory;
  if (o.record_inventory) {
    auto inv = ScanSnapshotTree(o, meta, top, image,
                                o.tag.empty() ? "snapshot " + std::to_string(rec.sequence) : o.tag);
    if (inv.ok()) {
      // The blob goes in before the manifest that names it.
      auto blob = drift::WriteBlob(SnapshotStoreRoot(state), drift::kInventoryArtifactType,
                                   inv->ToJson());
      if (!blob.ok()) return blob.status().WithContext("store the inventory");
      for (const auto& [k, v] : drift::InventoryAnnotations(*inv)) image.annotations[k] = v;
      res.inventory_summary = inv->SummaryJson();
      inventory = std::move(*inv);
    } else {
      res.inventory_note = "no software inventory recorded: " + inv.status().ToString();
      LogWarn(res.inventory_note);
    }
  }
  RETURN_IF_ERROR(StoreImage(store, &image));
  rec.manifest_digest = image.manifest_desc.digest;
  rec.config_digest = image.config_desc.digest;
  rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RETURN_IF_ERROR(SaveSnapshotRecord(state, rec));
  records.push_back(rec);
  Status idx = UpdateStoreIndex(state, records);
  if (!idx.ok()) LogWarn("snapshot index not updated: " + idx.ToString());
  if (inventory) {
    // The manifest already names the inventory blob; the artifact adds the
    // referrer link. A failure here costs only that link.
    Status st = AttachToImage(store, state, *inventory, &image);
    if (!st.ok()) {
      res.inventory_note = "inventory artifact not attached: " + st.ToString();
      LogWarn(res.inventory_note);
    }
  }

  // Mark the generations exported.
  if (offline) {
    for (auto& g : meta.generations) {
      if (std::find(gens.begin(), gens.end(), g.id) != gens.end() && g.exported_in.empty()) {
        g.exported_in = rec.layer.digest;
      }
    }
    Status st = meta.Save(state);
    if (!st.ok()) LogWarn("snapshot recorded, but fs.json not updated: " + st.ToString());
  } else {
    auto r = ControlCall(state, {{"op", "mark_exported"}, {"generations", gens},
                                 {"digest", rec.layer.digest}});
    if (!r.ok()) LogDebug("daemon has no mark_exported (" + r.status().ToString() +
                          "); the snapshot record is authoritative");
  }
  res.image = std::move(image);
  return res;
}

}  // namespace ctrsnap::layers
