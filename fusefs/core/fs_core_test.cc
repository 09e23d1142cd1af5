// FsCore over real private overlay mounts (needs root; no FUSE).
#include "fusefs/core/fs_core.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/file_util.h"
#include "common/state_layout.h"

namespace ctrsnap::fs {
namespace {

class FsCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    char t[] = "/tmp/ctrsnap-fscore-XXXXXX";
    ASSERT_NE(mkdtemp(t), nullptr);
    tmp_ = t;
    ASSERT_TRUE(MakeDirs(tmp_ + "/lower/dir").ok());
    ASSERT_TRUE(WriteFileAtomic(tmp_ + "/lower/dir/old", "lower\n").ok());
    auto sd = StateDir::Open(tmp_ + "/state", {tmp_ + "/lower"}, 1);
    ASSERT_TRUE(sd.ok()) << sd.status().ToString();
    auto stack = GenerationStack::OpenState(std::move(*sd));
    ASSERT_TRUE(stack.ok()) << stack.status().ToString();
    auto core = FsCore::Create(std::move(*stack), nullptr);
    ASSERT_TRUE(core.ok()) << core.status().ToString();
    core_ = std::move(*core);
  }
  void TearDown() override {
    core_.reset();
    if (!tmp_.empty()) (void)RemoveTree(tmp_);
  }
  std::string Upper(uint64_t gen, const std::string& rel) {
    return layout::UpperDir(tmp_ + "/state", gen) + "/" + rel;
  }
  std::string ReadHandle(uint64_t fh) {
    auto fd = core_->ReadFd(fh);
    EXPECT_TRUE(fd.ok());
    char buf[256];
    ssize_t n = pread((*fd)->get(), buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  Status WriteAt(uint64_t fh, off_t off, const std::string& data) {
    auto r = core_->Write(Caller{}, fh, off, [&](int fd) -> ssize_t {
      ssize_t n = pwrite(fd, data.data(), data.size(), off);
      return n < 0 ? -errno : n;
    });
    return r.status();
  }
  std::string tmp_;
  std::unique_ptr<FsCore> core_;
};

TEST_F(FsCoreTest, CreateWriteSealWrite) {
  auto cr = core_->Create(Caller{}, kRootNodeId, "f", 0644, O_WRONLY);
  ASSERT_TRUE(cr.ok()) << cr.status().ToString();
  uint64_t fh = cr->second;
  ASSERT_TRUE(WriteAt(fh, 0, "one").ok());
  const uint64_t ino = cr->first.attr.st_ino;

  auto s = core_->Seal("first");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->sealed, 1u);
  EXPECT_EQ(core_->live_generation(), 2u);

  // The handle opened before the seal writes into generation 2.
  ASSERT_TRUE(WriteAt(fh, 3, "two").ok());
  EXPECT_EQ(ReadHandle(fh), "onetwo");
  auto g1 = ReadFileToString(Upper(1, "f"));
  ASSERT_TRUE(g1.ok());
  EXPECT_EQ(*g1, "one");
  auto g2 = ReadFileToString(Upper(2, "f"));
  ASSERT_TRUE(g2.ok());
  EXPECT_EQ(*g2, "onetwo");
  // Same node, same st_ino after the seal.
  auto e = core_->Lookup(kRootNodeId, "f");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->nodeid, cr->first.nodeid);
  EXPECT_EQ(e->attr.st_ino, ino);
  core_->Release(fh);
}

TEST_F(FsCoreTest, RenameLowerDirectoryAndUnlinkAcrossSeal) {
  ASSERT_TRUE(core_->Rename(Caller{}, kRootNodeId, "dir", kRootNodeId, "moved", 0).ok());
  auto e = core_->Lookup(kRootNodeId, "moved");
  ASSERT_TRUE(e.ok());
  auto f = core_->Lookup(e->nodeid, "old");
  ASSERT_TRUE(f.ok());
  auto fh = core_->Open(Caller{}, f->nodeid, O_RDONLY);
  ASSERT_TRUE(fh.ok());
  ASSERT_TRUE(core_->Seal("").ok());
  // Unlink after the seal of a file opened before it: the handle still reads.
  ASSERT_TRUE(core_->Unlink(Caller{}, e->nodeid, "old").ok());
  EXPECT_EQ(ReadHandle(*fh), "lower\n");
  EXPECT_FALSE(core_->Lookup(e->nodeid, "old").ok());
  // Generation 1 still has the renamed directory, generation 2 the whiteout.
  struct stat st;
  EXPECT_EQ(::lstat(Upper(1, "moved").c_str(), &st), 0);
  ASSERT_EQ(::lstat(Upper(2, "moved/old").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  core_->Release(*fh);
}

TEST_F(FsCoreTest, PlainModeCannotSeal) {
  core_.reset();
  ASSERT_TRUE(MakeDirs(tmp_ + "/u").ok());
  ASSERT_TRUE(MakeDirs(tmp_ + "/w").ok());
  auto stack = GenerationStack::OpenPlain({tmp_ + "/lower"}, tmp_ + "/u", tmp_ + "/w");
  ASSERT_TRUE(stack.ok());
  auto core = FsCore::Create(std::move(*stack), nullptr);
  ASSERT_TRUE(core.ok()) << core.status().ToString();
  EXPECT_FALSE((*core)->Seal("x").ok());
  EXPECT_TRUE((*core)->Mkdir(Caller{}, kRootNodeId, "n", 0755).ok());
}

}  // namespace
}  // namespace ctrsnap::fs
