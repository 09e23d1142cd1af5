#include "hooks/gpu/cdi_generate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "hooks/gpu/test_tmpdir.h"

namespace ctrsnap::gpu {
namespace {

TEST(CdiGenerate, DriverLibraryNames) {
  for (const char* yes : {"libcuda.so", "libcuda.so.1", "libcuda.so.535.104.05", "libnvidia-ml.so.1",
                          "libnvidia-ptxjitcompiler.so.535.104.05", "libcudadebugger.so.1",
                          "libnvoptix.so.1", "libGLX_nvidia.so.0", "libnvcuvid.so.1"}) {
    EXPECT_TRUE(IsDriverLibraryName(yes)) << yes;
  }
  for (const char* no : {"libcudart.so.12", "libcuda.sox", "libnvidia-container.so.1",
                         "libnvidia-container-go.so.1", "libfoo.so", "libcuda.a", "nvidia-smi"}) {
    EXPECT_FALSE(IsDriverLibraryName(no)) << no;
  }
}

// Libraries and binaries of a fake root (device nodes need root: see
// tests/gpu/gpu_runtime_test.cc).
TEST(CdiGenerate, FindsLibrariesThroughSymlinksInsideTheRoot) {
  TempDir t;
  const std::string lib = "/usr/local/nvidia/lib64";
  t.Write("usr/local/nvidia/lib64/libcuda.so.535.104.05", "");
  t.Write("usr/local/nvidia/lib64/libnvidia-ml.so.535.104.05", "");
  t.Write("usr/local/nvidia/lib64/libnvidia-container.so.1", "");
  t.Write("usr/local/nvidia/lib64/libfoo.so.1", "");
  const std::string d = t.path() + lib;
  ASSERT_EQ(::symlink("libcuda.so.535.104.05", (d + "/libcuda.so.1").c_str()), 0);
  ASSERT_EQ(::symlink("libcuda.so.1", (d + "/libcuda.so").c_str()), 0);
  // An absolute link is resolved inside the root, never on the host.
  ASSERT_EQ(::symlink((lib + "/libnvidia-ml.so.535.104.05").c_str(), (d + "/libnvidia-ml.so.1").c_str()), 0);
  ASSERT_EQ(::symlink("/nowhere", (d + "/libnvidia-gone.so.1").c_str()), 0);
  t.Write("usr/local/nvidia/bin/nvidia-smi", "#!/bin/sh\necho fake\n", 0755);
  t.Write("usr/bin/nvidia-debugdump", "not executable", 0644);

  CdiGenerateOptions o;
  o.root = t.path();
  o.lib_dirs = {lib};
  o.bin_dirs = {"/usr/local/nvidia/bin"};
  o.search_path = "/usr/bin";
  auto files = DiscoverHostGpu(o);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  std::vector<std::pair<std::string, std::string>> want = {
      {lib + "/libcuda.so.535.104.05", lib + "/libcuda.so.535.104.05"},
      {lib + "/libcuda.so", lib + "/libcuda.so.535.104.05"},
      {lib + "/libcuda.so.1", lib + "/libcuda.so.535.104.05"},
      {lib + "/libnvidia-ml.so.535.104.05", lib + "/libnvidia-ml.so.535.104.05"},
      {lib + "/libnvidia-ml.so.1", lib + "/libnvidia-ml.so.535.104.05"},
  };
  auto got = files->libraries;
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(files->library_dirs, (std::vector<std::string>{lib}));
  EXPECT_EQ(files->binaries, (std::vector<std::string>{"/usr/local/nvidia/bin/nvidia-smi"}));
  EXPECT_TRUE(files->gpus.empty());
  bool noted_gone = false;
  for (const auto& n : files->notes) noted_gone |= n.find("libnvidia-gone") != std::string::npos;
  EXPECT_TRUE(noted_gone);
  // Without a GPU there is no spec to write.
  EXPECT_FALSE(BuildNvidiaCdiSpec(*files, o).ok());

  // With one (a synthetic node entry), the spec validates and mounts host paths.
  HostGpuFiles with_gpu = *files;
  with_gpu.gpus.push_back({0, "GPU-11111111-2222-3333-4444-555555555555", {"/dev/nvidia0", 195, 0}});
  o.ldcache_hook = "/usr/local/bin/ctrsnap";
  auto spec = BuildNvidiaCdiSpec(with_gpu, o);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->devices.size(), 3u);  // "0", the UUID, "all"
  EXPECT_EQ(spec->devices[2].name, "all");
  EXPECT_EQ(spec->devices[0].edits.device_nodes[0].host_path, t.path() + "/dev/nvidia0");
  ASSERT_EQ(spec->edits.mounts.size(), 6u);
  for (const auto& m : spec->edits.mounts) {
    EXPECT_EQ(m.host_path.rfind(t.path(), 0), 0u) << m.host_path;
    EXPECT_EQ(m.container_path.rfind(t.path(), 0), std::string::npos) << m.container_path;
  }
  ASSERT_EQ(spec->edits.hooks.size(), 1u);
  EXPECT_EQ(spec->edits.hooks[0].hook_name, "createContainer");
  EXPECT_EQ(spec->edits.hooks[0].args,
            (std::vector<std::string>{"ctrsnap", "gpu", "hook", "update-ldcache", "--folder", lib}));
}

TEST(CdiGenerate, MissingRootIsAnError) {
  CdiGenerateOptions o;
  o.root = "/nonexistent/ctrsnap-root";
  EXPECT_FALSE(DiscoverHostGpu(o).ok());
}

}  // namespace
}  // namespace ctrsnap::gpu
