#include "hooks/gpu/cdi_apply.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "hooks/gpu/test_tmpdir.h"

namespace ctrsnap::gpu {
namespace {

using nlohmann::json;

json BaseSpec() {
  return {{"ociVersion", "1.0.2"},
          {"process", {{"user", {{"uid", 1000}, {"gid", 1000}}}, {"env", {"PATH=/bin", "FOO=old"}}}},
          {"root", {{"path", "rootfs"}}},
          {"mounts", {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}}}},
          {"linux", {{"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}}}},
          {"x-engine-field", {{"keep", true}}}};
}

TEST(CdiApply, AppliesEveryKindOfEdit) {
  CdiContainerEdits e;
  e.env = {"FOO=new", "NVIDIA_VISIBLE_DEVICES=void"};
  CdiDeviceNode n;
  n.path = "/dev/nvidia0";
  n.host_path = "/dev/null";  // a real char device: type and numbers come from the host
  e.device_nodes.push_back(n);
  CdiDeviceNode fixed;
  fixed.path = "/dev/nvidiactl";
  fixed.type = "c";
  fixed.major = 195;
  fixed.minor = 255;
  fixed.permissions = "rw";
  fixed.uid = 0;
  e.device_nodes.push_back(fixed);
  e.mounts.push_back({"/host/libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", {"ro", "bind"}, ""});
  e.hooks.push_back({"createContainer", "/usr/bin/ctrsnap", {"ctrsnap", "gpu"}, {}, 5});
  e.hooks.push_back({"prestart", "/usr/bin/other", {}, {"A=1"}, std::nullopt});
  e.additional_gids = {0, 44};
  e.has_intel_rdt = true;

  json spec = BaseSpec();
  auto r = ApplyCdiEdits(&spec, e);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(spec["process"]["env"], json({"PATH=/bin", "FOO=new", "NVIDIA_VISIBLE_DEVICES=void"}));
  const auto& devs = spec["linux"]["devices"];
  ASSERT_EQ(devs.size(), 2u);
  EXPECT_EQ(devs[0], json({{"path", "/dev/nvidia0"}, {"type", "c"}, {"major", 1}, {"minor", 3},
                           {"uid", 1000}, {"gid", 1000}}));
  EXPECT_EQ(devs[1]["uid"], 0);
  EXPECT_EQ(devs[1]["gid"], 1000);
  const auto& rules = spec["linux"]["resources"]["devices"];
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[1], json({{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"access", "rwm"}}));
  EXPECT_EQ(rules[2]["access"], "rw");
  ASSERT_EQ(spec["mounts"].size(), 2u);
  EXPECT_EQ(spec["mounts"][1]["source"], "/host/libcuda.so.1");
  EXPECT_EQ(spec["mounts"][1]["options"], json({"ro", "bind"}));
  EXPECT_EQ(spec["hooks"]["createContainer"][0]["timeout"], 5);
  EXPECT_EQ(spec["hooks"]["prestart"][0]["env"], json({"A=1"}));
  EXPECT_EQ(spec["process"]["user"]["additionalGids"], json({44}));
  EXPECT_EQ(spec["x-engine-field"]["keep"], true);
  EXPECT_EQ(r->device_paths, (std::vector<std::string>{"/dev/nvidia0", "/dev/nvidiactl"}));
  EXPECT_EQ(r->mount_paths, (std::vector<std::string>{"/usr/lib/x86_64-linux-gnu/libcuda.so.1"}));
  EXPECT_EQ(r->notes.size(), 1u);
  // Idempotent: the same edits again change nothing.
  const json once = spec;
  ASSERT_TRUE(ApplyCdiEdits(&spec, e).ok());
  EXPECT_EQ(spec, once);
}

TEST(CdiApply, PermissionsNoneGivesEmptyAccessAndFifoHasNoRule) {
  TempDir t;
  std::string fifo = t.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  CdiContainerEdits e;
  CdiDeviceNode a;
  a.path = "/dev/a";
  a.host_path = "/dev/null";
  a.permissions = "none";
  CdiDeviceNode p;
  p.path = "/dev/p";
  p.host_path = fifo;
  e.device_nodes = {a, p};
  json spec = json::object();
  ASSERT_TRUE(ApplyCdiEdits(&spec, e).ok());
  ASSERT_EQ(spec["linux"]["resources"]["devices"].size(), 1u);
  EXPECT_EQ(spec["linux"]["resources"]["devices"][0]["access"], "");
  EXPECT_EQ(spec["linux"]["devices"][1]["type"], "p");
}

TEST(CdiApply, HostNodeErrors) {
  TempDir t;
  std::string file = t.Write("regular", "x");
  for (const auto& [type, host] : std::vector<std::pair<std::string, std::string>>{
           {"", file}, {"", t.path() + "/missing"}, {"b", "/dev/null"}}) {
    CdiContainerEdits e;
    CdiDeviceNode n;
    n.path = "/dev/x";
    n.type = type;
    n.host_path = host;
    e.device_nodes.push_back(n);
    json spec = json::object();
    EXPECT_FALSE(ApplyCdiEdits(&spec, e).ok()) << type << " " << host;
  }
}

}  // namespace
}  // namespace ctrsnap::gpu
