#include "shim/gpu_editor.h"

#include <gtest/gtest.h>

#include "hooks/gpu/gpu_exclusions.h"
#include "hooks/gpu/test_tmpdir.h"
#include "shim/spec.h"

namespace ctrsnap::shim {
namespace {

using nlohmann::json;

class GpuEditorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t_.Write("cdi/nvidia.json", R"({"cdiVersion":"0.5.0","kind":"nvidia.com/gpu",
      "containerEdits":{"env":["NVIDIA_VISIBLE_DEVICES=void"],
        "mounts":[{"hostPath":"/host/libcuda.so.1","containerPath":"/usr/lib/libcuda.so.1","options":["ro","bind"]}]},
      "devices":[{"name":"0","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia0","hostPath":"/dev/null"}]}}]})");
    (void)MakeDirs(t_.path() + "/state");
    config_.gpu.cdi_spec_dirs = {t_.path() + "/cdi"};
    ctx_.id = "c1";
    ctx_.bundle = "/b";
    ctx_.state_dir = t_.path() + "/state";
    ctx_.command = "create";
    ctx_.hook_binary = "/usr/local/bin/ctrsnap-hook";
    ctx_.config = &config_;
  }
  gpu::TempDir t_;
  Config config_;
  SpecContext ctx_;
};

TEST_F(GpuEditorTest, CreateInjectsCdiOnceAndRecordsExclusions) {
  json spec = {{"process", {{"env", {"PATH=/bin", "NVIDIA_VISIBLE_DEVICES=0"}}}},
               {"root", {{"path", "rootfs"}}}};
  auto editors = DefaultSpecEditors();
  ASSERT_TRUE(ApplySpecEditors(editors, spec, ctx_).ok());
  const json once = spec;
  ASSERT_TRUE(ApplySpecEditors(editors, spec, ctx_).ok());
  EXPECT_EQ(spec, once);
  ASSERT_EQ(spec["linux"]["devices"].size(), 1u);
  EXPECT_EQ(spec["linux"]["devices"][0]["path"], "/dev/nvidia0");
  EXPECT_EQ(CountHooks(spec, "poststop", "ctrsnap-hook"), 1u);
  auto x = gpu::LoadGpuExclusions(ctx_.state_dir);
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  EXPECT_TRUE(x->ExcludesEnv("NVIDIA_VISIBLE_DEVICES"));
  EXPECT_TRUE(x->ExcludesPath("/usr/lib/libcuda.so.1"));
}

TEST_F(GpuEditorTest, UnresolvableDeviceInCdiModeFailsTheCreate) {
  config_.gpu.mode = GpuMode::kCdi;
  json spec = {{"process", {{"env", {"NVIDIA_VISIBLE_DEVICES=5"}}}}, {"root", {{"path", "rootfs"}}}};
  Status st = ApplySpecEditors(DefaultSpecEditors(), spec, ctx_);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("spec editor gpu"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("nvidia.com/gpu=5"), std::string::npos) << st.message();
}

TEST_F(GpuEditorTest, RunExcludesWhatCdiCreateContainerHooksWrite) {
  t_.Write("cdi/other.json", R"({"cdiVersion":"0.5.0","kind":"vendor.com/x",
    "devices":[{"name":"a","containerEdits":{"hooks":[{"hookName":"createContainer","path":"/usr/bin/ctrsnap"}]}}]})");
  json spec = {{"process", {{"env", {"PATH=/bin"}}}},
               {"annotations", {{"cdi.k8s.io/x", "vendor.com/x=a"}}},
               {"root", {{"path", "rootfs"}}}};
  ctx_.command = "run";
  ASSERT_TRUE(ApplySpecEditors(DefaultSpecEditors(), spec, ctx_).ok());
  auto x = gpu::LoadGpuExclusions(ctx_.state_dir);
  ASSERT_TRUE(x.ok());
  EXPECT_TRUE(x->ExcludesPath("/etc/ld.so.cache"));
  EXPECT_TRUE(x->ExcludesPath("/etc/ld.so.conf.d/00-ctrsnap-gpu.conf"));
  EXPECT_TRUE(x->ExcludesAnnotation("cdi.k8s.io/x"));
}

TEST_F(GpuEditorTest, NoGpuNoRecord) {
  json spec = {{"process", {{"env", {"PATH=/bin"}}}}, {"root", {{"path", "rootfs"}}}};
  ASSERT_TRUE(ApplySpecEditors(DefaultSpecEditors(), spec, ctx_).ok());
  auto x = gpu::LoadGpuExclusions(ctx_.state_dir);
  ASSERT_TRUE(x.ok());
  EXPECT_TRUE(x->empty());
}

}  // namespace
}  // namespace ctrsnap::shim
