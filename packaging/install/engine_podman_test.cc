// podman (containers.conf) and CRI-O (crio.conf.d) registration.
#include <gtest/gtest.h>

#include "packaging/install/installer.h"
#include "packaging/install/test_files.h"
#include "packaging/install/toml_edit.h"

namespace ctrsnap::install {
namespace {

using testing::TempDir;

class TomlEngineTest : public ::testing::TestWithParam<Engine> {
 protected:
  Result<Outcome> Do(bool install, bool make_default = false) {
    InstallRequest req{dir_.Path("engine.conf"), "/usr/bin/ctrsnap-runtime", make_default};
    return install ? Install(*engine_, req, {}) : Uninstall(*engine_, req, {});
  }
  TempDir dir_;
  std::unique_ptr<EngineConfig> engine_ = MakeEngineConfig(GetParam());
};

TEST_P(TomlEngineTest, MissingFileInstallAndUninstall) {
  auto r = Do(true, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto reg = engine_->Inspect(dir_.Path("engine.conf"));
  ASSERT_TRUE(reg.ok());
  EXPECT_TRUE(reg->installed);
  EXPECT_TRUE(reg->is_default);
  EXPECT_EQ(reg->runtime_path, "/usr/bin/ctrsnap-runtime");
  auto again = Do(true, true);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed());
  ASSERT_TRUE(Do(false).ok());
  EXPECT_FALSE(dir_.Exists("engine.conf"));  // a drop-in of only our lines goes away
}

TEST_P(TomlEngineTest, UnrelatedContentKeptAndRestored) {
  const std::string original = "# site settings\n[unrelated]\n  key = 1 # why\n\n[other.table]\nlist = [\n  \"a\",\n]\n";
  dir_.Write("engine.conf", original);
  auto r = Do(true, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(dir_.Read("engine.conf").starts_with(original)) << dir_.Read("engine.conf");
  EXPECT_EQ(r->report.backups.size(), 1u);
  auto again = Do(true, true);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed());
  EXPECT_EQ(dir_.List("engine.conf.ctrsnap-backup-").size(), 1u);
  ASSERT_TRUE(Do(false).ok());
  EXPECT_EQ(dir_.Read("engine.conf"), original);
}

TEST_P(TomlEngineTest, MalformedIsRefused) {
  dir_.Write("engine.conf", "[engine\n");
  auto r = Do(true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("engine.conf:1:"), std::string::npos);
  EXPECT_EQ(dir_.Read("engine.conf"), "[engine\n");
}

INSTANTIATE_TEST_SUITE_P(Engines, TomlEngineTest,
                         ::testing::Values(Engine::kPodman, Engine::kCrio));

TEST(PodmanInstallTest, ExistingContainersConfKeptAndRestored) {
  TempDir dir;
  const std::string original =
      "# containers.conf\n[containers]\nlog_size_max = -1\n\n[engine]\n"
      "cgroup_manager = \"cgroupfs\"\nruntime = \"crun\"\n\n[engine.runtimes]\n"
      "crun = [\"/usr/bin/crun\"]\n";
  dir.Write("containers.conf", original);
  auto engine = MakeEngineConfig(Engine::kPodman);
  InstallRequest req{dir.Path("containers.conf"), "/usr/bin/ctrsnap-runtime", true};
  auto r = Install(*engine, req, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto doc = TomlDoc::Parse(dir.Read("containers.conf"), "c");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->GetString({"engine", "runtime"}), "ctrsnap");
  EXPECT_EQ(doc->GetString({"engine", "cgroup_manager"}), "cgroupfs");
  EXPECT_NE(doc->Find({"engine", "runtimes", "crun"}), nullptr);
  EXPECT_NE(doc->Find({"engine", "runtimes", "ctrsnap"}), nullptr);
  ASSERT_EQ(dir.List("containers.conf.ctrsnap-backup-").size(), 1u);
  auto un = Uninstall(*engine, req, {});
  ASSERT_TRUE(un.ok()) << un.status().ToString();
  EXPECT_EQ(dir.Read("containers.conf"), original);
}

TEST(CrioInstallTest, DropInContents) {
  TempDir dir;
  auto engine = MakeEngineConfig(Engine::kCrio);
  InstallRequest req{dir.Path("crio.conf.d/99-ctrsnap.conf"), "/opt/x/ctrsnap-runtime", false};
  ASSERT_TRUE(Install(*engine, req, {}).ok());
  auto doc = TomlDoc::Parse(dir.Read("crio.conf.d/99-ctrsnap.conf"), "c");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->GetString({"crio", "runtime", "runtimes", "ctrsnap", "runtime_path"}),
            "/opt/x/ctrsnap-runtime");
  EXPECT_EQ(doc->GetString({"crio", "runtime", "runtimes", "ctrsnap", "runtime_type"}), "oci");
  EXPECT_EQ(doc->Find({"crio", "runtime", "default_runtime"}), nullptr);
}

}  // namespace
}  // namespace ctrsnap::install
