#include "common/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/file_util.h"

namespace ctrsnap {
namespace {

TEST(LogTest, JsonLinesHaveRuncShape) {
  auto logger = Logger::Open({LogLevel::kDebug, LogFormat::kJson, ""});
  ASSERT_TRUE(logger.ok());
  std::string line = logger->Format(LogLevel::kError, "container \"x\" failed\n\tbadly");
  ASSERT_EQ(line.back(), '\n');
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["msg"], "container \"x\" failed\n\tbadly");
  EXPECT_EQ(j["time"].get<std::string>().size(), 30u);  // 2026-11-27T00:00:00.000000000Z
}

TEST(LogTest, LevelFiltersAndFileAppends) {
  char tmpl[] = "/tmp/ctrsnap-log-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/log";
  {
    auto logger = Logger::Open({LogLevel::kWarn, LogFormat::kText, path});
    ASSERT_TRUE(logger.ok());
    logger->Log(LogLevel::kInfo, "hidden");
    logger->Log(LogLevel::kWarn, "shown");
  }
  auto text = ReadFileToString(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find("hidden"), std::string::npos);
  EXPECT_NE(text->find(" warning shown\n"), std::string::npos);
  ASSERT_TRUE(RemoveTree(tmpl).ok());
}

TEST(LogTest, ParseLevel) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_FALSE(ParseLogLevel("loud").ok());
}

}  // namespace
}  // namespace ctrsnap
