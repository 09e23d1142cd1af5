// Differential test: the same random sequence of operations on ctrsnap-fs
// (with seals in between) and on a kernel overlayfs mount over an identical
// lower; same results (errno) for each operation, same trees at the end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "tests/fs/fs_fixture.h"

namespace ctrsnap::fstest {
namespace {

// One operation applied to a root; returns 0 or errno.
struct Op {
  int kind;
  std::string a, b, data;
  mode_t mode;
  off_t off;
};

int Apply(const std::string& root, const Op& op) {
  std::string a = root + "/" + op.a, b = root + "/" + op.b;
  int r = 0;
  switch (op.kind) {
    case 0: {  // write at offset (create)
      int fd = ::open(a.c_str(), O_CREAT | O_WRONLY, 0644);
      if (fd < 0) return errno;
      r = ::pwrite(fd, op.data.data(), op.data.size(), op.off) < 0 ? errno : 0;
      ::close(fd);
      return r;
    }
    case 1: return ::truncate(a.c_str(), op.off) ? errno : 0;
    case 2: return ::mkdir(a.c_str(), op.mode) ? errno : 0;
    case 3: return ::rmdir(a.c_str()) ? errno : 0;
    case 4: return ::unlink(a.c_str()) ? errno : 0;
    case 5: return ::rename(a.c_str(), b.c_str()) ? errno : 0;
    case 6: return ::chmod(a.c_str(), op.mode) ? errno : 0;
    case 7: return ::link(a.c_str(), b.c_str()) ? errno : 0;
    case 8: return ::symlink(op.data.c_str(), a.c_str()) ? errno : 0;
    case 9: return ::setxattr(a.c_str(), "user.x", op.data.data(), op.data.size(), 0) ? errno : 0;
    case 10:
      return ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) ? errno : 0;
    case 11: return ::lchown(a.c_str(), static_cast<uid_t>(op.off), 100) ? errno : 0;
    case 12: {  // append
      int fd = ::open(a.c_str(), O_WRONLY | O_APPEND);
      if (fd < 0) return errno;
      r = ::write(fd, op.data.data(), op.data.size()) < 0 ? errno : 0;
      ::close(fd);
      return r;
    }
  }
  return EINVAL;
}

class FsDiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(MakeDirs(fs_.L("a/b/c")).ok());
    ASSERT_TRUE(MakeDirs(fs_.L("d")).ok());
    ASSERT_TRUE(WriteFile(fs_.L("a/f1"), std::string(5000, '1')).ok());
    ASSERT_TRUE(WriteFile(fs_.L("a/b/f2"), "two").ok());
    ASSERT_TRUE(WriteFile(fs_.L("d/f3"), "three").ok());
    ASSERT_EQ(::link(fs_.L("d/f3").c_str(), fs_.L("d/f3link").c_str()), 0);
    ASSERT_EQ(::symlink("f3", fs_.L("d/sl").c_str()), 0);
    // The kernel overlay reference: its own copy of lower, upper and work.
    ref_ = fs_.dir() + "/ref";
    ASSERT_EQ(Sh("mkdir -p " + ref_ + "/u " + ref_ + "/w " + ref_ + "/m && cp -a " + fs_.lower() +
                  " " + ref_ + "/l"),
              0);
    ASSERT_EQ(Sh("mount -t overlay -o redirect_dir=on,metacopy=on,index=off,lowerdir=" + ref_ +
                 "/l,upperdir=" + ref_ + "/u,workdir=" + ref_ + "/w none " + ref_ + "/m"),
              0);
    mounted_ = true;
    ASSERT_TRUE(fs_.Start().ok());
  }
  void TearDown() override {
    if (mounted_) ::umount2((ref_ + "/m").c_str(), MNT_DETACH);
  }
  MountedFs fs_;
  std::string ref_;
  bool mounted_ = false;
};

TEST_F(FsDiffTest, RandomOperationsMatchKernelOverlay) {
  std::mt19937 rng(12345);
  std::vector<std::string> names = {"a", "a/b", "a/b/c", "d", "a/f1", "a/b/f2", "d/f3",
                                    "d/f3link", "d/sl", "n1", "a/n2", "a/b/c/n3", "d/n4",
                                    "x", "a/y", "d/z"};
  auto pick = [&] { return names[rng() % names.size()]; };
  int mismatches = 0;
  const int kOps = 600;
  for (int i = 0; i < kOps; ++i) {
    Op op;
    op.kind = static_cast<int>(rng() % 13);
    op.a = pick();
    op.b = pick();
    op.mode = (rng() % 2) ? 0755 : 0600;
    op.off = static_cast<off_t>(rng() % 9000);
    op.data = std::string(1 + rng() % 300, static_cast<char>('a' + rng() % 26));
    if (op.kind == 8) op.data = pick();
    if (op.kind == 11) op.off = 1000 + rng() % 3;
    if (op.kind == 2 && rng() % 2) names.push_back(op.a + "/s" + std::to_string(i % 5));
    int want = Apply(ref_ + "/m", op);
    int got = Apply(fs_.mnt(), op);
    if (want != got) {
      ++mismatches;
      ADD_FAILURE() << "op " << i << " kind " << op.kind << " " << op.a << " " << op.b
                    << ": overlay errno " << want << ", ctrsnap-fs errno " << got;
      if (mismatches > 5) break;
    }
    if (i % 150 == 149) {
      ASSERT_TRUE(fs_.Seal().ok());
    }
  }
  std::string want = DescribeTree(ref_ + "/m");
  std::string got = DescribeTree(fs_.mnt());
  EXPECT_EQ(got, want);
  // The sealed generations plus the live one, read by the kernel, agree too.
  ASSERT_TRUE(fs_.Stop().ok());
  auto oracle = fs_.MountOracle(5);
  ASSERT_TRUE(oracle.ok()) << oracle.status().ToString();
  EXPECT_EQ(DescribeTree(*oracle), want);
}

}  // namespace
}  // namespace ctrsnap::fstest
