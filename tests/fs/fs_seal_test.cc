// Generations: seal semantics checked against kernel overlayfs as the oracle,
// open handles across seals, and crash recovery (issue 4).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "common/control_client.h"
#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "common/unique_fd.h"
#include "tests/fs/fs_fixture.h"

namespace ctrsnap::fstest {
namespace {

class FsSealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(MakeDirs(fs_.L("etc/conf.d")).ok());
    ASSERT_TRUE(MakeDirs(fs_.L("usr/lib")).ok());
    ASSERT_TRUE(WriteFile(fs_.L("etc/passwd"), "root:x:0:0\n").ok());
    ASSERT_TRUE(WriteFile(fs_.L("etc/conf.d/a"), "a=1\n").ok());
    ASSERT_TRUE(WriteFile(fs_.L("usr/lib/libx.so"), std::string(100000, 'L')).ok());
    ASSERT_TRUE(WriteFile(fs_.L("usr/lib/gone"), "bye").ok());
    ASSERT_TRUE(fs_.Start().ok());
  }
  MountedFs fs_;
};

void Ops1(MountedFs& fs) {
  ASSERT_TRUE(WriteFile(fs.M("etc/passwd"), "root:x:0:0\nuser:x:1000:1000\n").ok());
  ASSERT_TRUE(MakeDirs(fs.M("var/cache")).ok());
  ASSERT_TRUE(WriteFile(fs.M("var/cache/c1"), "cache").ok());
  ASSERT_EQ(::rename(fs.M("etc/conf.d").c_str(), fs.M("etc/conf").c_str()), 0);
  ASSERT_EQ(::unlink(fs.M("usr/lib/gone").c_str()), 0);
  ASSERT_EQ(::chmod(fs.M("usr/lib/libx.so").c_str(), 0755), 0);
  ASSERT_EQ(::setxattr(fs.M("etc/passwd").c_str(), "user.tag", "v1", 2, 0), 0);
  ASSERT_EQ(::symlink("../etc/passwd", fs.M("var/pw").c_str()), 0);
  ASSERT_EQ(::link(fs.M("var/cache/c1").c_str(), fs.M("var/c1link").c_str()), 0);
  ASSERT_EQ(::mkfifo(fs.M("var/fifo").c_str(), 0600), 0);
  ASSERT_EQ(::chown(fs.M("var/cache").c_str(), 1000, 1000), 0);
}

void Ops2(MountedFs& fs) {
  ASSERT_TRUE(WriteFile(fs.M("etc/passwd"), "changed in gen 2\n").ok());
  ASSERT_EQ(::unlink(fs.M("var/cache/c1").c_str()), 0);
  ASSERT_EQ(::rename(fs.M("etc/conf").c_str(), fs.M("conf2").c_str()), 0);
  ASSERT_EQ(::truncate(fs.M("usr/lib/libx.so").c_str(), 10), 0);
  ASSERT_EQ(::removexattr(fs.M("etc/passwd").c_str(), "user.tag"), 0);
  ASSERT_TRUE(WriteFile(fs.M("new2"), "gen2").ok());
  ASSERT_EQ(::rmdir(fs.M("var/cache").c_str()), 0);
}

TEST_F(FsSealTest, KernelOverlayOfEachGenerationShowsTheTreeAsOfItsSeal) {
  Ops1(fs_);
  std::string tree1 = DescribeTree(fs_.mnt());
  auto s1 = fs_.Seal("setup");
  ASSERT_TRUE(s1.ok()) << s1.status().ToString();
  EXPECT_EQ((*s1)["sealed"], 1);
  Ops2(fs_);
  std::string tree2 = DescribeTree(fs_.mnt());
  ASSERT_TRUE(fs_.Seal().ok());
  ASSERT_TRUE(WriteFile(fs_.M("after"), "not in 2").ok());

  auto o1 = fs_.MountOracle(1);
  ASSERT_TRUE(o1.ok()) << o1.status().ToString();
  EXPECT_EQ(DescribeTree(*o1), tree1);
  auto o2 = fs_.MountOracle(2);
  ASSERT_TRUE(o2.ok());
  EXPECT_EQ(DescribeTree(*o2), tree2);
  EXPECT_NE(tree1, tree2);

  auto meta = FsMeta::Load(fs_.state());
  ASSERT_TRUE(meta.ok());
  ASSERT_EQ(meta->generations.size(), 3u);
  EXPECT_EQ(meta->generations[0].label, "setup");
  EXPECT_TRUE(meta->generations[1].sealed);
  EXPECT_FALSE(meta->generations[2].sealed);
}

