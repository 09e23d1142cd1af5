#include "fusefs/fuse/journal_sink.h"

#include "common/log.h"

namespace ctrsnap::fs {
namespace {

JournalOp ToJournalOp(MutationOp op) {
  switch (op) {
    case MutationOp::kCreate: return JournalOp::kCreate;
    case MutationOp::kMkdir: return JournalOp::kMkdir;
    case MutationOp::kMknod: return JournalOp::kMknod;
    case MutationOp::kSymlink: return JournalOp::kSymlink;
    case MutationOp::kLink: return JournalOp::kLink;
    case MutationOp::kUnlink: return JournalOp::kUnlink;
    case MutationOp::kRmdir: return JournalOp::kRmdir;
    case MutationOp::kRename: return JournalOp::kRename;
    case MutationOp::kWrite: return JournalOp::kWrite;
    case MutationOp::kTruncate: return JournalOp::kTruncate;
    case MutationOp::kChmod: return JournalOp::kChmod;
    case MutationOp::kChown: return JournalOp::kChown;
    case MutationOp::kUtimes: return JournalOp::kUtimes;
    case MutationOp::kSetxattr: return JournalOp::kSetxattr;
    case MutationOp::kRemovexattr: return JournalOp::kRemovexattr;
    case MutationOp::kFallocate: return JournalOp::kFallocate;
    case MutationOp::kCopyFileRange: return JournalOp::kCopyFileRange;
  }
  return JournalOp::kWrite;
}

}  // namespace

JournalEntry ToJournalEntry(const Mutation& m) {
  JournalEntry e;
  e.op = ToJournalOp(m.op);
  e.flags = m.flags;
  e.path = m.path;
  e.path2 = m.path2;
  e.name = m.name;
  e.ino = m.ino;
  e.offset = m.offset;
  e.length = m.length;
  e.mode = m.mode;
  e.rdev = m.rdev;
  e.owner_uid = m.owner_uid;
  e.owner_gid = m.owner_gid;
  e.uid = m.caller.uid;
  e.gid = m.caller.gid;
  e.pid = m.caller.pid;
  return e;
}

void JournalSink::Record(const Mutation& m) {
  if (m.op == MutationOp::kWrite && m.handle != 0) {
    journal_->RecordWrite(m.handle, ToJournalEntry(m));
  } else {
    journal_->Record(ToJournalEntry(m));
  }
}

void JournalSink::OnSeal(uint64_t sealed, uint64_t live) {
  (void)sealed;
  Status st = journal_->Rotate(live);
  if (!st.ok()) LogError("journal rotate: " + st.ToString());
}

void JournalSink::Flush() {
  Status st = journal_->Flush();
  if (!st.ok()) LogError("journal flush: " + st.ToString());
}

}  // namespace ctrsnap::fs
