#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "packaging/install/installer.h"
#include "packaging/install/test_files.h"

namespace ctrsnap::install {
namespace {

using testing::TempDir;

class DockerInstallTest : public ::testing::Test {
 protected:
  Result<Outcome> Do(bool install, bool make_default = false) {
    InstallRequest req{dir_.Path("daemon.json"), "/usr/bin/ctrsnap-runtime", make_default};
    InstallOptions opt;
    opt.validate_with_engine = true;  // dockerd 20.10 lacks --validate: skipped inside
    return install ? Install(*engine_, req, opt) : Uninstall(*engine_, req, opt);
  }
  TempDir dir_;
  std::unique_ptr<EngineConfig> engine_ = MakeEngineConfig(Engine::kDocker);
};

TEST_F(DockerInstallTest, MissingFileIsCreated) {
  auto r = Do(true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->changed());
  EXPECT_EQ(dir_.Read("daemon.json"),
            "{\n  \"runtimes\": {\n    \"ctrsnap\": {\n      \"path\": "
            "\"/usr/bin/ctrsnap-runtime\"\n    }\n  }\n}\n");
  EXPECT_TRUE(r->report.backups.empty());
}

TEST_F(DockerInstallTest, KeepsOtherKeysIsIdempotentAndRoundTrips) {
  const std::string original =
      "{\n    \"storage-driver\": \"overlay2\",\n    \"runtimes\": {\n        \"nvidia\": {\n"
      "            \"path\": \"nvidia-container-runtime\"\n        }\n    },\n"
      "    \"log-opts\": {\n        \"max-size\": \"10m\"\n    }\n}\n";
  dir_.Write("daemon.json", original);
  auto r = Do(true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->report.backups.size(), 1u);
  EXPECT_EQ(dir_.Read(r->report.backups[0].substr(dir_.path().size() + 1)), original);
  auto j = nlohmann::json::parse(dir_.Read("daemon.json"));
  EXPECT_EQ(j["runtimes"]["ctrsnap"]["path"], "/usr/bin/ctrsnap-runtime");
  EXPECT_EQ(j["runtimes"]["nvidia"]["path"], "nvidia-container-runtime");
  EXPECT_EQ(j["storage-driver"], "overlay2");
  EXPECT_EQ(j["log-opts"]["max-size"], "10m");
  // Key order and the file's 4-space indentation are kept.
  EXPECT_LT(dir_.Read("daemon.json").find("storage-driver"), dir_.Read("daemon.json").find("log-opts"));
  EXPECT_NE(dir_.Read("daemon.json").find("\n    \"storage-driver\""), std::string::npos);

  auto again = Do(true);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed());
  EXPECT_EQ(dir_.List("daemon.json.ctrsnap-backup-").size(), 1u);

  auto un = Do(false);
  ASSERT_TRUE(un.ok()) << un.status().ToString();
  EXPECT_TRUE(un->changed());
  EXPECT_EQ(dir_.Read("daemon.json"), original);
  auto un2 = Do(false);
  ASSERT_TRUE(un2.ok());
  EXPECT_FALSE(un2->changed());
}

TEST_F(DockerInstallTest, DefaultIsSetAndPreviousDefaultRestored) {
  const std::string original =
      "{\n  \"default-runtime\": \"nvidia\",\n  \"runtimes\": {\n    \"nvidia\": {\n"
      "      \"path\": \"/usr/bin/nvidia-container-runtime\"\n    }\n  }\n}\n";
  dir_.Write("daemon.json", original);
  auto r = Do(true, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto j = nlohmann::json::parse(dir_.Read("daemon.json"));
  EXPECT_EQ(j["default-runtime"], "ctrsnap");
  EXPECT_TRUE(dir_.Exists("daemon.json.ctrsnap-state"));
  auto again = Do(true, true);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed());
  auto un = Do(false);
  ASSERT_TRUE(un.ok()) << un.status().ToString();
  EXPECT_EQ(dir_.Read("daemon.json"), original);
  EXPECT_FALSE(dir_.Exists("daemon.json.ctrsnap-state"));
}

TEST_F(DockerInstallTest, DefaultWithoutPreviousIsRemovedOnUninstall) {
  const std::string original = "{\n  \"debug\": true\n}\n";
  dir_.Write("daemon.json", original);
  ASSERT_TRUE(Do(true, true).ok());
  ASSERT_TRUE(Do(false).ok());
  EXPECT_EQ(dir_.Read("daemon.json"), original);
}

TEST_F(DockerInstallTest, MalformedFileIsRefusedAndKept) {
  const std::string bad = "{\n  \"debug\": true,\n  \"runtimes\": {\n}\n  \"x\": 1\n}\n";
  dir_.Write("daemon.json", bad);
  auto r = Do(true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("daemon.json:5:"), std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(dir_.Read("daemon.json"), bad);
  EXPECT_TRUE(dir_.List("daemon.json.ctrsnap-backup-").empty());
  dir_.Write("daemon.json", "{\"runtimes\": []}\n");
  EXPECT_FALSE(Do(true).ok());
}

TEST_F(DockerInstallTest, InspectReportsRegistration) {
  ASSERT_TRUE(Do(true, true).ok());
  auto reg = engine_->Inspect(dir_.Path("daemon.json"));
  ASSERT_TRUE(reg.ok());
  EXPECT_TRUE(reg->installed);
  EXPECT_TRUE(reg->is_default);
  EXPECT_EQ(reg->runtime_path, "/usr/bin/ctrsnap-runtime");
  auto missing = engine_->Inspect(dir_.Path("nope.json"));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->installed);
}

TEST_F(DockerInstallTest, DryRunWritesNothing) {
  InstallRequest req{dir_.Path("daemon.json"), "/usr/bin/ctrsnap-runtime", false};
  InstallOptions opt;
  opt.dry_run = true;
  auto r = Install(*engine_, req, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->changed());
  EXPECT_FALSE(dir_.Exists("daemon.json"));
}

}  // namespace
}  // namespace ctrsnap::install
