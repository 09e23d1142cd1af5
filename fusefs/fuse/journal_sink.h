// JournalSink: feeds the core's mutations into the ChangeJournal.
#pragma once

#include "fusefs/core/mutation.h"
#include "fusefs/journal/change_journal.h"

namespace ctrsnap::fs {

class JournalSink : public MutationSink {
 public:
  // REQUIRES: JOURNAL outlives the sink.
  explicit JournalSink(ChangeJournal* journal) : journal_(journal) {}

  void Record(const Mutation& m) override;
  void OnSeal(uint64_t sealed, uint64_t live) override;
  void Flush() override;
  void OnHandleFlush(uint64_t fh) override { journal_->FlushHandle(fh); }
  void OnHandleRelease(uint64_t fh) override { journal_->ReleaseHandle(fh); }

 private:
  ChangeJournal* journal_;
};

// Mutation -> JournalEntry (the op numbering of the two enums differs).
JournalEntry ToJournalEntry(const Mutation& m);

}  // namespace ctrsnap::fs
