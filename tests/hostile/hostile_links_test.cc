// A hostile container plays with links: symlinks and hard links that point
// outside its root, and directories swapped for symlinks (renames and
// RENAME_EXCHANGE in a tight loop) while other processes of the container
// look paths up through ctrsnap-fs, while generations are sealed and while
// `ctrsnap snapshot` exports. A canary file outside the root must never be
// read into the container or a layer, nor be modified; nothing may appear
// next to it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <random>
#include <iostream>
#include <string>

#include "common/file_util.h"
#include "tests/faults/fault_util.h"
#include "tests/fs/fs_fixture.h"

namespace ctrsnap::faulttest {
namespace {

using fstest::MountedFs;
using fstest::ReadFile;
using fstest::WriteFile;

// Forks a child chrooted into ROOT (as a container is) that runs FN and
// exits with its result.
template <typename Fn>
pid_t InChroot(const std::string& root, Fn fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::chroot(root.c_str()) != 0 || ::chdir("/") != 0) _exit(100);
    _exit(fn());
  }
  return pid;
}

int WaitRc(pid_t pid) {
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

class HostileLinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    std::string nonce = std::to_string(std::random_device{}());
    marker_ = "CANARY-" + nonce + "-outside-the-root";
    linked_marker_ = "LINKED-" + nonce + "-in-the-image";
    outside_ = fs_.dir() + "/outside";
    ASSERT_TRUE(MakeDirs(outside_).ok());
    ASSERT_TRUE(WriteFile(outside_ + "/canary", marker_, 0644).ok());
    ASSERT_TRUE(WriteFile(outside_ + "/linked", linked_marker_, 0644).ok());
    ASSERT_TRUE(MakeDirs(fs_.L("etc")).ok());
    ASSERT_TRUE(WriteFile(fs_.L("etc/passwd"), "root:x:0:0\n").ok());
    ASSERT_TRUE(MakeDirs(fs_.L("y_dir")).ok());
    ASSERT_TRUE(WriteFile(fs_.L("y_dir/f"), "inside").ok());
    // Host paths as symlink targets: harmless inside a chroot, deadly if the
    // daemon or the exporter ever followed them on the host.
    ASSERT_EQ(::symlink(outside_.c_str(), fs_.L("y_link").c_str()), 0);
    ASSERT_EQ(::symlink((outside_ + "/canary").c_str(), fs_.L("abs").c_str()), 0);
    ASSERT_EQ(::symlink("../../../../../../outside/canary", fs_.L("rel").c_str()), 0);
    // The image itself holds a hard link to a file outside the root (same
    // filesystem): writing it in the container must copy it up, never write
    // through the link.
    ASSERT_EQ(::link((outside_ + "/linked").c_str(), fs_.L("hl").c_str()), 0);
    ASSERT_TRUE(fs_.Start().ok());
    ASSERT_EQ(::stat((outside_ + "/canary").c_str(), &canary_), 0);
    ASSERT_EQ(::stat((outside_ + "/linked").c_str(), &linked_), 0);
  }

  void ExpectOutsideUntouched() {
    EXPECT_EQ(ReadFile(outside_ + "/canary"), marker_);
    EXPECT_EQ(ReadFile(outside_ + "/linked"), linked_marker_);
    for (auto [name, before] : {std::pair{"/canary", canary_}, std::pair{"/linked", linked_}}) {
      struct stat st;
      ASSERT_EQ(::stat((outside_ + name).c_str(), &st), 0);
      EXPECT_EQ(st.st_mode, before.st_mode) << name;
      EXPECT_EQ(st.st_uid, before.st_uid) << name;
      EXPECT_EQ(st.st_size, before.st_size) << name;
      EXPECT_EQ(st.st_mtim.tv_sec, before.st_mtim.tv_sec) << name;
      EXPECT_EQ(st.st_mtim.tv_nsec, before.st_mtim.tv_nsec) << name;
      EXPECT_EQ(::getxattr((outside_ + name).c_str(), "user.evil", nullptr, 0), -1) << name;
    }
    auto ls = testing::Sh("ls -A " + outside_);
    EXPECT_EQ(ls.out, "canary\nlinked\n") << "something appeared outside the root";
  }

  MountedFs fs_;
  std::string marker_, linked_marker_, outside_;
  struct stat canary_ = {}, linked_ = {};
};

TEST_F(HostileLinksTest, HardLinkToAFileOutsideIsCopiedUpNeverWrittenThrough) {
  pid_t pid = InChroot(fs_.mnt(), [] {
    int fd = ::open("/hl", O_WRONLY | O_APPEND);
    if (fd < 0 || ::write(fd, "+w", 2) != 2 || ::close(fd) != 0) return 1;
    if (::chmod("/hl", 0777) != 0 || ::chown("/hl", 1234, 1234) != 0) return 2;
    if (::setxattr("/hl", "user.evil", "1", 1, 0) != 0) return 3;
    if (::link("/hl", "/hl2") != 0) return 4;
    return 0;
  });
  EXPECT_EQ(WaitRc(pid), 0);
  EXPECT_EQ(ReadFile(fs_.M("hl")), linked_marker_ + "+w");
  ASSERT_TRUE(fs_.Seal().ok());
  auto s = SnapshotAndUnpack(fs_.dir(), fs_.state(), 1);
  ASSERT_EQ(s.rc, 0) << s.out;
  EXPECT_EQ(ReadFile(s.rootfs + "/hl2"), linked_marker_ + "+w");
  ExpectOutsideUntouched();
}

