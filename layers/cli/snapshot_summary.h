// Human and JSON output shared by `ctrsnap snapshot`, `ls` and `inspect`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/lib/snapshot.h"
#include "layers/lib/snapshot_record.h"

namespace ctrsnap::cli {

std::string HumanBytes(uint64_t n);
nlohmann::json RecordJson(const layers::SnapshotRecord& r);
void PrintSnapshotSummary(const layers::SnapshotResult& res, const std::string& state,
                          const std::vector<std::string>& delivered, double deliver_seconds,
                          bool as_json);
void PrintRecord(const layers::SnapshotRecord& r, const std::string& state);

}  // namespace ctrsnap::cli
