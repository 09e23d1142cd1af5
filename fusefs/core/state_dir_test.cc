#include "fusefs/core/state_dir.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/file_util.h"
#include "common/state_layout.h"

namespace ctrsnap::fs {
namespace {

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/ctrsnap-statedir-XXXXXX";
    ASSERT_NE(mkdtemp(t), nullptr);
    dir_ = std::string(t) + "/state";
  }
  void TearDown() override { (void)RemoveTree(dir_.substr(0, dir_.rfind('/'))); }
  bool Exists(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0;
  }
  std::string dir_;
};

TEST_F(StateDirTest, CreatesGenerationOne) {
  auto s = StateDir::Open(dir_, {"/lower"}, 5);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->live(), 1u);
  EXPECT_TRUE(Exists(layout::UpperDir(dir_, 1)));
  EXPECT_TRUE(Exists(layout::WorkDir(dir_, 1)));
  auto m = FsMeta::Load(dir_);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->lowerdirs, std::vector<std::string>{"/lower"});
}

TEST_F(StateDirTest, LockExcludesSecondOpen) {
  auto s = StateDir::Open(dir_, {"/lower"}, 5);
  ASSERT_TRUE(s.ok());
  auto s2 = StateDir::Open(dir_, {"/lower"}, 5);
  ASSERT_FALSE(s2.ok());
  EXPECT_EQ(s2.status().code(), Code::kBusy);
}

TEST_F(StateDirTest, SealAndResume) {
  {
    auto s = StateDir::Open(dir_, {"/lower"}, 5);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s->PrepareNext().ok());
    ASSERT_TRUE(s->CommitSeal("setup", 7).ok());
    EXPECT_EQ(s->live(), 2u);
  }
  auto s = StateDir::Open(dir_, {}, 9);  // lowerdirs from fs.json
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->live(), 2u);
  EXPECT_EQ(s->meta().generations[0].label, "setup");
  EXPECT_TRUE(s->meta().generations[0].sealed);
  EXPECT_EQ(s->meta().lowerdirs, std::vector<std::string>{"/lower"});
}

TEST_F(StateDirTest, HalfMadeGenerationIsRemoved) {
  {
    auto s = StateDir::Open(dir_, {"/lower"}, 5);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s->PrepareNext().ok());  // crash before CommitSeal
  }
  ASSERT_TRUE(Exists(layout::GenerationDir(dir_, 2)));
  auto s = StateDir::Open(dir_, {"/lower"}, 5);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->live(), 1u);
  EXPECT_FALSE(Exists(layout::GenerationDir(dir_, 2)));
  EXPECT_TRUE(Exists(layout::UpperDir(dir_, 1)));
}

TEST_F(StateDirTest, RejectsOtherLower) {
  { ASSERT_TRUE(StateDir::Open(dir_, {"/lower"}, 5).ok()); }
  EXPECT_FALSE(StateDir::Open(dir_, {"/other"}, 5).ok());
}

TEST_F(StateDirTest, CorruptFsJsonIsAnError) {
  { ASSERT_TRUE(StateDir::Open(dir_, {"/lower"}, 5).ok()); }
  ASSERT_TRUE(WriteFileAtomic(layout::FsMetaPath(dir_), "{not json").ok());
  auto s = StateDir::Open(dir_, {"/lower"}, 5);
  EXPECT_FALSE(s.ok());
}

TEST_F(StateDirTest, MissingListedGenerationIsCorrupt) {
  {
    auto s = StateDir::Open(dir_, {"/lower"}, 5);
    ASSERT_TRUE(s.ok());
  }
  ASSERT_TRUE(RemoveTree(layout::GenerationDir(dir_, 1)).ok());
  auto s = StateDir::Open(dir_, {"/lower"}, 5);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kCorrupt);
}

}  // namespace
}  // namespace ctrsnap::fs

namespace ctrsnap::fs {
namespace {

TEST_F(StateDirTest, UndoSealRestoresFsJson) {
  auto s = StateDir::Open(dir_, {"/lower"}, 5);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->PrepareNext().ok());
  ASSERT_TRUE(s->CommitSeal("x", 7).ok());
  ASSERT_TRUE(s->UndoSeal().ok());
  s->AbortNext();
  EXPECT_EQ(s->live(), 1u);
  auto m = FsMeta::Load(dir_);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->generations.size(), 1u);
  EXPECT_FALSE(Exists(layout::GenerationDir(dir_, 2)));
  EXPECT_FALSE(s->UndoSeal().ok());  // only once
}

}  // namespace
}  // namespace ctrsnap::fs

namespace ctrsnap::fs {
namespace {

TEST_F(StateDirTest, SealKeepsExportedInWrittenByOthers) {
  auto s = StateDir::Open(dir_, {"/lower"}, 5);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->PrepareNext().ok());
  ASSERT_TRUE(s->CommitSeal("", 6).ok());
  auto m = FsMeta::Load(dir_);
  ASSERT_TRUE(m.ok());
  m->generations[0].exported_in = "sha256:abc";
  ASSERT_TRUE(m->Save(dir_).ok());  // as `ctrsnap snapshot` would
  ASSERT_TRUE(s->PrepareNext().ok());
  ASSERT_TRUE(s->CommitSeal("", 7).ok());
  auto after = FsMeta::Load(dir_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->generations[0].exported_in, "sha256:abc");
  EXPECT_EQ(after->generations.size(), 3u);
}

}  // namespace
}  // namespace ctrsnap::fs

namespace ctrsnap::fs {
namespace {

TEST_F(StateDirTest, MarkExportedIsPersistedAllOrNothing) {
  auto s = StateDir::Open(dir_, {"/lower"}, 5);
  ASSERT_TRUE(s.ok());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(s->PrepareNext().ok());
    ASSERT_TRUE(s->CommitSeal("", 6 + i).ok());
  }
  // Live (3) or unknown (9) generations: an error, and nothing is marked.
  EXPECT_EQ(s->MarkExported({1, 3}, "sha256:d1").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(s->MarkExported({1, 9}, "sha256:d1").status().code(), Code::kNotFound);
  EXPECT_TRUE(FsMeta::Load(dir_)->generations[0].exported_in.empty());

  auto r = s->MarkExported({1, 2}, "sha256:d1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (std::vector<uint64_t>{1, 2}));
  // A second export keeps the first digest (the layer that holds it first).
  auto again = s->MarkExported({2}, "sha256:d2");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  auto m = FsMeta::Load(dir_);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->generations[0].exported_in, "sha256:d1");
  EXPECT_EQ(m->generations[1].exported_in, "sha256:d1");
  EXPECT_TRUE(m->generations[2].exported_in.empty());
  // And a later seal keeps them.
  ASSERT_TRUE(s->PrepareNext().ok());
  ASSERT_TRUE(s->CommitSeal("", 9).ok());
  EXPECT_EQ(FsMeta::Load(dir_)->generations[1].exported_in, "sha256:d1");
}

}  // namespace
}  // namespace ctrsnap::fs
