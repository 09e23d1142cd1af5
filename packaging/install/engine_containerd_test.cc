#include <gtest/gtest.h>

#include "packaging/install/installer.h"
#include "packaging/install/run_command.h"
#include "packaging/install/test_files.h"
#include "packaging/install/toml_edit.h"

namespace ctrsnap::install {
namespace {

using testing::TempDir;

// Debian 12's /etc/containerd/config.toml.
constexpr char kDebianDefault[] =
    "version = 2\n\n[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n"
    "    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n      bin_dir = \"/usr/lib/cni\"\n"
    "      conf_dir = \"/etc/cni/net.d\"\n  [plugins.\"io.containerd.internal.v1.opt\"]\n"
    "    path = \"/var/lib/containerd/opt\"\n";

constexpr char kWithRunc[] =
    "version = 2\nroot = \"/var/lib/containerd\"\n\n"
    "[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"registry.k8s.io/pause:3.9\"\n"
    "  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
    "    default_runtime_name = \"runc\"\n    snapshotter = \"overlayfs\"\n"
    "    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
    "      runtime_type = \"io.containerd.runc.v2\"\n      privileged_without_host_devices = false\n"
    "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
    "        SystemdCgroup = true\n        BinaryName = \"/usr/sbin/runc\"\n";

const TomlPath kCtrsnap = {"plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes",
                           "ctrsnap"};

class ContainerdInstallTest : public ::testing::Test {
 protected:
  Result<Outcome> Do(bool install, bool make_default = false) {
    InstallRequest req{dir_.Path("config.toml"), "/usr/bin/ctrsnap-runtime", make_default};
    InstallOptions opt;  // validates with the real containerd binary when installed
    return install ? Install(*engine_, req, opt) : Uninstall(*engine_, req, opt);
  }
  TomlDoc Parsed(const std::string& name) {
    auto d = TomlDoc::Parse(dir_.Read(name), name);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return std::move(d).value();
  }
  static TomlPath Key(TomlPath p, std::initializer_list<const char*> more) {
    for (const char* m : more) p.push_back(m);
    return p;
  }
  TempDir dir_;
  std::unique_ptr<EngineConfig> engine_ = MakeEngineConfig(Engine::kContainerd);
};

TEST_F(ContainerdInstallTest, MissingFileGetsVersion2Config) {
  auto r = Do(true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  TomlDoc d = Parsed("config.toml");
  EXPECT_EQ(d.GetString(Key(kCtrsnap, {"runtime_type"})), "io.containerd.runc.v2");
  EXPECT_EQ(d.GetString(Key(kCtrsnap, {"options", "BinaryName"})), "/usr/bin/ctrsnap-runtime");
}

TEST_F(ContainerdInstallTest, DebianDefaultKeptByteForByteAndRoundTrips) {
  dir_.Write("config.toml", kDebianDefault);
  auto r = Do(true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string edited = dir_.Read("config.toml");
  EXPECT_TRUE(edited.starts_with(kDebianDefault)) << edited;
  EXPECT_EQ(r->report.backups.size(), 1u);
  auto again = Do(true);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed());
  EXPECT_EQ(dir_.List("config.toml.ctrsnap-backup-").size(), 1u);
  ASSERT_TRUE(Do(false).ok());
  EXPECT_EQ(dir_.Read("config.toml"), kDebianDefault);
}

TEST_F(ContainerdInstallTest, CopiesRuncOptionsAndSetsDefault) {
  dir_.Write("config.toml", kWithRunc);
  auto r = Do(true, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  TomlDoc d = Parsed("config.toml");
  auto opt = Key(kCtrsnap, {"options"});
  const toml::node* sc = d.Find(Key(opt, {"SystemdCgroup"}));
  ASSERT_NE(sc, nullptr);
  EXPECT_TRUE(sc->value_or(false));
  EXPECT_EQ(d.GetString(Key(opt, {"BinaryName"})), "/usr/bin/ctrsnap-runtime");
  EXPECT_NE(d.Find(Key(kCtrsnap, {"privileged_without_host_devices"})), nullptr);
  EXPECT_EQ(d.GetString({"plugins", "io.containerd.grpc.v1.cri", "containerd",
                         "default_runtime_name"}),
            "ctrsnap");
  // runc itself is untouched.
  EXPECT_EQ(d.GetString({"plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", "runc",
                         "options", "BinaryName"}),
            "/usr/sbin/runc");
  auto reg = engine_->Inspect(dir_.Path("config.toml"));
  ASSERT_TRUE(reg.ok());
  EXPECT_TRUE(reg->installed && reg->is_default);
  ASSERT_TRUE(Do(false).ok());
  EXPECT_EQ(dir_.Read("config.toml"), kWithRunc);
}

TEST_F(ContainerdInstallTest, DropInWhenImportsCoverConfD) {
  std::string main = std::string("version = 2\nimports = [\"") + dir_.Path("conf.d") +
                     "/*.toml\"]\n" + std::string(kWithRunc).substr(12);
  dir_.Write("config.toml", main);
  auto r = Do(true, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(dir_.Read("config.toml"), main);  // the main file is not touched
  TomlDoc d = Parsed("conf.d/99-ctrsnap.toml");
  // The whole CRI section is carried over: containerd replaces it from an import.
  EXPECT_EQ(d.GetString({"plugins", "io.containerd.grpc.v1.cri", "sandbox_image"}),
            "registry.k8s.io/pause:3.9");
  EXPECT_EQ(d.GetString(Key(kCtrsnap, {"options", "BinaryName"})), "/usr/bin/ctrsnap-runtime");
  EXPECT_TRUE(d.Find(Key(kCtrsnap, {"options", "SystemdCgroup"}))->value_or(false));
  auto reg = engine_->Inspect(dir_.Path("config.toml"));
  ASSERT_TRUE(reg.ok());
  EXPECT_TRUE(reg->installed && reg->is_default);
  EXPECT_EQ(reg->where, dir_.Path("conf.d/99-ctrsnap.toml"));
  auto again = Do(true, true);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed());
  ASSERT_TRUE(Do(false).ok());
  EXPECT_FALSE(dir_.Exists("conf.d/99-ctrsnap.toml"));
  EXPECT_EQ(dir_.Read("config.toml"), main);
}

TEST_F(ContainerdInstallTest, ImportsAreLookedUpUnderRoot) {
  // A node's / mounted at dir_ (as the Kubernetes DaemonSet sees it at /host).
  const std::string main =
      "version = 2\nimports = [\"/etc/containerd/conf.d/*.toml\"]\n" + std::string(kWithRunc).substr(12);
  dir_.Write("etc/containerd/config.toml", main);
  auto engine = MakeEngineConfig(Engine::kContainerd, dir_.path());
  InstallRequest req{dir_.Path("etc/containerd/config.toml"), "/usr/local/bin/ctrsnap-runtime",
                     false};
  auto r = Install(*engine, req, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  TomlDoc d = Parsed("etc/containerd/conf.d/99-ctrsnap.toml");
  EXPECT_EQ(d.GetString(Key(kCtrsnap, {"options", "BinaryName"})),
            "/usr/local/bin/ctrsnap-runtime");
  EXPECT_EQ(dir_.Read("etc/containerd/config.toml"), main);
  ASSERT_TRUE(Uninstall(*engine, req, {}).ok());
  EXPECT_FALSE(dir_.Exists("etc/containerd/conf.d/99-ctrsnap.toml"));
}

TEST_F(ContainerdInstallTest, MalformedAndVersion1AreRefused) {
  const std::string bad = "version = 2\n[plugins\n";
  dir_.Write("config.toml", bad);
  auto r = Do(true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("config.toml:2:"), std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(dir_.Read("config.toml"), bad);
  dir_.Write("config.toml", "[plugins.cri]\n  sandbox_image = \"x\"\n");
  auto v1 = Do(true);
  ASSERT_FALSE(v1.ok());
  EXPECT_NE(v1.status().message().find("version 1"), std::string::npos);
  EXPECT_TRUE(dir_.List("config.toml.ctrsnap-backup-").empty());
}

TEST_F(ContainerdInstallTest, ContainerdItselfAcceptsTheEdit) {
  if (FindInPath("containerd").empty()) GTEST_SKIP() << "containerd is not installed";
  dir_.Write("config.toml", kWithRunc);
  ASSERT_TRUE(Do(true, true).ok());
  auto dump = RunCommand({"containerd", "--config", dir_.Path("config.toml"), "config", "dump"});
  ASSERT_TRUE(dump.ok());
  ASSERT_EQ(dump->exit_code, 0) << dump->err;
  EXPECT_NE(dump->out.find("runtimes.ctrsnap.options]"), std::string::npos) << dump->out;
  EXPECT_NE(dump->out.find("BinaryName = \"/usr/bin/ctrsnap-runtime\""), std::string::npos);
  EXPECT_NE(dump->out.find("default_runtime_name = \"ctrsnap\""), std::string::npos);
}

}  // namespace
}  // namespace ctrsnap::install
