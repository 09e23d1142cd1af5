// ControlHandler: what the control socket can ask of a running ctrsnap-fs.
//
// The daemon implements it; ControlServer decodes requests, calls one method
// and encodes the reply (protocol: common/control_client.h). Each method
// returns the reply's result fields as a JSON object (merged into
// {"v":1,"ok":true,...}), or an error Status whose message becomes
// {"ok":false,"error":MESSAGE}.
//
// Threading: methods may be called concurrently from several connections'
// threads, and concurrently with FUSE requests; they may block (a seal waits
// for in-flight operations). They must not throw (ControlServer catches and
// reports exceptions anyway, as "internal error").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ctrsnap {

struct CompactArgs {
  // Compact the exported sealed generations with id <= through; nullopt: all.
  std::optional<uint64_t> through;
};

class ControlHandler {
 public:
  virtual ~ControlHandler() = default;

  // op "status": {"live":N,"generations":[{id,label,sealed,bytes,files}],"journal":{...}}
  virtual Result<nlohmann::json> GetStatus() = 0;
  // op "seal": {"sealed":N,"live":N+1,"blocked_us":T}. LABEL may be empty;
  // ControlServer has checked it (<= 128 bytes, printable ASCII, no '/').
  virtual Result<nlohmann::json> Seal(const std::string& label) = 0;
  // op "flush": writes and syncs the journal and the live generation. Any object.
  virtual Result<nlohmann::json> Flush() = 0;
  // op "compact". Any object describing what was done.
  virtual Result<nlohmann::json> Compact(const CompactArgs& args) = 0;
  // op "mark_exported": records that GENERATIONS (non-empty, unique, sorted)
  // are in the snapshot layer DIGEST ("sha256:" + 64 lowercase hex), as
  // ControlServer has checked. {"marked":[ids newly marked]}.
  virtual Result<nlohmann::json> MarkExported(const std::vector<uint64_t>& generations,
                                              const std::string& digest) = 0;
};

}  // namespace ctrsnap
