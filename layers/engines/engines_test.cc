#include <gtest/gtest.h>

#include "layers/engines/engine.h"
#include "layers/engines/process.h"

namespace ctrsnap::engines {
namespace {

TEST(Process, CollectsOutputAndExitCode) {
  auto r = RunProcess({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  auto c = RunChecked({"/bin/sh", "-c", "echo boom >&2; exit 1"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("boom"), std::string::npos);
  EXPECT_FALSE(RunProcess({"/nonexistent/program"}).ok());
}

TEST(Engine, UnknownNameIsAnError) {
  EXPECT_FALSE(NewEngine("lxc").ok());
  for (const char* n : {"docker", "containerd", "podman"}) {
    auto e = NewEngine(n);
    ASSERT_TRUE(e.ok());
  }
  EXPECT_FALSE((*NewEngine("docker"))->AcceptsZstd());
  EXPECT_TRUE((*NewEngine("podman"))->AcceptsZstd());
}

TEST(Engine, ParsesDockerContainerInspect) {
  auto info = ParseDockerContainerInspect(R"([{
    "Id": "abc123", "Name": "/web", "Image": "sha256:feed",
    "Config": {"Image": "bb:local", "Env": ["PATH=/bin", "TOKEN=x"]},
    "Mounts": [{"Source": "/srv/src", "Destination": "/src"}]}])");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->id, "abc123");
  EXPECT_EQ(info->name, "web");
  EXPECT_EQ(info->image_ref, "bb:local");
  ASSERT_EQ(info->mounts.size(), 1u);
  EXPECT_EQ(info->mounts[0].destination, "/src");
  EXPECT_EQ(info->env.size(), 2u);
  EXPECT_FALSE(ParseDockerContainerInspect("[]").ok());
  EXPECT_FALSE(ParseDockerContainerInspect("{oops").ok());
}

TEST(Engine, PushRefusesRefWithoutRegistry) {
  EXPECT_FALSE(PushOciLayout("/nonexistent", "x", "justaname").ok());
}

}  // namespace
}  // namespace ctrsnap::engines
