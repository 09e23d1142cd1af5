// A GPU container run through ctrsnap-runtime (the real wrapper, ctrsnap-fs
// and runc; the legacy NVIDIA hook faked by tests/gpu/fake-nvidia-container-
// runtime-hook, which writes driver stubs into the root and bind-mounts fake
// driver files over them), then `ctrsnap snapshot`: the layer holds the
// user's work and nothing the GPU setup put in the root, the image config
// carries none of the host's GPU request, and asking for it is refused.
#include <unistd.h>

#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "tests/runtime/harness.h"

namespace ctrsnap::testing {
namespace {

using nlohmann::json;

class GpuSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (runc, FUSE mounts)";
    if (Sh("command -v runc && command -v jq && command -v nsenter").rc != 0) {
      GTEST_SKIP() << "needs runc, jq and nsenter";
    }
    tmp_ = MakeTempDir("gpusnap");
    hookdir_ = tmp_ + "/hookbin";
    ASSERT_EQ(Sh("mkdir -p " + hookdir_ + "/driver && cp " + SourceDir() +
                 "/tests/gpu/fake-nvidia-container-runtime-hook " + hookdir_ +
                 "/nvidia-container-runtime-hook && cp " + std::string(CTRSNAP_FAKE_LIBCUDA) + " " +
                 hookdir_ + "/driver/libcuda.so.535.104.05 && printf '#!/bin/sh\\necho NVIDIA-SMI "
                 "fake\\n' > " + hookdir_ + "/driver/nvidia-smi && chmod +x " + hookdir_ +
                 "/driver/nvidia-smi").rc,
              0);
    WriteJson(tmp_ + "/config.json",
              {{"fs_binary", FsBinary()},
               {"gpu", {{"mode", "legacy"}, {"legacy_hook", hookdir_ + "/nvidia-container-runtime-hook"}}}});
    ::setenv("CTRSNAP_CONFIG", (tmp_ + "/config.json").c_str(), 1);
    ::setenv("CTRSNAP_ROOT", (tmp_ + "/state").c_str(), 1);
    ::unsetenv("CTRSNAP_DISABLE");
  }
  void TearDown() override {
    if (tmp_.empty()) return;
    Sh(Wrapper() + " delete --force " + id_ + " >/dev/null 2>&1; grep -o ' " + tmp_ +
       "[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l", 60);
    (void)RemoveTree(tmp_);
  }
  std::string Wrapper() const { return BinDir() + "/ctrsnap-runtime --root " + tmp_ + "/runc"; }
  std::string State() const { return tmp_ + "/state/" + id_; }

  std::string tmp_, hookdir_;
  const std::string id_ = "gpu-snap-" + std::to_string(::getpid());
};

TEST_F(GpuSnapshotTest, SnapshotOfAGpuContainerHoldsOnlyTheUsersWork) {
  std::string b = tmp_ + "/bundle";
  MakeBundle(b, {"sh", "-c",
                 "nvidia-smi && test -e /dev/nvidia0 && echo gpu=ok; "
                 "mkdir -p /work && echo trained > /work/model.txt; "
                 "readlink /usr/lib/x86_64-linux-gnu/libcuda.so.1; exec sleep 1000"});
  json spec = ReadJson(b + "/config.json");
  spec["process"]["env"] = {"PATH=/bin:/usr/bin", "NVIDIA_VISIBLE_DEVICES=GPU-3f2a9c1e-7b4d-4e8f-9a0b-1c2d3e4f5a6b",
                            "NVIDIA_DRIVER_CAPABILITIES=compute,utility", "MODEL=resnet"};
  WriteJson(b + "/config.json", spec);

  CmdResult c = Sh(Wrapper() + " create -b " + b + " " + id_ + " >" + tmp_ + "/out 2>&1 </dev/null", 60);
  ASSERT_EQ(c.rc, 0) << c.out << ReadFileToString(tmp_ + "/out").value_or("");
  ASSERT_EQ(Sh(Wrapper() + " start " + id_).rc, 0);
  std::string out;
  for (int i = 0; i < 200 && out.find("libcuda.so.535") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    out = ReadFileToString(tmp_ + "/out").value_or("");
  }
  ASSERT_NE(out.find("gpu=ok"), std::string::npos) << out;
  // The hook was called once and its stubs exist in the container.
  std::string calls = ReadFileToString(hookdir_ + "/calls.log").value_or("");
  EXPECT_NE(calls.find("prestart"), std::string::npos) << calls;

  // The host's GPU request is refused by name.
  CmdResult refused = Sh(BinDir() + "/ctrsnap snapshot --state " + State() + " -o " + tmp_ +
                         "/refused --no-progress --env NVIDIA_VISIBLE_DEVICES");
  EXPECT_EQ(refused.rc, 2) << refused.out;
  EXPECT_NE(refused.out.find("GPU request"), std::string::npos) << refused.out;

  // A snapshot of the running container, with an ordinary variable asked for.
  CmdResult snap = Sh(BinDir() + "/ctrsnap snapshot --state " + State() + " -o " + tmp_ +
                      "/img --json --no-progress --env MODEL 2>" + tmp_ + "/snap.err");
  ASSERT_EQ(snap.rc, 0) << snap.out << ReadFileToString(tmp_ + "/snap.err").value_or("");
  json result = json::parse(snap.out, nullptr, false);
  ASSERT_TRUE(result.is_object()) << snap.out;
  ASSERT_FALSE(result["layers"].empty());
  std::string layer = result["layers"].back()["digest"];
  CmdResult list = Sh("tar -tzf " + tmp_ + "/img/blobs/sha256/" + layer.substr(7));
  ASSERT_EQ(list.rc, 0) << list.out;
  std::set<std::string> names;
  std::istringstream in(list.out);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && line.back() == '/') line.pop_back();
    names.insert(line);
  }
  EXPECT_EQ(names, (std::set<std::string>{"work", "work/model.txt"})) << list.out;

  // The config: MODEL asked for and copied; no NVIDIA_* of this host.
  json index = ReadJson(tmp_ + "/img/index.json");
  std::string manifest_digest = index["manifests"][0]["digest"];
  json manifest = ReadJson(tmp_ + "/img/blobs/sha256/" + manifest_digest.substr(7));
  std::string config_digest = manifest["config"]["digest"];
  json config = ReadJson(tmp_ + "/img/blobs/sha256/" + config_digest.substr(7));
  std::string env = config["config"].value("Env", json::array()).dump();
  EXPECT_NE(env.find("MODEL=resnet"), std::string::npos) << env;
  EXPECT_EQ(env.find("NVIDIA"), std::string::npos) << env;
  EXPECT_EQ(manifest.dump().find("GPU-3f2a9c1e"), std::string::npos);
  EXPECT_EQ(config.dump().find("GPU-3f2a9c1e"), std::string::npos);

  EXPECT_EQ(Sh(Wrapper() + " delete --force " + id_).rc, 0);
}

}  // namespace
}  // namespace ctrsnap::testing
