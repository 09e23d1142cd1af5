// The default /etc/ctrsnap files the .deb and the Kubernetes installer ship.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/file_util.h"

namespace ctrsnap {
namespace {

// $CTRSNAP_SOURCE_DIR, else the source tree this test was built from
// (gtest_discover_tests passes only the first of Testing.cmake's variables).
std::string Shipped(const std::string& name) {
  const char* src = std::getenv("CTRSNAP_SOURCE_DIR");  // NOLINT(concurrency-mt-unsafe)
  std::string dir = src != nullptr && *src != '\0' ? src : CTRSNAP_TEST_SOURCE_DIR;
  auto text = ReadFileToString(dir + "/packaging/etc/" + name);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return text.ok() ? *text : "";
}

TEST(ShippedConfigTest, ConfigJsonParsesAndHoldsTheDefaults) {
  auto parsed = Config::Parse(Shipped("config.json"), "packaging/etc/config.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  Config defaults;
  defaults.state_root = "/var/lib/ctrsnap";
  EXPECT_EQ(parsed->ToJson(), defaults.ToJson());
  // Every key of Config is spelled out, so the file documents them all.
  auto shipped = nlohmann::json::parse(Shipped("config.json"));
  auto all = nlohmann::json::parse(defaults.ToJson());
  for (const auto& [key, value] : all.items()) {
    ASSERT_TRUE(shipped.contains(key)) << key;
    if (value.is_object()) {
      for (const auto& [sub, v] : value.items()) EXPECT_TRUE(shipped[key].contains(sub)) << sub;
    }
  }
}

TEST(ShippedConfigTest, PolicyJsonIsAnObject) {
  auto j = nlohmann::json::parse(Shipped("policy.json"), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_TRUE(j.is_object());
}

}  // namespace
}  // namespace ctrsnap
