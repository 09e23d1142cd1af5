// The state directory fails under the daemon: it fills up (ENOSPC, a small
// tmpfs) or the disk goes bad (EIO, an ext4 image on a loop device shut down
// with EXT4_IOC_SHUTDOWN; device-mapper's dm-error/dm-flakey are not
// available on every host, this kernel has none). The writer gets the error,
// the daemon survives, seals and snapshots fail with a message instead of
// half-writing anything, and once space is freed (or the disk is back)
// everything works again.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <iostream>
#include <cstring>

#include "common/control_client.h"
#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/unique_fd.h"
#include "tests/faults/fault_util.h"
#include "tests/fs/fs_fixture.h"

#ifndef EXT4_IOC_SHUTDOWN
#define EXT4_IOC_SHUTDOWN _IOR('X', 125, uint32_t)
#endif
#ifndef EXT4_GOING_FLAGS_LOGFLUSH
#define EXT4_GOING_FLAGS_LOGFLUSH 0x1
#endif

namespace ctrsnap::faulttest {
namespace {

using fstest::MountedFs;
using fstest::ReadFile;
using fstest::Sh;
using fstest::WriteFile;

// Writes 1 MiB chunks to PATH until an error; returns that errno (0: none
// within LIMIT_MB). Errors may surface at write, fsync or close (FUSE
// writeback), all are checked.
int FillUntilError(const std::string& path, int limit_mb) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return errno;
  std::string chunk(1 << 20, 'F');
  int err = 0;
  for (int i = 0; i < limit_mb && err == 0; ++i) {
    errno = 0;
    if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
      err = errno ? errno : ENOSPC;
    }
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  return err;
}

// Writes DATA to PATH with fsync; returns the first errno or 0.
int WriteSynced(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return errno;
  int err = 0;
  if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) err = errno;
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  return err;
}

class FaultsStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(MakeDirs(fs_.L("etc")).ok());
    ASSERT_TRUE(WriteFile(fs_.L("etc/passwd"), "root:x:0:0\n").ok());
    ASSERT_TRUE(MakeDirs(fs_.state()).ok());
  }
  void TearDown() override {
    if (fs_.pid() > 0 && !fs_.Stop().ok()) fs_.Kill();
    if (mounted_) ::umount2(fs_.state().c_str(), MNT_DETACH);
  }
  MountedFs fs_;
  bool mounted_ = false;
};

TEST_F(FaultsStorageTest, FullStateDirGivesEnospcAndRecoversWhenFreed) {
  ASSERT_EQ(::mount("tmpfs", fs_.state().c_str(), "tmpfs", 0, "size=24m,mode=0700"), 0)
      << std::strerror(errno);
  mounted_ = true;
  ASSERT_TRUE(fs_.Start().ok());
  ASSERT_EQ(WriteSynced(fs_.M("a"), "before"), 0);
  ASSERT_TRUE(fs_.Seal().ok());

  int err = FillUntilError(fs_.M("fill"), 64);
  EXPECT_EQ(err, ENOSPC) << std::strerror(err);
  ASSERT_TRUE(Alive(fs_.pid()));
  EXPECT_EQ(ReadFile(fs_.M("a")), "before");
  struct stat st;
  EXPECT_EQ(::stat(fs_.M("etc/passwd").c_str(), &st), 0);

  // A seal and a snapshot on the full disk: a reply either way, no hang,
  // nothing half-written in the store.
  auto seal = fs_.Seal("full");
  if (!seal.ok()) std::cerr << "[ info ] seal on a full disk: " << seal.status().ToString() << "\n";
  ASSERT_TRUE(Alive(fs_.pid()));
  auto full = SnapshotAndUnpack(fs_.dir(), fs_.state(), 1);
  if (full.rc != 0) {
    EXPECT_NE(full.out.find("No space"), std::string::npos) << full.out;
  }
  ASSERT_TRUE(VerifySnapshotStore(fs_.state()).ok());
  ASSERT_TRUE(Alive(fs_.pid()));

  // Free the space: everything works again.
  ASSERT_EQ(::unlink(fs_.M("fill").c_str()), 0);
  auto meta = FsMeta::Load(fs_.state());
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  ASSERT_EQ(WriteSynced(fs_.M("b"), "after"), 0);
  ASSERT_TRUE(fs_.Seal().ok());
  if (full.rc == 0) {
    // The first snapshot succeeded on the full disk; the store must be small
    // enough for the next one: drop its output tree.
    ASSERT_EQ(Sh("rm -rf " + fs_.dir() + "/layout-1 " + fs_.dir() + "/bundle-1"), 0);
  }
  auto s = SnapshotAndUnpack(fs_.dir(), fs_.state(), 2);
  ASSERT_EQ(s.rc, 0) << s.out;
  EXPECT_EQ(ReadFile(s.rootfs + "/a"), "before");
  EXPECT_EQ(ReadFile(s.rootfs + "/b"), "after");
  struct stat ignored;
  EXPECT_NE(::lstat((s.rootfs + "/fill").c_str(), &ignored), 0);
  ASSERT_TRUE(fs_.Stop().ok());
  ASSERT_TRUE(fs_.Start().ok());
  EXPECT_EQ(ReadFile(fs_.M("b")), "after");
}

