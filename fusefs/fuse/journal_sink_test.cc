#include "fusefs/fuse/journal_sink.h"

#include <gtest/gtest.h>
#include <linux/fs.h>

namespace ctrsnap::fs {
namespace {

TEST(JournalSink, MapsEveryField) {
  Mutation m;
  m.op = MutationOp::kRename;
  m.path = "/a";
  m.path2 = "/b";
  m.ino = 42;
  m.flags = RENAME_NOREPLACE;
  m.caller = Caller{1000, 100, 777, 022};
  JournalEntry e = ToJournalEntry(m);
  EXPECT_EQ(e.op, JournalOp::kRename);
  EXPECT_EQ(e.path, "/a");
  EXPECT_EQ(e.path2, "/b");
  EXPECT_EQ(e.ino, 42u);
  EXPECT_EQ(e.flags, static_cast<uint32_t>(RENAME_NOREPLACE));
  EXPECT_EQ(e.uid, 1000u);
  EXPECT_EQ(e.gid, 100u);
  EXPECT_EQ(e.pid, 777);
}

TEST(JournalSink, OpNamesAgree) {
  // Every core op maps to the journal op of the same name.
  for (int i = 0; i <= static_cast<int>(MutationOp::kCopyFileRange); ++i) {
    Mutation m;
    m.op = static_cast<MutationOp>(i);
    EXPECT_EQ(JournalOpName(ToJournalEntry(m).op), MutationOpName(m.op)) << i;
  }
}

TEST(JournalSink, ChownKeepsUnchangedMarkers) {
  Mutation m;
  m.op = MutationOp::kChown;
  m.owner_uid = 5;
  JournalEntry e = ToJournalEntry(m);
  EXPECT_EQ(e.owner_uid, 5u);
  EXPECT_EQ(e.owner_gid, UINT32_MAX);
}

}  // namespace
}  // namespace ctrsnap::fs
