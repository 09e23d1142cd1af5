#include "hooks/gpu/gpu_inject.h"

#include <gtest/gtest.h>

#include "hooks/gpu/test_tmpdir.h"

namespace ctrsnap::gpu {
namespace {

using nlohmann::json;

json SpecWithEnv(const std::vector<std::string>& env) {
  return {{"ociVersion", "1.0.2"},
          {"process", {{"env", env}, {"args", {"sh"}}}},
          {"root", {{"path", "rootfs"}}},
          {"annotations", {{"org.example", "keep"}}}};
}

class GpuInjectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hook_ = t_.Write("bin/nvidia-container-runtime-hook", "#!/bin/sh\nexit 0\n", 0755);
    t_.Write("cdi/nvidia.yaml", R"(cdiVersion: 0.5.0
kind: nvidia.com/gpu
containerEdits:
  env: [NVIDIA_VISIBLE_DEVICES=void, CUDA_VISIBLE_DEVICES=0]
  mounts:
  - {hostPath: /host/libcuda.so.1, containerPath: /usr/lib/libcuda.so.1, options: [ro, bind]}
devices:
- name: "0"
  containerEdits:
    deviceNodes: [{path: /dev/nvidia0, hostPath: /dev/null}]
- name: all
  containerEdits:
    deviceNodes: [{path: /dev/nvidia0, hostPath: /dev/null}]
)");
    t_.Write("cdi/vendor.json",
             R"({"cdiVersion":"0.6.0","kind":"vendor.com/x","devices":[
               {"name":"a","containerEdits":{"env":["XA=1"]}},{"name":"b","containerEdits":{"env":["XB=1"]}}]})");
    cfg_.cdi_spec_dirs = {t_.path() + "/cdi"};
    env_.runtime = "runc";
    env_.search_path = t_.path() + "/bin";
  }
  TempDir t_;
  std::string hook_;
  Config::Gpu cfg_;
  GpuEnv env_;
};

TEST_F(GpuInjectTest, NothingAskedChangesNothing) {
  for (const char* v : {"NVIDIA_VISIBLE_DEVICES=", "NVIDIA_VISIBLE_DEVICES=void", "NVIDIA_VISIBLE_DEVICES=none", "X=1"}) {
    json spec = SpecWithEnv({v});
    const json before = spec;
    auto r = InjectGpu(&spec, cfg_, env_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->mechanism, GpuMechanism::kNone) << v;
    EXPECT_EQ(spec, before);
  }
}

TEST_F(GpuInjectTest, LegacyAddsTheHookOnce) {
  cfg_.mode = GpuMode::kLegacy;
  json spec = SpecWithEnv({"NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility"});
  auto r = InjectGpu(&spec, cfg_, env_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->mechanism, GpuMechanism::kLegacyHook);
  EXPECT_TRUE(r->hook_added);
  ASSERT_EQ(spec["hooks"]["prestart"].size(), 1u);
  const json& h = spec["hooks"]["prestart"][0];
  EXPECT_EQ(h["path"], hook_);
  EXPECT_EQ(h["args"], json({"nvidia-container-runtime-hook", "prestart"}));
  EXPECT_EQ(h["env"], json({"PATH=" + env_.search_path}));
  EXPECT_EQ(r->exclusions.env_names,
            (std::vector<std::string>{"NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_VISIBLE_DEVICES"}));
  // A second pass (e.g. `docker start` of the same bundle) finds our hook.
  auto again = InjectGpu(&spec, cfg_, env_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->mechanism, GpuMechanism::kExistingHook);
  EXPECT_EQ(spec["hooks"]["prestart"].size(), 1u);
}

TEST_F(GpuInjectTest, DockerGpusHookIsNeverDuplicated) {
  for (GpuMode mode : {GpuMode::kAuto, GpuMode::kLegacy, GpuMode::kCdi}) {
    cfg_.mode = mode;
    json spec = SpecWithEnv({"NVIDIA_VISIBLE_DEVICES=GPU-abc"});
    spec["hooks"]["createRuntime"] = {{{"path", "/usr/bin/nvidia-container-toolkit"}, {"args", {"x", "prestart"}}}};
    auto r = InjectGpu(&spec, cfg_, env_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->mechanism, GpuMechanism::kExistingHook);
    EXPECT_FALSE(spec["hooks"].contains("prestart"));
    EXPECT_FALSE(spec.contains("linux"));
  }
}

TEST_F(GpuInjectTest, LegacyWithoutHookBinaryFails) {
  cfg_.mode = GpuMode::kLegacy;
  cfg_.legacy_hook = "no-such-hook";
  json spec = SpecWithEnv({"NVIDIA_VISIBLE_DEVICES=0"});
  const json before = spec;
  EXPECT_FALSE(InjectGpu(&spec, cfg_, env_).ok());
  EXPECT_EQ(spec, before);
}

TEST_F(GpuInjectTest, AutoPrefersCdiWhenTheDevicesResolve) {
  json spec = SpecWithEnv({"PATH=/bin", "NVIDIA_VISIBLE_DEVICES=0"});
  auto r = InjectGpu(&spec, cfg_, env_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->mechanism, GpuMechanism::kCdi);
  EXPECT_EQ(r->cdi_devices, (std::vector<std::string>{"nvidia.com/gpu=0"}));
  {
    // Again on the result: the env now says void, nothing more is added.
    json again = spec;
    auto r2 = InjectGpu(&again, cfg_, env_);
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(again, spec);
    EXPECT_TRUE(r2->exclusions.ExcludesEnv("NVIDIA_VISIBLE_DEVICES"));
  }
  EXPECT_FALSE(spec.contains("hooks"));
  EXPECT_EQ(spec["linux"]["devices"][0]["path"], "/dev/nvidia0");
  EXPECT_EQ(spec["process"]["env"], json({"PATH=/bin", "NVIDIA_VISIBLE_DEVICES=void", "CUDA_VISIBLE_DEVICES=0"}));
  EXPECT_EQ(r->exclusions.env_names, (std::vector<std::string>{"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"}));
  EXPECT_EQ(r->exclusions.paths, (std::vector<std::string>{"/dev/nvidia0", "/usr/lib/libcuda.so.1"}));
  EXPECT_TRUE(r->exclusions.ExcludesPath("/usr/lib/libcuda.so.1"));
  EXPECT_FALSE(r->exclusions.ExcludesPath("/usr/lib/libcuda.so.10"));
}

