#include "common/file_util.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ctrsnap {
namespace {

class FileUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ctrsnap-fu-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }
  std::string dir_;
};

TEST_F(FileUtilTest, WriteFileAtomicReplacesWholeFile) {
  std::string p = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomic(p, "first version", 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(p, "second", 0640).ok());
  EXPECT_EQ(*ReadFileToString(p), "second");
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  // No temp file left behind.
  EXPECT_NE(access((p + ".tmp." + std::to_string(getpid())).c_str(), F_OK), 0);
}

TEST_F(FileUtilTest, OpenBeneathRefusesSymlinksAndDotDot) {
  ASSERT_TRUE(MakeDirs(dir_ + "/root/sub").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/secret", "host").ok());
  ASSERT_EQ(symlink("/etc/passwd", (dir_ + "/root/abs").c_str()), 0);
  ASSERT_EQ(symlink("../secret", (dir_ + "/root/rel").c_str()), 0);
  int root = open((dir_ + "/root").c_str(), O_PATH | O_DIRECTORY);
  ASSERT_GE(root, 0);
  EXPECT_TRUE(OpenBeneath(root, "sub", O_RDONLY | O_DIRECTORY).ok());
  EXPECT_EQ(OpenBeneath(root, "abs", O_RDONLY).status().err(), ELOOP);
  EXPECT_EQ(OpenBeneath(root, "rel", O_RDONLY).status().err(), ELOOP);
  EXPECT_EQ(OpenBeneath(root, "../secret", O_RDONLY).status().err(), EXDEV);
  EXPECT_EQ(OpenBeneath(root, "/etc/passwd", O_RDONLY).status().err(), EXDEV);
  close(root);
}

TEST_F(FileUtilTest, RemoveTreeDoesNotFollowSymlinks) {
  ASSERT_TRUE(MakeDirs(dir_ + "/keep").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/keep/file", "x").ok());
  ASSERT_TRUE(MakeDirs(dir_ + "/gone/a/b").ok());
  ASSERT_EQ(symlink((dir_ + "/keep").c_str(), (dir_ + "/gone/a/link").c_str()), 0);
  ASSERT_TRUE(RemoveTree(dir_ + "/gone").ok());
  EXPECT_NE(access((dir_ + "/gone").c_str(), F_OK), 0);
  EXPECT_EQ(access((dir_ + "/keep/file").c_str(), F_OK), 0);
}

TEST_F(FileUtilTest, MakeDirsReportsAFileInTheWay) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/f", "x").ok());
  Status s = MakeDirs(dir_ + "/f/sub");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find(dir_ + "/f"), std::string::npos);
}

TEST(JoinPathTest, Joins) {
  EXPECT_EQ(JoinPath("/a", "b"), "/a/b");
  EXPECT_EQ(JoinPath("/a/", "/b"), "/a/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
}

}  // namespace
}  // namespace ctrsnap
