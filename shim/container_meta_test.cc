#include "shim/container_meta.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "common/file_util.h"

namespace ctrsnap::shim {
namespace {

using nlohmann::json;

TEST(GuessEngine, FromBundleAnnotationsAndCgroups) {
  json plain = {{"root", {{"path", "rootfs"}}}};
  EXPECT_EQ(GuessEngine(plain, "/tmp/b").engine, "plain");
  auto docker = GuessEngine(plain, "/run/containerd/io.containerd.runtime.v2.task/moby/abc");
  EXPECT_EQ(docker.engine, "docker");
  EXPECT_EQ(docker.ns, "moby");
  auto ctr = GuessEngine(plain, "/run/c/io.containerd.runtime.v2.task/default/x");
  EXPECT_EQ(ctr.engine, "containerd");
  EXPECT_EQ(ctr.ns, "default");
  json cgroup = {{"linux", {{"cgroupsPath", "system.slice:docker:abc"}}}};
  EXPECT_EQ(GuessEngine(cgroup, "/somewhere").engine, "docker");
  json podman = {{"annotations", {{"io.container.manager", "libpod"}}}};
  EXPECT_EQ(GuessEngine(podman, "/var/lib/containers/storage/overlay-containers/x/userdata").engine,
            "podman");
  json cri = {{"annotations",
               {{"io.kubernetes.cri.container-type", "container"},
                {"io.kubernetes.cri.image-name", "docker.io/library/busybox:1"}}}};
  auto g = GuessEngine(cri, "/run/c/io.containerd.runtime.v2.task/k8s.io/x");
  EXPECT_EQ(g.engine, "cri");
  EXPECT_EQ(g.image, "docker.io/library/busybox:1");
  json hostile = {{"annotations", 7}, {"linux", "x"}};
  EXPECT_EQ(GuessEngine(hostile, "/b").engine, "plain");
}

TEST(ContainerMeta, RoundTripAndCorruption) {
  char tmpl[] = "/tmp/ctrsnap-meta-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ContainerMeta m;
  m.id = "c1";
  m.bundle = "/b";
  m.rootfs = "/b/rootfs";
  m.engine = "plain";
  m.created_unix_ns = 42;
  m.starts = 2;
  m.env = {"A=1"};
  m.annotations = {{"k", "v"}};
  ASSERT_TRUE(m.Save(dir).ok());
  auto back = ContainerMeta::Load(dir);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, "c1");
  EXPECT_EQ(back->rootfs, "/b/rootfs");
  EXPECT_EQ(back->starts, 2u);
  EXPECT_EQ(back->env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(back->annotations["k"], "v");
  EXPECT_FALSE(ContainerMeta::FromJson("{\"version\":1}", "x").ok());  // no id
  EXPECT_FALSE(ContainerMeta::FromJson("{\"version\":1,\"id\":3}", "x").ok());
  EXPECT_FALSE(ContainerMeta::FromJson("nope", "x").ok());

  ExitRecord r;
  r.exited_unix_ns = 7;
  r.status = "stopped";
  r.exit_code = 3;
  r.by = "poststop";
  ASSERT_TRUE(r.Save(dir).ok());
  auto rb = ExitRecord::Load(dir);
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(rb->exited_unix_ns, 7);
  EXPECT_EQ(rb->exit_code, 3);
  ASSERT_TRUE(RemoveTree(dir).ok());
}

TEST(DockerImageRef, ReadsConfigBesideTheHostnameMount) {
  char tmpl[] = "/tmp/ctrsnap-dockerimg-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  std::string dir = root + "/containers/abc123";
  ASSERT_TRUE(MakeDirs(dir).ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/config.v2.json",
                              R"({"Config":{"Image":"team/train:v2"},"Image":"sha256:00"})").ok());
  json spec = {{"mounts", json::array({{{"destination", "/etc/resolv.conf"}, {"source", "/x"}},
                                       {{"destination", "/etc/hostname"},
                                        {"source", dir + "/hostname"}}})}};
  EXPECT_EQ(DockerImageRef(spec, "abc123"), "team/train:v2");
  // Another id's directory, no mount, a malformed file: nothing.
  EXPECT_EQ(DockerImageRef(spec, "other"), "");
  EXPECT_EQ(DockerImageRef(json::object(), "abc123"), "");
  ASSERT_TRUE(WriteFileAtomic(dir + "/config.v2.json", "{not json").ok());
  EXPECT_EQ(DockerImageRef(spec, "abc123"), "");
  ASSERT_TRUE(RemoveTree(root).ok());
}

}  // namespace
}  // namespace ctrsnap::shim
