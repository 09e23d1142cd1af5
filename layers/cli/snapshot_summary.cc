#include "layers/cli/snapshot_summary.h"

#include <cstdio>

namespace ctrsnap::cli {

using nlohmann::json;

std::string HumanBytes(uint64_t n) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

json RecordJson(const layers::SnapshotRecord& r) { return r.ToJson(); }

void PrintRecord(const layers::SnapshotRecord& r, const std::string& state) {
  std::printf("snapshot   %s #%llu  %s\n", r.container_id.c_str(),
              static_cast<unsigned long long>(r.sequence), r.tag.c_str());
  std::printf("state      %s\n", state.c_str());
  std::printf("created    %s\n", r.created.c_str());
  std::printf("manifest   %s\n", r.manifest_digest.c_str());
  std::printf("layer      %s  %s (%s, %s uncompressed)\n", r.layer.digest.c_str(),
              HumanBytes(static_cast<uint64_t>(r.layer.size)).c_str(), r.compression.c_str(),
              HumanBytes(r.tar_bytes).c_str());
  std::printf("diff_id    %s\n", r.diff_id.c_str());
  std::string gens;
  for (auto g : r.generations) gens += (gens.empty() ? "" : ",") + std::to_string(g);
  std::printf("generations %s%s\n", gens.c_str(), r.squash ? " (squashed)" : "");
  std::printf("parent     %s\n", r.parent_manifest.c_str());
  std::printf("base       %s %s\n", r.base_name.c_str(), r.base_digest.c_str());
  std::printf("files      %llu added, %llu changed, %llu deleted\n",
              static_cast<unsigned long long>(r.added), static_cast<unsigned long long>(r.changed),
              static_cast<unsigned long long>(r.deleted));
  if (r.stripped.empty()) {
    std::printf("stripped   nothing\n");
  } else {
    std::printf("stripped   %zu:\n", r.stripped.size());
    for (const auto& s : r.stripped) {
      std::printf("  %-9s %-28s %s%s%s\n", s.action.c_str(), s.rule.c_str(), s.path.c_str(),
                  s.reason.empty() ? "" : "  (", s.reason.empty() ? "" : (s.reason + ")").c_str());
    }
  }
  std::printf("took       %.2f s\n", r.seconds);
}

void PrintSnapshotSummary(const layers::SnapshotResult& res, const std::string& state,
                          const std::vector<std::string>& delivered, double deliver_seconds,
                          bool as_json) {
  if (as_json) {
    json j = RecordJson(res.record);
    j["ok"] = true;
    j["state"] = state;
    j["delivered"] = delivered;
    j["deliver_seconds"] = deliver_seconds;
    j["sealed_online"] = res.sealed_online;
    if (res.blocked_us >= 0) j["blocked_us"] = res.blocked_us;
    if (!res.inventory_summary.empty()) {
      j["inventory"] = json::parse(res.inventory_summary, nullptr, false);
    }
    if (!res.inventory_note.empty()) j["inventory_note"] = res.inventory_note;
    j["layers"] = json::array();
    for (const auto& l : res.image.layers) j["layers"].push_back(oci::ToJson(l));
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  PrintRecord(res.record, state);
  if (res.blocked_us >= 0) {
    std::printf("sealed     by the daemon, container paused %.3f ms\n",
                static_cast<double>(res.blocked_us) / 1000.0);
  }
  if (!res.inventory_summary.empty()) {
    json inv = json::parse(res.inventory_summary, nullptr, false);
    std::string counts;
    if (inv.is_object() && inv.contains("counts") && inv["counts"].is_object()) {
      for (const auto& [eco, n] : inv["counts"].items()) {
        counts += (counts.empty() ? "" : ", ") + eco + " " + n.dump();
      }
    }
    std::printf("inventory  %s (ctrsnap drift compares it)\n", counts.empty() ? "empty" : counts.c_str());
  }
  if (!res.inventory_note.empty()) std::printf("note       %s\n", res.inventory_note.c_str());
  for (const auto& d : delivered) std::printf("delivered  %s\n", d.c_str());
  if (!delivered.empty()) std::printf("delivery   %.2f s\n", deliver_seconds);
}

}  // namespace ctrsnap::cli