TEST_F(GpuInjectTest, AutoFallsBackToLegacyThenToNothing) {
  json spec = SpecWithEnv({"NVIDIA_VISIBLE_DEVICES=3"});  // no device 3 in the spec
  auto r = InjectGpu(&spec, cfg_, env_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->mechanism, GpuMechanism::kLegacyHook);
  cfg_.legacy_hook = "absent-hook";
  json spec2 = SpecWithEnv({"NVIDIA_VISIBLE_DEVICES=3"});
  auto r2 = InjectGpu(&spec2, cfg_, env_);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->mechanism, GpuMechanism::kNone);
  ASSERT_FALSE(r2->notes.empty());
  EXPECT_NE(r2->notes.back().find("without GPUs"), std::string::npos);
}

TEST_F(GpuInjectTest, CdiModeFailsOnUnresolvableDevices) {
  cfg_.mode = GpuMode::kCdi;
  json spec = SpecWithEnv({"NVIDIA_VISIBLE_DEVICES=0,7"});
  const json before = spec;
  auto r = InjectGpu(&spec, cfg_, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nvidia.com/gpu=7"), std::string::npos);
  EXPECT_EQ(spec, before);
}

TEST_F(GpuInjectTest, AnnotationsRequestCdiDevices) {
  cfg_.mode = GpuMode::kLegacy;  // annotations are CDI whatever the mode
  json spec = SpecWithEnv({});
  spec["annotations"]["cdi.k8s.io/vendor-x_a"] = "vendor.com/x=b, vendor.com/x=a";
  auto r = InjectGpu(&spec, cfg_, env_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->mechanism, GpuMechanism::kCdi);
  EXPECT_EQ(spec["process"]["env"], json({"XB=1", "XA=1"}));
  EXPECT_EQ(r->exclusions.annotation_keys, (std::vector<std::string>{"cdi.k8s.io/vendor-x_a"}));
  const json once = spec;
  ASSERT_TRUE(InjectGpu(&spec, cfg_, env_).ok());
  EXPECT_EQ(spec, once) << "a second create of the same bundle must not change it again";
  spec["annotations"]["cdi.k8s.io/bad"] = "gpu0";
  EXPECT_FALSE(InjectGpu(&spec, cfg_, env_).ok());
}

TEST_F(GpuInjectTest, ChainedAndOffDoNothing) {
  env_.runtime = "/usr/bin/nvidia-container-runtime";
  json spec = SpecWithEnv({"NVIDIA_VISIBLE_DEVICES=all"});
  const json before = spec;
  auto r = InjectGpu(&spec, cfg_, env_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->mechanism, GpuMechanism::kChained);
  EXPECT_EQ(spec, before);
  EXPECT_EQ(r->exclusions.env_names, (std::vector<std::string>{"NVIDIA_VISIBLE_DEVICES"}));
  env_.runtime = "runc";
  cfg_.mode = GpuMode::kOff;
  auto off = InjectGpu(&spec, cfg_, env_);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->mechanism, GpuMechanism::kOff);
  EXPECT_EQ(spec, before);
}

TEST_F(GpuInjectTest, MalformedSpecIsAnError) {
  json spec = {{"process", {{"env", {"NVIDIA_VISIBLE_DEVICES=0"}}}}, {"linux", "oops"}};
  EXPECT_FALSE(InjectGpu(&spec, cfg_, env_).ok());
  json arr = json::array();
  EXPECT_FALSE(InjectGpu(&arr, cfg_, env_).ok());
}

TEST(NvidiaEnvToCdiNames, MapsValues) {
  EXPECT_EQ(NvidiaEnvToCdiNames("all"), (std::vector<std::string>{"nvidia.com/gpu=all"}));
  EXPECT_EQ(NvidiaEnvToCdiNames("0, GPU-1a2b,nvidia.com/mig=1:0"),
            (std::vector<std::string>{"nvidia.com/gpu=0", "nvidia.com/gpu=GPU-1a2b", "nvidia.com/mig=1:0"}));
}

TEST(GpuExclusions, ImageEnvTakesTheBaseImageValue) {
  GpuExclusions x;
  x.env_names = {"CUDA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_VISIBLE_DEVICES"};
  std::vector<std::string> env = {"PATH=/bin", "NVIDIA_VISIBLE_DEVICES=GPU-1234", "CUDA_VISIBLE_DEVICES=0",
                                  "NVIDIA_DRIVER_CAPABILITIES=all", "MY=1"};
  x.ApplyToImageEnv(&env, {"PATH=/bin", "NVIDIA_VISIBLE_DEVICES=all"});
  EXPECT_EQ(env, (std::vector<std::string>{"PATH=/bin", "NVIDIA_VISIBLE_DEVICES=all", "MY=1"}));
  auto back = GpuExclusions::FromJson(x.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->env_names, x.env_names);
  EXPECT_FALSE(GpuExclusions::FromJson({{"paths", {"relative"}}}).ok());
  EXPECT_FALSE(GpuExclusions::FromJson(nlohmann::json::array()).ok());
}

}  // namespace
}  // namespace ctrsnap::gpu
