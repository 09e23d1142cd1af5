#include "packaging/install/doctor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "packaging/install/test_files.h"

namespace ctrsnap::install {
namespace {

using testing::TempDir;

class DoctorTest : public ::testing::Test {
 protected:
  DoctorTest() {
    o_.proc_filesystems = dir_.Write("proc_filesystems", "nodev\tsysfs\nnodev\tfuse\nnodev\toverlay\n");
    o_.modules_dir = dir_.Path("modules");
    o_.dev_fuse = "/dev/fuse";
    o_.config_path = dir_.Path("config.json");
    o_.config.state_root = dir_.Path("state");
    o_.docker_config = dir_.Path("docker/daemon.json");
    o_.containerd_config = dir_.Path("containerd/config.toml");
    o_.containers_conf = dir_.Path("containers/containers.conf");
    o_.containers_conf_d = dir_.Path("containers/containers.conf.d");
    o_.crio_conf_d = dir_.Path("crio/crio.conf.d");
    o_.bin_dir = dir_.Path("bin");
    o_.path_env = dir_.Path("bin") + ":/usr/sbin:/usr/bin:/sbin:/bin";
    o_.config.gpu.cdi_spec_dirs = {dir_.Path("cdi")};
  }
  void Executable(const std::string& name) {
    std::string p = dir_.Write("bin/" + name, "#!/bin/sh\necho \"" + name + " version 9\"\n");
    ::chmod(p.c_str(), 0755);
  }
  const CheckResult& Find(const std::vector<CheckResult>& rs, const std::string& name) {
    for (const auto& r : rs) {
      if (r.name == name) return r;
    }
    static CheckResult none{"<none>", CheckLevel::kFail, "", ""};
    ADD_FAILURE() << "no check " << name;
    return none;
  }
  TempDir dir_;
  DoctorOptions o_;
};

TEST_F(DoctorTest, FilesystemsFromProc) {
  EXPECT_EQ(CheckOverlay(o_).level, CheckLevel::kOk);
  dir_.Write("proc_filesystems", "nodev\tsysfs\n");
  CheckResult ov = CheckOverlay(o_);
  EXPECT_EQ(ov.level, CheckLevel::kFail);
  dir_.Write("modules/modules.dep", "kernel/fs/overlayfs/overlay.ko:\n");
  ov = CheckOverlay(o_);
  EXPECT_EQ(ov.level, CheckLevel::kWarn);
  EXPECT_NE(ov.fix.find("modprobe overlay"), std::string::npos);
  CheckResult fuse = CheckFuse(o_);
  EXPECT_EQ(fuse.level, CheckLevel::kFail);
  EXPECT_NE(fuse.fix.find("modprobe fuse"), std::string::npos);
}

TEST_F(DoctorTest, FuseDeviceMustBeACharacterDevice) {
  o_.dev_fuse = dir_.Write("fuse", "");
  CheckResult r = CheckFuse(o_);
  EXPECT_EQ(r.level, CheckLevel::kFail);
  EXPECT_NE(r.message.find("not a character device"), std::string::npos);
}

TEST_F(DoctorTest, RealFuseOnThisHost) {
  if (::access("/dev/fuse", F_OK) != 0) GTEST_SKIP() << "no /dev/fuse here";
  o_.proc_filesystems = "/proc/filesystems";
  o_.path_env = "/usr/bin:/bin";
  EXPECT_EQ(CheckFuse(o_).level, CheckLevel::kOk) << CheckFuse(o_).message;
}

TEST_F(DoctorTest, RuntimeFoundWithVersionOrFix) {
  o_.config.runtime = "fake-runc";
  CheckResult missing = CheckRuntime(o_);
  EXPECT_EQ(missing.level, CheckLevel::kFail);
  EXPECT_NE(missing.fix.find("apt-get install runc"), std::string::npos);
  Executable("fake-runc");
  CheckResult found = CheckRuntime(o_);
  EXPECT_EQ(found.level, CheckLevel::kOk) << found.message;
  EXPECT_NE(found.message.find("fake-runc version 9"), std::string::npos);
}

TEST_F(DoctorTest, BinariesBesideCtrsnap) {
  auto rs = CheckBinaries(o_);
  EXPECT_EQ(Find(rs, "ctrsnap-fs").level, CheckLevel::kFail);
  Executable("ctrsnap-fs");
  Executable("ctrsnap-hook");
  Executable("ctrsnap-runtime");
  rs = CheckBinaries(o_);
  for (const auto& r : rs) EXPECT_EQ(r.level, CheckLevel::kOk) << r.name;
  o_.config.fs_binary = dir_.Path("elsewhere/ctrsnap-fs");
  EXPECT_EQ(Find(CheckBinaries(o_), "ctrsnap-fs").level, CheckLevel::kFail);
}

TEST_F(DoctorTest, EngineRegistrations) {
  Executable("dockerd");
  Executable("containerd");
  Executable("ctrsnap-runtime");
  auto rs = CheckEngines(o_);
  EXPECT_EQ(Find(rs, "engine docker").level, CheckLevel::kWarn);
  EXPECT_EQ(Find(rs, "engine docker").fix, "ctrsnap install docker --restart");
  EXPECT_EQ(Find(rs, "engine crio").level, CheckLevel::kOk);  // crio not installed
  dir_.Write("docker/daemon.json", "{\"runtimes\": {\"ctrsnap\": {\"path\": \"" +
                                       dir_.Path("bin/ctrsnap-runtime") +
                                       "\"}}, \"default-runtime\": \"ctrsnap\"}\n");
  dir_.Write("containerd/config.toml", "version = 2\n[plugins\n");
  dir_.Write("containers/containers.conf.d/50-ctrsnap.conf",
             "[engine.runtimes]\nctrsnap = [\"/nonexistent/ctrsnap-runtime\"]\n");
  rs = CheckEngines(o_);
  const CheckResult& docker = Find(rs, "engine docker");
  EXPECT_EQ(docker.level, CheckLevel::kOk) << docker.message;
  EXPECT_NE(docker.message.find("the default runtime"), std::string::npos);
  const CheckResult& containerd = Find(rs, "engine containerd");
  EXPECT_EQ(containerd.level, CheckLevel::kFail);
  EXPECT_NE(containerd.message.find("config.toml:2:"), std::string::npos) << containerd.message;
  const CheckResult& podman = Find(rs, "engine podman");
  EXPECT_EQ(podman.level, CheckLevel::kFail);
  EXPECT_NE(podman.message.find("not an executable"), std::string::npos);
}

TEST_F(DoctorTest, StateDirChecks) {
  auto rs = CheckStateDir(o_);
  const CheckResult& fs = Find(rs, "state dir");
  EXPECT_NE(fs.message.find("does not exist yet"), std::string::npos);
  EXPECT_NE(fs.level, CheckLevel::kFail) << fs.message;
  o_.min_free_bytes = ~0ULL;
  rs = CheckStateDir(o_);
  EXPECT_EQ(Find(rs, "state space").level, CheckLevel::kWarn);
  EXPECT_FALSE(Find(rs, "state space").fix.empty());
  // reflink and xattr probes ran on the real filesystem and said something.
  EXPECT_FALSE(Find(rs, "state reflink").message.empty());
  EXPECT_FALSE(Find(rs, "state xattrs").message.empty());
  if (::geteuid() == 0) {
    EXPECT_EQ(Find(rs, "state xattrs").level, CheckLevel::kOk);
  }
}

TEST_F(DoctorTest, GpuModes) {
  o_.config.gpu.legacy_hook = "no-such-hook";
  o_.config.gpu.mode = GpuMode::kAuto;
  EXPECT_EQ(CheckGpu(o_).level, CheckLevel::kOk);
  o_.config.gpu.mode = GpuMode::kCdi;
  CheckResult cdi = CheckGpu(o_);
  EXPECT_EQ(cdi.level, CheckLevel::kFail);
  EXPECT_NE(cdi.fix.find("nvidia-ctk cdi generate"), std::string::npos);
  dir_.Write("cdi/nvidia.yaml", "cdiVersion: 0.5.0\n");
  EXPECT_EQ(CheckGpu(o_).level, CheckLevel::kOk);
  o_.config.gpu.mode = GpuMode::kLegacy;
  EXPECT_EQ(CheckGpu(o_).level, CheckLevel::kFail);
  Executable("no-such-hook");
  EXPECT_EQ(CheckGpu(o_).level, CheckLevel::kOk);
}

TEST_F(DoctorTest, ReportFormatsAndFailure) {
  o_.config_error = o_.config_path + ":1:1: malformed JSON";
  auto rs = RunDoctor(o_);
  EXPECT_TRUE(AnyFailed(rs));
  EXPECT_EQ(Find(rs, "config").level, CheckLevel::kFail);
  EXPECT_EQ(Find(rs, "docker diff/commit").level, CheckLevel::kNote);
  auto j = nlohmann::json::parse(FormatJson(rs));
  ASSERT_EQ(j.size(), rs.size());
  EXPECT_EQ(j[0]["check"], "config");
  EXPECT_EQ(j[0]["level"], "FAIL");
  std::string table = FormatTable(rs);
  EXPECT_NE(table.find("FAIL  config"), std::string::npos) << table;
  EXPECT_NE(table.find("fix: "), std::string::npos);
}

TEST(DoctorFsTypeTest, Names) {
  EXPECT_EQ(FsTypeName(0xEF53), "ext4");
  EXPECT_EQ(FsTypeName(0x6969), "nfs");
  EXPECT_EQ(FsTypeName(0x1234), "0x1234");
}

}  // namespace
}  // namespace ctrsnap::install
