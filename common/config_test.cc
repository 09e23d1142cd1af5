#include "common/config.h"

#include <gtest/gtest.h>

namespace ctrsnap {
namespace {

TEST(ConfigTest, DefaultsWhenEmptyObject) {
  auto c = Config::Parse("{}", "cfg");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->runtime, "runc");
  EXPECT_EQ(c->gpu.mode, GpuMode::kAuto);
  EXPECT_EQ(c->retention.keep_exited, 10u);
}

TEST(ConfigTest, ReadsEveryKeyAndRoundTrips) {
  auto c = Config::Parse(
      R"({"runtime":"crun","gpu":{"mode":"cdi","cdi_spec_dirs":["/x"]},
          "retention":{"keep_exited":3},"snapshot":{"compression":"zstd"},
          "fs_writeback_cache":false})",
      "cfg");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->runtime, "crun");
  EXPECT_EQ(c->gpu.mode, GpuMode::kCdi);
  EXPECT_EQ(c->gpu.cdi_spec_dirs, std::vector<std::string>{"/x"});
  EXPECT_EQ(c->retention.keep_exited, 3u);
  auto again = Config::Parse(c->ToJson(), "again");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->snapshot.compression, "zstd");
  EXPECT_FALSE(again->fs_writeback_cache);
  EXPECT_TRUE(Config::Parse("{}", "cfg")->fs_writeback_cache);
  EXPECT_FALSE(Config::Parse(R"({"fs_writeback_cache":"no"})", "f").ok());
}

TEST(ConfigTest, ErrorsNameFileKeyAndLine) {
  auto typo = Config::Parse(R"({"runtme":"crun"})", "/etc/ctrsnap/config.json");
  EXPECT_EQ(typo.status().ToString(), "/etc/ctrsnap/config.json: unknown key \"runtme\"");
  auto type = Config::Parse(R"({"retention":{"keep_exited":"ten"}})", "f");
  EXPECT_NE(type.status().ToString().find("keep_exited"), std::string::npos);
  auto bad = Config::Parse("{\n  \"runtime\": crun\n}", "f");
  EXPECT_NE(bad.status().ToString().find("f:2:"), std::string::npos) << bad.status().ToString();
  EXPECT_FALSE(Config::Parse(R"({"gpu":{"mode":"maybe"}})", "f").ok());
  // A number no double holds is an error, not an exception (found by fuzz_config).
  auto huge = Config::Parse("777.77e777", "f");
  EXPECT_NE(huge.status().ToString().find("f: malformed JSON"), std::string::npos)
      << huge.status().ToString();
  EXPECT_FALSE(Config::Parse(R"({"retention":{"keep_exited":1e999}})", "f").ok());
}

TEST(ConfigTest, MissingFileMeansDefaults) {
  auto c = Config::Load("/nonexistent/ctrsnap/config.json");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->state_root.empty());
}

}  // namespace
}  // namespace ctrsnap
