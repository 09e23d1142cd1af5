#include "hooks/gpu/cdi_registry.h"

#include <gtest/gtest.h>

#include "hooks/gpu/test_tmpdir.h"

namespace ctrsnap::gpu {
namespace {

std::string Spec(const std::string& kind, const std::string& dev, const std::string& env) {
  return R"({"cdiVersion":"0.6.0","kind":")" + kind + R"(","devices":[{"name":")" + dev +
         R"(","containerEdits":{"env":[")" + env + R"("]}}],"containerEdits":{"env":["SPEC=)" + dev + R"("]}})";
}

TEST(CdiRegistry, LaterDirectoriesWinAndBadFilesAreRecorded) {
  TempDir t;
  t.Write("etc/a.json", Spec("vendor.com/x", "d0", "FROM=etc"));
  t.Write("run/b.yaml", "cdiVersion: 0.6.0\nkind: vendor.com/x\ndevices:\n- name: d0\n  containerEdits:\n    env: [FROM=run]\n");
  t.Write("etc/broken.json", "{");
  t.Write("etc/ignored.txt", Spec("vendor.com/y", "z", "A=1"));
  auto reg = CdiRegistry::Load({t.path() + "/etc", t.path() + "/run", t.path() + "/missing"});
  EXPECT_EQ(reg.DeviceNames(), (std::vector<std::string>{"vendor.com/x=d0"}));
  ASSERT_EQ(reg.errors().size(), 1u);
  EXPECT_NE(reg.errors()[0].find("broken.json"), std::string::npos);
  auto edits = reg.EditsFor({"vendor.com/x=d0"});
  ASSERT_TRUE(edits.ok());
  EXPECT_EQ(edits->env, (std::vector<std::string>{"FROM=run"}));  // the run dir's spec has no spec edits
}

TEST(CdiRegistry, SamePriorityConflictRemovesTheDevice) {
  TempDir t;
  t.Write("d/a.json", Spec("vendor.com/x", "d0", "A=1"));
  t.Write("d/b.json", Spec("vendor.com/x", "d0", "A=2"));
  t.Write("d/c.json", Spec("vendor.com/x", "d1", "B=1"));
  auto reg = CdiRegistry::Load({t.path() + "/d"});
  EXPECT_EQ(reg.DeviceNames(), (std::vector<std::string>{"vendor.com/x=d1"}));
  ASSERT_EQ(reg.errors().size(), 1u);
  EXPECT_NE(reg.errors()[0].find("conflicting"), std::string::npos);
}

TEST(CdiRegistry, EditsForAppliesSpecEditsOnceAndNamesUnresolved) {
  TempDir t;
  t.Write("d/a.json",
          R"({"cdiVersion":"0.6.0","kind":"v.com/c","containerEdits":{"env":["S=1"]},"devices":[
            {"name":"a","containerEdits":{"env":["A=1"]}},{"name":"b","containerEdits":{"env":["B=1"]}}]})");
  auto reg = CdiRegistry::Load({t.path() + "/d"});
  auto edits = reg.EditsFor({"v.com/c=b", "v.com/c=a", "v.com/c=a"});
  ASSERT_TRUE(edits.ok());
  EXPECT_EQ(edits->env, (std::vector<std::string>{"S=1", "B=1", "A=1"}));
  auto bad = reg.EditsFor({"v.com/c=a", "v.com/c=zz", "other.com/c=1"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("v.com/c=zz"), std::string::npos);
  EXPECT_NE(bad.status().message().find("other.com/c=1"), std::string::npos);
}

}  // namespace
}  // namespace ctrsnap::gpu
