#include "packaging/install/apply_plan.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "packaging/install/service.h"
#include "packaging/install/test_files.h"

namespace ctrsnap::install {
namespace {

using testing::TempDir;

TEST(ApplyPlanTest, WritesBacksUpAndKeepsMode) {
  TempDir dir;
  std::string a = dir.Write("a.conf", "old\n");
  ASSERT_EQ(::chmod(a.c_str(), 0600), 0);
  Plan plan;
  plan.changes = {{a, "new\n"}, {dir.Path("sub/b.conf"), "b\n"}};
  auto r = ApplyPlan(plan, "STAMP", nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(dir.Read("a.conf"), "new\n");
  EXPECT_EQ(dir.Read("sub/b.conf"), "b\n");
  EXPECT_EQ(dir.Read("a.conf.ctrsnap-backup-STAMP"), "old\n");
  struct stat st;
  ASSERT_EQ(::stat(a.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A second backup in the same second gets its own name.
  plan.changes = {{a, "newer\n"}};
  ASSERT_TRUE(ApplyPlan(plan, "STAMP", nullptr).ok());
  EXPECT_EQ(dir.Read("a.conf.ctrsnap-backup-STAMP.1"), "new\n");
}

TEST(ApplyPlanTest, FailedValidationRollsEverythingBack) {
  TempDir dir;
  std::string a = dir.Write("a.conf", "old\n");
  std::string gone = dir.Write("gone.conf", "keep me\n");
  Plan plan;
  plan.changes = {{a, "new\n"}, {dir.Path("created.conf"), "x\n"}, {gone, std::nullopt}};
  auto r = ApplyPlan(plan, "S", [] { return Status::InvalidArgument("engine says no"); });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("engine says no"), std::string::npos);
  EXPECT_EQ(dir.Read("a.conf"), "old\n");
  EXPECT_FALSE(dir.Exists("created.conf"));
  EXPECT_EQ(dir.Read("gone.conf"), "keep me\n");
}

TEST(ApplyPlanTest, UnchangedFilesAreNotTouched) {
  TempDir dir;
  std::string a = dir.Write("a.conf", "same\n");
  Plan plan;
  plan.changes = {{a, "same\n"}, {dir.Path("absent"), std::nullopt}};
  bool validated = false;
  auto r = ApplyPlan(plan, "S", [&] {
    validated = true;
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->written.empty());
  EXPECT_TRUE(r->backups.empty());
  EXPECT_FALSE(validated);
}

}  // namespace
}  // namespace ctrsnap::install

namespace ctrsnap::install {
namespace {

TEST(RestartServiceTest, WithoutSystemdSaysSoAndWhatToRestart) {
  testing::TempDir dir;
  EXPECT_FALSE(SystemdRunning(dir.Path("no-systemd")));
  Status st = RestartService("containerd", dir.Path("no-systemd"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kUnsupported);
  EXPECT_NE(st.message().find("systemd is not running"), std::string::npos);
  EXPECT_NE(st.message().find("restart containerd yourself"), std::string::npos);
}

}  // namespace
}  // namespace ctrsnap::install