TEST_F(FsSealTest, HandleOpenedBeforeSealWritesIntoNewGeneration) {
  ASSERT_TRUE(WriteFile(fs_.M("f"), "one").ok());
  int fd = ::open(fs_.M("f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  int lfd = ::open(fs_.M("etc/passwd").c_str(), O_RDWR);  // lower file, open before seal
  ASSERT_GE(lfd, 0);
  void* map = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED);
  ASSERT_TRUE(fs_.Seal().ok());
  ASSERT_EQ(::pwrite(fd, "two", 3, 3), 3);
  ASSERT_EQ(::pwrite(lfd, "ROOT", 4, 0), 4);
  std::memcpy(map, "O", 1);
  ASSERT_EQ(::msync(map, 4096, MS_SYNC), 0);
  ASSERT_EQ(::fsync(fd), 0);
  ASSERT_EQ(::fsync(lfd), 0);
  ::munmap(map, 4096);
  ASSERT_EQ(::ftruncate(fd, 5), 0);
  ::close(fd);
  ::close(lfd);
  EXPECT_EQ(ReadFile(fs_.M("f")), "Onetw");
  EXPECT_EQ(ReadFile(fs_.Upper(1) + "/f"), "one");  // sealed bytes unchanged
  EXPECT_EQ(ReadFile(fs_.Upper(2) + "/f"), "Onetw");
  // Opening for write before the seal copied the lower file up into
  // generation 1 (as overlayfs does); its bytes there are unchanged.
  EXPECT_EQ(ReadFile(fs_.Upper(1) + "/etc/passwd"), "root:x:0:0\n");
  EXPECT_EQ(ReadFile(fs_.Upper(2) + "/etc/passwd"), "ROOT:x:0:0\n");
}

TEST_F(FsSealTest, UnlinkAfterSealOfFileOpenedBeforeNeverTouchesSealedGeneration) {
  ASSERT_TRUE(WriteFile(fs_.M("g"), "sealed").ok());
  int fd = ::open(fs_.M("g").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(fs_.Seal().ok());
  ASSERT_EQ(::unlink(fs_.M("g").c_str()), 0);
  ASSERT_EQ(::pwrite(fd, "XXXXXX", 6, 0), 6);
  ASSERT_EQ(::fsync(fd), 0);
  char buf[8] = {};
  EXPECT_EQ(::pread(fd, buf, 6, 0), 6);
  EXPECT_EQ(std::string(buf, 6), "XXXXXX");
  ::close(fd);
  EXPECT_EQ(ReadFile(fs_.Upper(1) + "/g"), "sealed");
  // And an orphan from before the seal keeps working.
  ASSERT_TRUE(WriteFile(fs_.M("h"), "orphan").ok());
  fd = ::open(fs_.M("h").c_str(), O_RDWR);
  ASSERT_EQ(::unlink(fs_.M("h").c_str()), 0);
  ASSERT_TRUE(fs_.Seal().ok());
  EXPECT_EQ(::pwrite(fd, "O", 1, 0), 1);
  EXPECT_EQ(::fsync(fd), 0);
  ::close(fd);
}

TEST_F(FsSealTest, RenameAcrossSealAndResume) {
  ASSERT_TRUE(WriteFile(fs_.M("a"), "A").ok());
  ASSERT_TRUE(fs_.Seal("one").ok());
  ASSERT_EQ(::rename(fs_.M("a").c_str(), fs_.M("etc/a").c_str()), 0);
  ASSERT_TRUE(fs_.Stop().ok());
  // Restart on the same state: resumes generation 2, never re-creates.
  ASSERT_TRUE(fs_.Start().ok());
  EXPECT_EQ(ReadFile(fs_.M("etc/a")), "A");
  auto meta = FsMeta::Load(fs_.state());
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->live().id, 2u);
  auto st = ControlCall(fs_.state(), {{"op", "status"}});
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ((*st)["live"], 2);
  EXPECT_EQ((*st)["generations"][0]["label"], "one");
}

TEST_F(FsSealTest, KillDuringWritesAndSealsLosesNothingFsynced) {
  std::atomic<bool> stop{false};
  std::atomic<int> seals{0};
  std::thread sealer([&] {
    while (!stop) {
      if (fs_.Seal().ok()) ++seals;
    }
  });
  int synced = 0;
  for (int i = 0; i < 300; ++i) {
    std::string p = fs_.M("f" + std::to_string(i));
    int fd = ::open(p.c_str(), O_CREAT | O_WRONLY, 0644);
    if (fd < 0) break;
    std::string data = "data" + std::to_string(i);
    bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
              ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) break;
    synced = i + 1;
    if (i == 150) fs_.Kill();  // mid-writes, mid-seals
    if (fs_.pid() < 0) break;
  }
  stop = true;
  sealer.join();
  ASSERT_TRUE(fs_.Start().ok());
  auto meta = FsMeta::Load(fs_.state());
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  for (int i = 0; i < synced; ++i) {
    EXPECT_EQ(ReadFile(fs_.M("f" + std::to_string(i))), "data" + std::to_string(i)) << i;
  }
  // No half-made generation is left over.
  for (uint64_t g = meta->live().id + 1; g < meta->live().id + 3; ++g) {
    struct stat st;
    EXPECT_NE(::stat(layout::GenerationDir(fs_.state(), g).c_str(), &st), 0);
  }
  EXPECT_GT(seals.load(), 0);
}


