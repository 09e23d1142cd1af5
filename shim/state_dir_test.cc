#include "shim/state_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "common/file_util.h"
#include "shim/container_meta.h"

namespace ctrsnap::shim {
namespace {

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ctrsnap-state-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(root_).ok()); }
  std::string root_;
};

TEST_F(StateDirTest, CreateThenResumeNeverRecreates) {
  auto first = OpenStateDir(root_ + "/states", "c1");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->resumed);
  struct stat st{};
  ASSERT_EQ(stat(first->path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // A file written by the first run survives the second create.
  ContainerMeta m;
  m.id = "c1";
  m.starts = 1;
  ASSERT_TRUE(m.Save(first->path).ok());
  auto second = OpenStateDir(root_ + "/states", "c1");
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->resumed);
  EXPECT_EQ(second->path, first->path);
  EXPECT_EQ(ContainerMeta::Load(second->path)->starts, 1u);
  EXPECT_TRUE(FindStateDir(root_ + "/states", "c1").ok());
  EXPECT_FALSE(FindStateDir(root_ + "/states", "c2").ok());
}

TEST_F(StateDirTest, HostileIdsAndSymlinks) {
  for (const char* id : {"", ".", "..", "a/b", "../x", "a b", "x\n"}) {
    EXPECT_FALSE(OpenStateDir(root_, id).ok()) << id;
  }
  ASSERT_EQ(symlink("/etc", (root_ + "/evil").c_str()), 0);
  EXPECT_FALSE(OpenStateDir(root_, "evil").ok());
  EXPECT_FALSE(FindStateDir(root_, "evil").ok());
  EXPECT_TRUE(ValidateContainerId("abc-DEF_1.2+3").ok());
  EXPECT_FALSE(ValidateContainerId(std::string(1025, 'a')).ok());
}

}  // namespace
}  // namespace ctrsnap::shim
