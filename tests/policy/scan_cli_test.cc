// `ctrsnap scan` and `ctrsnap policy show` as a user runs them: exit
// statuses, JSON lines, SARIF, policy file errors.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/file_util.h"

namespace {

struct CliRun {
  int status = -1;
  std::string out;
};

CliRun Ctrsnap(const std::string& args) {
  const char* bin = std::getenv("CTRSNAP_BIN_DIR");
  std::string cmd = std::string(bin ? bin : "build/bin") + "/ctrsnap " + args + " 2>&1";
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class ScanCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ctrsnap-scan-cli-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { (void)ctrsnap::RemoveTree(dir_); }
  void Write(const std::string& rel, const std::string& data) {
    std::string path = dir_ + "/" + rel;
    ASSERT_TRUE(ctrsnap::MakeDirs(path.substr(0, path.rfind('/'))).ok());
    std::ofstream(path) << data;
  }
  std::string dir_;
};

const char kNoSystem[] = " --system-policy '' ";

TEST_F(ScanCliTest, CleanTreeExitsZero) {
  Write("app/main.py", "print('hello')\n");
  CliRun r = Ctrsnap("scan" + std::string(kNoSystem) + dir_);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("0 secret(s)"), std::string::npos) << r.out;
}

TEST_F(ScanCliTest, SecretExitsOneAndJsonNeverHoldsTheValue) {
  const std::string token = "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";
  Write("app/deploy.sh", "#!/bin/sh\nexport GITHUB_TOKEN=" + token + "\n");
  CliRun r = Ctrsnap("scan --json" + std::string(kNoSystem) + dir_);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_EQ(r.out.find(token), std::string::npos);
  auto j = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  EXPECT_EQ(j["path"], "/app/deploy.sh");
  EXPECT_EQ(j["rule"], "secret.github-pat");
  EXPECT_EQ(j["line"], 2);
  EXPECT_EQ(j["masked"], "ghp_M1...f6Dh");

  CliRun sarif = Ctrsnap("scan --sarif" + std::string(kNoSystem) + dir_);
  EXPECT_EQ(sarif.status, 1);
  auto s = nlohmann::json::parse(sarif.out);
  EXPECT_EQ(s["version"], "2.1.0");
  EXPECT_EQ(s["runs"][0]["results"][0]["ruleId"], "secret.github-pat");

  // An exclude glob on the command line, and an allow-list in a policy file.
  EXPECT_EQ(Ctrsnap("scan --exclude /app/deploy.sh" + std::string(kNoSystem) + dir_).status, 0);
  Write("policy.json", "{\"allow\": [{\"path\": \"/app/*.sh\", \"rule\": \"secret.github-pat\"}]}\n");
  EXPECT_EQ(Ctrsnap("scan --exclude /policy.json --policy " + dir_ + "/policy.json" +
                    std::string(kNoSystem) + dir_).status, 0);
}

TEST_F(ScanCliTest, ErrorsExitTwoAndNameTheLine) {
  CliRun missing = Ctrsnap("scan" + std::string(kNoSystem) + dir_ + "/does-not-exist");
  EXPECT_EQ(missing.status, 2) << missing.out;
  Write("bad.json", "{\n  \"exclude\": [\"*.bak\"],\n  \"colour\": true\n}\n");
  CliRun bad = Ctrsnap("scan --policy " + dir_ + "/bad.json" + std::string(kNoSystem) + dir_);
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("bad.json:3:3: unknown key \"colour\""), std::string::npos) << bad.out;
}

TEST_F(ScanCliTest, PolicyShow) {
  CliRun text = Ctrsnap("policy show" + std::string(kNoSystem));
  EXPECT_EQ(text.status, 0) << text.out;
  EXPECT_NE(text.out.find("cache.pip"), std::string::npos);
  EXPECT_NE(text.out.find("Tier C"), std::string::npos);
  CliRun json = Ctrsnap("policy show --json --env PIP_CACHE_DIR=/pipc" + std::string(kNoSystem));
  ASSERT_EQ(json.status, 0) << json.out;
  auto j = nlohmann::json::parse(json.out);
  EXPECT_GE(j["secret_rules"].size(), 80u);
  bool env_applied = false;
  for (const auto& r : j["path_rules"]) {
    if (r["id"] == "cache.pip") {
      for (const auto& g : r["globs"]) env_applied = env_applied || g == "/pipc/";
    }
  }
  EXPECT_TRUE(env_applied);
}

}  // namespace
