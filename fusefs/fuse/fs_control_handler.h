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

 private:
  FsCore* core_;
  ChangeJournal* journal_;
};

// Bytes and entries under DIR (no symlinks followed, one filesystem).
struct TreeUsage {
  uint64_t bytes = 0;
  uint64_t files = 0;
};
TreeUsage MeasureTree(const std::string& dir);

}  // namespace ctrsnap::fs