// Found by the soak: hard links across seals. The names of a file linked in a
// sealed generation are separate inodes from then on (overlay2's semantics),
// yet each must keep working: link(2) through a surviving name failed with
// ENOENT (the kernel counted one node's nlink down for all of them), chmod
// failed with EIO once the first name was gone, and writes with EEXIST.
TEST_F(FsSealTest, HardLinkedFileKeepsWorkingThroughEveryNameAcrossSeals) {
  ASSERT_TRUE(WriteFile(fs_.M("f"), "data").ok());
  ASSERT_EQ(::link(fs_.M("f").c_str(), fs_.M("g").c_str()), 0);
  struct stat st;
  ASSERT_EQ(::stat(fs_.M("g").c_str(), &st), 0);
  ASSERT_TRUE(fs_.Seal("one").ok());
  ASSERT_EQ(::stat(fs_.M("f").c_str(), &st), 0);  // resolved in the new epoch by "f"
  ASSERT_EQ(::unlink(fs_.M("f").c_str()), 0);
  EXPECT_EQ(::chmod(fs_.M("g").c_str(), 0600), 0) << std::strerror(errno);
  ASSERT_TRUE(WriteFile(fs_.M("g"), "more data").ok());
  ASSERT_TRUE(fs_.Seal("two").ok());
  EXPECT_EQ(::chmod(fs_.M("g").c_str(), 0640), 0) << std::strerror(errno);
  ASSERT_EQ(::link(fs_.M("g").c_str(), fs_.M("h").c_str()), 0) << std::strerror(errno);
  ASSERT_EQ(::unlink(fs_.M("h").c_str()), 0);
  ASSERT_EQ(::link(fs_.M("g").c_str(), fs_.M("i").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(ReadFile(fs_.M("i")), "more data");
  ASSERT_EQ(::stat(fs_.M("g").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  // What the generations hold says the same.
  ASSERT_TRUE(fs_.Stop().ok());
  ASSERT_TRUE(fs_.Start().ok());
  EXPECT_EQ(ReadFile(fs_.M("g")), "more data");
  EXPECT_EQ(ReadFile(fs_.M("i")), "more data");
  EXPECT_NE(::access(fs_.M("f").c_str(), F_OK), 0);
  EXPECT_NE(::access(fs_.M("h").c_str(), F_OK), 0);
}

// Found by the bare-mount soak: rename(2) of one name of a file over another
// name of the same file must do nothing (POSIX), also once the link is in a
// sealed generation, where the overlay treats the names as separate inodes;
// doing the rename lost the first name (unlink, link, chmod by it: ENOENT).
TEST_F(FsSealTest, RenameBetweenNamesOfOneFileIsANoOpAcrossSeals) {
  ASSERT_TRUE(WriteFile(fs_.M("f"), "data").ok());
  ASSERT_EQ(::link(fs_.M("f").c_str(), fs_.M("g").c_str()), 0);
  struct stat st;
  ASSERT_EQ(::stat(fs_.M("f").c_str(), &st), 0);
  ASSERT_EQ(::stat(fs_.M("g").c_str(), &st), 0);
  ASSERT_EQ(::rename(fs_.M("f").c_str(), fs_.M("g").c_str()), 0);
  ASSERT_EQ(::access(fs_.M("f").c_str(), F_OK), 0);
  ASSERT_TRUE(fs_.Seal("one").ok());
  ASSERT_EQ(::stat(fs_.M("f").c_str(), &st), 0);
  ASSERT_EQ(::stat(fs_.M("g").c_str(), &st), 0);
  ASSERT_EQ(::rename(fs_.M("f").c_str(), fs_.M("g").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(::access(fs_.M("f").c_str(), F_OK), 0) << std::strerror(errno);
  EXPECT_EQ(::access(fs_.M("g").c_str(), F_OK), 0) << std::strerror(errno);
  // The kernel now knows the source's node as "g": a change through it is a
  // change of "g" (copy-up breaks the link there, overlay2's semantics).
  ASSERT_EQ(::chmod(fs_.M("g").c_str(), 0600), 0) << std::strerror(errno);
  ASSERT_EQ(::link(fs_.M("f").c_str(), fs_.M("h").c_str()), 0) << std::strerror(errno);
  ASSERT_EQ(::unlink(fs_.M("f").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(ReadFile(fs_.M("g")), "data");
  EXPECT_EQ(ReadFile(fs_.M("h")), "data");
  ASSERT_TRUE(fs_.Seal("two").ok());
  ASSERT_TRUE(fs_.Stop().ok());
  ASSERT_TRUE(fs_.Start().ok());
  EXPECT_NE(::access(fs_.M("f").c_str(), F_OK), 0);
  EXPECT_EQ(ReadFile(fs_.M("g")), "data");
  EXPECT_EQ(ReadFile(fs_.M("h")), "data");
  ASSERT_EQ(::stat(fs_.M("g").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat(fs_.M("h").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

// The kernel (writeback cache) sends the cached times of a file after its
// unlink; for a file of a sealed generation that was refused, and the kernel
// counted the refusal against the whole mount: syncfs(2) then failed with
// EIO (every seal logged it, and so would `sync -f` in the container).
TEST_F(FsSealTest, UnlinkOfASealedFileLeavesSyncfsClean) {
  ASSERT_TRUE(WriteFile(fs_.M("a"), "x").ok());
  ASSERT_TRUE(WriteFile(fs_.M("b"), "y").ok());
  ASSERT_EQ(::link(fs_.M("b").c_str(), fs_.M("b2").c_str()), 0);
  ASSERT_TRUE(fs_.Seal("one").ok());
  UniqueFd dir(::open(fs_.M("").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir);
  EXPECT_EQ(::syncfs(dir.get()), 0) << std::strerror(errno);
  ASSERT_EQ(::unlink(fs_.M("a").c_str()), 0);
  EXPECT_EQ(::syncfs(dir.get()), 0) << std::strerror(errno);
  ASSERT_EQ(::unlink(fs_.M("b").c_str()), 0);
  EXPECT_EQ(::syncfs(dir.get()), 0) << std::strerror(errno);
  EXPECT_EQ(ReadFile(fs_.M("b2")), "y");
  ASSERT_TRUE(fs_.Seal("two").ok());
  EXPECT_EQ(::syncfs(dir.get()), 0) << std::strerror(errno);
}

}  // namespace
}  // namespace ctrsnap::fstest