TEST_F(HostileLinksTest, SymlinkSwapsDuringLookupsSealsAndExportsNeverReachOutside) {
  std::string host_outside = outside_;
  // The swapper: /x flips between a real directory and a symlink to the
  // host's outside directory, by rename and by RENAME_EXCHANGE (upper
  // entries), and /y_dir <-> /y_link the same way (lower entries).
  pid_t swapper = InChroot(fs_.mnt(), [&] {
    if (::mkdir("/x_dir", 0755) != 0) return 1;
    int fd = ::open("/x_dir/f", O_CREAT | O_WRONLY, 0644);
    if (fd < 0) return 2;
    ::close(fd);
    if (::symlink(host_outside.c_str(), "/x_link") != 0) return 3;
    for (unsigned i = 0;; ++i) {
      (void)::rename("/x_dir", "/x");
      (void)::renameat2(AT_FDCWD, "/x", AT_FDCWD, "/x_link", RENAME_EXCHANGE);
      (void)::renameat2(AT_FDCWD, "/x", AT_FDCWD, "/x_link", RENAME_EXCHANGE);
      (void)::rename("/x", "/x_dir");
      (void)::rename("/x_link", "/x");
      (void)::rename("/x", "/x_link");
      (void)::renameat2(AT_FDCWD, "/y_dir", AT_FDCWD, "/y_link", RENAME_EXCHANGE);
      if (i % 2) (void)::renameat2(AT_FDCWD, "/y_dir", AT_FDCWD, "/y_link", RENAME_EXCHANGE);
    }
    return 0;
  });
  // Accessors: every operation through the flipping names, as root in the
  // container. Reading the canary's bytes would be an escape.
  std::string marker = marker_;
  auto accessor = [marker](int seed) {
    return [marker, seed] {
      char buf[256];
      for (int i = 0; i < 600; ++i) {
        for (const char* d : {"/x", "/y_dir", "/y_link", "/x_link"}) {
          std::string base = d;
          for (const char* name : {"/canary", "/f", "/linked"}) {
            int fd = ::open((base + name).c_str(), O_RDONLY | O_NONBLOCK);
            if (fd >= 0) {
              ssize_t n = ::read(fd, buf, sizeof(buf));
              ::close(fd);
              if (n > 0 && std::string(buf, static_cast<size_t>(n)).find(marker) != std::string::npos) {
                return 10;  // read the canary
              }
            }
          }
          std::string f = base + "/f";
          int fd = ::open(f.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK, 0644);
          if (fd >= 0) {
            (void)!::write(fd, "w", 1);
            ::close(fd);
          }
          (void)::chmod(f.c_str(), 0600 | (i & 1 ? 0044 : 0));
          (void)::lchown(f.c_str(), static_cast<uid_t>(seed), 0);
          (void)::setxattr(f.c_str(), "user.evil", "1", 1, 0);
          std::string n = base + "/new" + std::to_string(seed);
          (void)::mkdir(n.c_str(), 0755);
          (void)::rmdir(n.c_str());
          (void)::link(f.c_str(), (base + "/hl" + std::to_string(seed)).c_str());
          (void)::unlink((base + "/hl" + std::to_string(seed)).c_str());
          (void)::truncate((base + "/canary").c_str(), 0);
          (void)::unlink((base + "/canary").c_str());
        }
      }
      return 0;
    };
  };
  pid_t a1 = InChroot(fs_.mnt(), accessor(1));
  pid_t a2 = InChroot(fs_.mnt(), accessor(2));
  // Meanwhile: seals, and snapshots exporting what the race left sealed.
  int snaps = 0;
  for (int i = 0; i < 4; ++i) {
    (void)fs_.Seal();
    auto s = SnapshotAndUnpack(fs_.dir(), fs_.state(), i + 1);
    // "nothing to snapshot" is fine; anything else must succeed.
    if (s.rc != 0) {
      EXPECT_NE(s.out.find("nothing to snapshot"), std::string::npos) << s.out;
      continue;
    }
    ++snaps;
    EXPECT_FALSE(LayoutContains(fs_.dir() + "/layout-" + std::to_string(i + 1), marker_))
        << "the canary's bytes are in snapshot " << i + 1;
    EXPECT_FALSE(TreeContains(s.rootfs, marker_));
  }
  EXPECT_EQ(WaitRc(a1), 0) << "accessor 1 read the canary";
  EXPECT_EQ(WaitRc(a2), 0) << "accessor 2 read the canary";
  ::kill(swapper, SIGKILL);
  WaitRc(swapper);
  ASSERT_TRUE(Alive(fs_.pid())) << ReadFile(fs_.dir() + "/stderr.log");
  EXPECT_GT(snaps, 0);
  // And a final export of everything, after the race.
  auto s = SnapshotAndUnpack(fs_.dir(), fs_.state(), 10, "--squash");
  ASSERT_EQ(s.rc, 0) << s.out;
  EXPECT_FALSE(LayoutContains(fs_.dir() + "/layout-10", marker_)) << "canary bytes exported";
  char t[4096];
  ssize_t n = ::readlink((s.rootfs + "/abs").c_str(), t, sizeof(t));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(t, static_cast<size_t>(n)), outside_ + "/canary") << "stored as a link";
  ExpectOutsideUntouched();
}

}  // namespace
}  // namespace ctrsnap::faulttest
