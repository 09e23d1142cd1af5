// FsControlHandler: the daemon's answers to the control socket
// (status/seal/flush/compact; protocol in common/control_client.h).
#pragma once

#include "fusefs/control/control_handler.h"
#include "fusefs/core/fs_core.h"
#include "fusefs/journal/change_journal.h"

namespace ctrsnap::fs {

class FsControlHandler : public ControlHandler {
 public:
  // JOURNAL may be null (plain mode). REQUIRES: both outlive the handler.
  FsControlHandler(FsCore* core, ChangeJournal* journal) : core_(core), journal_(journal) {}

  Result<nlohmann::json> GetStatus() override;
  Result<nlohmann::json> Seal(const std::string& label) override;
  Result<nlohmann::json> Flush() override;
  Result<nlohmann::json> Compact(const CompactArgs& args) override;
  Result<nlohmann::json> MarkExported(const std::vector<uint64_t>& generations,
                                      const std::string& digest) override;

 private:
  FsCore* core_;
  ChangeJournal* journal_;
};

}  // namespace ctrsnap::fs
