#include "hooks/gpu/oci_spec_edit.h"

#include <gtest/gtest.h>

namespace ctrsnap::gpu {
namespace {

using nlohmann::json;

TEST(OciSpecEdit, EnvOverrideByNameAndAppend) {
  json spec = {{"process", {{"env", {"PATH=/bin", "A=1", "B=2"}}}}, {"x-unknown", 7}};
  ASSERT_TRUE(SetProcessEnv(&spec, {"A=9", "C=3"}).ok());
  EXPECT_EQ(ProcessEnv(spec), (std::vector<std::string>{"PATH=/bin", "A=9", "B=2", "C=3"}));
  EXPECT_EQ(LookupEnv(spec, "A"), "9");
  EXPECT_EQ(LookupEnv(spec, "Z"), std::nullopt);
  EXPECT_EQ(spec["x-unknown"], 7);
}

TEST(OciSpecEdit, CreatesMissingObjects) {
  json spec = json::object();
  ASSERT_TRUE(AddLinuxDevice(&spec, {{"path", "/dev/x"}, {"type", "c"}}).ok());
  ASSERT_TRUE(AddLinuxDevice(&spec, {{"path", "/dev/x"}, {"type", "c"}, {"major", 1}}).ok());
  ASSERT_EQ(spec["linux"]["devices"].size(), 1u);
  EXPECT_EQ(spec["linux"]["devices"][0]["major"], 1);
  ASSERT_TRUE(AddCgroupDeviceRule(&spec, "c", 195, 0, "rwm").ok());
  EXPECT_EQ(spec["linux"]["resources"]["devices"][0]["allow"], true);
  ASSERT_TRUE(AddHook(&spec, "prestart", {{"path", "/bin/true"}}).ok());
  EXPECT_EQ(spec["hooks"]["prestart"].size(), 1u);
  EXPECT_FALSE(AddHook(&spec, "bogus", {{"path", "/bin/true"}}).ok());
  ASSERT_TRUE(AddAdditionalGid(&spec, 44).ok());
  ASSERT_TRUE(AddAdditionalGid(&spec, 44).ok());
  EXPECT_EQ(spec["process"]["user"]["additionalGids"], json({44}));
}

TEST(OciSpecEdit, WrongTypesAreErrorsNotExceptions) {
  json spec = {{"process", {{"env", "not-a-list"}}}, {"linux", 3}, {"hooks", {{"prestart", 1}}}};
  EXPECT_FALSE(SetProcessEnv(&spec, {"A=1"}).ok());
  EXPECT_FALSE(AddLinuxDevice(&spec, {{"path", "/dev/x"}}).ok());
  EXPECT_FALSE(AddHook(&spec, "prestart", {{"path", "/x"}}).ok());
  json arr = json::array();
  EXPECT_FALSE(AddMount(&arr, {{"destination", "/x"}}).ok());
  EXPECT_TRUE(ProcessEnv(spec).empty());
}

TEST(OciSpecEdit, MountsReplaceByDestinationAndSortByDepth) {
  json spec = {{"mounts",
                {{{"destination", "/usr/lib/x/libcuda.so.1"}, {"source", "old"}},
                 {{"destination", "/proc"}, {"type", "proc"}},
                 {{"destination", "/dev/shm"}}}}};
  ASSERT_TRUE(AddMount(&spec, {{"destination", "/usr/lib/x/libcuda.so.1"}, {"source", "new"}}).ok());
  ASSERT_TRUE(AddMount(&spec, {{"destination", "/usr/lib"}}).ok());
  ASSERT_TRUE(SortMounts(&spec).ok());
  std::vector<std::string> order;
  for (const auto& m : spec["mounts"]) order.push_back(m["destination"]);
  EXPECT_EQ(order, (std::vector<std::string>{"/proc", "/dev/shm", "/usr/lib", "/usr/lib/x/libcuda.so.1"}));
  EXPECT_EQ(spec["mounts"][3]["source"], "new");
}

TEST(OciSpecEdit, HostHooksListsPrestartAndCreateRuntime) {
  json spec = {{"hooks",
                {{"prestart", {{{"path", "/a"}}}},
                 {"createRuntime", {{{"path", "/b"}}}},
                 {"poststop", {{{"path", "/c"}}}}}}};
  auto hooks = HostHooks(spec);
  ASSERT_EQ(hooks.size(), 2u);
  EXPECT_EQ(hooks[0].first, "prestart");
  EXPECT_EQ(hooks[1].second["path"], "/b");
}

}  // namespace
}  // namespace ctrsnap::gpu