TEST_F(FaultsStorageTest, FailedDiskGivesEioDaemonSurvivesAndRemountRecovers) {
  std::string img = fs_.dir() + "/state.img";
  ASSERT_EQ(Sh("truncate -s 64M " + img + " && mkfs.ext4 -q " + img), 0);
  ASSERT_EQ(Sh("mount -o loop " + img + " " + fs_.state()), 0);
  mounted_ = true;
  ASSERT_TRUE(fs_.Start().ok());
  ASSERT_EQ(WriteSynced(fs_.M("a"), "before"), 0);
  ASSERT_TRUE(fs_.Seal().ok());
  ASSERT_EQ(WriteSynced(fs_.M("b"), "synced"), 0);

  {  // The disk fails: every later operation on it returns EIO.
    UniqueFd fd(::open(fs_.state().c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(fd);
    uint32_t flags = EXT4_GOING_FLAGS_LOGFLUSH;
    ASSERT_EQ(::ioctl(fd.get(), EXT4_IOC_SHUTDOWN, &flags), 0) << std::strerror(errno);
  }
  int err = WriteSynced(fs_.M("c"), "lost");
  EXPECT_NE(err, 0) << "a write on a failed disk succeeded";
  std::cerr << "[ info ] write on the failed disk: " << std::strerror(err) << "\n";
  ASSERT_TRUE(Alive(fs_.pid()));
  auto seal = fs_.Seal();
  EXPECT_FALSE(seal.ok());
  ASSERT_TRUE(Alive(fs_.pid()));
  auto snap = SnapshotAndUnpack(fs_.dir(), fs_.state(), 1);
  EXPECT_NE(snap.rc, 0);
  EXPECT_FALSE(snap.out.empty());
  ASSERT_TRUE(Alive(fs_.pid()));

  // The disk comes back (remount, as after a repair): restart resumes with
  // every byte synced before the failure.
  if (!fs_.Stop().ok()) fs_.Kill();
  ASSERT_EQ(::umount2(fs_.state().c_str(), 0), 0) << std::strerror(errno);
  ASSERT_EQ(Sh("mount -o loop " + img + " " + fs_.state()), 0);
  ASSERT_TRUE(fs_.Start().ok());
  EXPECT_EQ(ReadFile(fs_.M("a")), "before");
  EXPECT_EQ(ReadFile(fs_.M("b")), "synced");
  ASSERT_EQ(WriteSynced(fs_.M("d"), "later"), 0);
  auto s = SnapshotAndUnpack(fs_.dir(), fs_.state(), 2);
  ASSERT_EQ(s.rc, 0) << s.out;
  EXPECT_EQ(ReadFile(s.rootfs + "/a"), "before");
  EXPECT_EQ(ReadFile(s.rootfs + "/b"), "synced");
  EXPECT_EQ(ReadFile(s.rootfs + "/d"), "later");
  EXPECT_TRUE(VerifySnapshotStore(fs_.state()).ok());
}

}  // namespace
}  // namespace ctrsnap::faulttest
