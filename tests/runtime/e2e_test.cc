// ctrsnap-runtime under real engines (label e2e): Docker, containerd (ctr)
// and podman, against the private services of tests/services.sh. Skipped
// without CTRSNAP_TEST_SERVICES.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/file_util.h"
#include "shim/fs_daemon.h"
#include "tests/runtime/harness.h"

namespace ctrsnap::testing {
namespace {

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = EngineSuiteUnavailable(); !why.empty()) GTEST_SKIP() << why;
    state_root_ = Env("CTRSNAP_ROOT");
    ASSERT_FALSE(state_root_.empty()) << "services.sh env sets CTRSNAP_ROOT for the engines";
    tmp_ = MakeTempDir("e2e");
    // A fresh image per test (fresh layer: engines skip known chain ids).
    MakeBusyboxRootfs(tmp_ + "/rootfs");
    tag_ = "bb-e2e:" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : tag_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  void TearDown() override {
    if (!tmp_.empty()) (void)RemoveTree(tmp_);
  }
  static std::string Docker() { return DockerCommand(); }
  std::string Ctr() const {
    return "ctr -a " + Env("CONTAINERD_ADDRESS") + " -n " +
           (Env("CONTAINERD_NAMESPACE").empty() ? "ctrsnap-test" : Env("CONTAINERD_NAMESPACE"));
  }
  std::string Runtime() const { return BinDir() + "/ctrsnap-runtime"; }
  std::string State(const std::string& id) const { return state_root_ + "/" + id; }
  void ImportDockerImage() {
    CmdResult r = Sh("tar -C " + tmp_ + "/rootfs -c . | " + Docker() + " import - " + tag_);
    ASSERT_EQ(r.rc, 0) << r.out;
  }
  std::string DockerId(const std::string& name) {
    CmdResult r = Sh(Docker() + " inspect -f '{{.Id}}' " + name);
    std::string id = r.out;
    while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
    return r.rc == 0 ? id : "";
  }
  CmdResult D(const std::string& args, int timeout_s = 120) {
    return Sh(Docker() + " " + args, timeout_s);
  }

  std::string tmp_, state_root_, tag_;
};

TEST_F(EngineTest, DockerLifecycle) {
  ImportDockerImage();
  const std::string name = "ctrsnap-e2e-" + std::to_string(::getpid());
  CmdResult run = D("run -d --runtime ctrsnap --name " + name + " " + tag_ + " sleep 100000");
  ASSERT_EQ(run.rc, 0) << run.out;
  std::string id = DockerId(name);
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(shim::StateLocked(State(id))) << "no ctrsnap-fs for " << id;

  // exec: writes inside the container land in ctrsnap's generations.
  CmdResult e = D("exec " + name + " sh -c 'mkdir -p /work && echo real > /work/model.txt && "
                  "mkdir -p /root/.cache/pip && echo cache > /root/.cache/pip/x && "
                  "echo KEY=secret > /work/.env && cat /work/model.txt'");
  ASSERT_EQ(e.rc, 0) << e.out;
  EXPECT_NE(e.out.find("real"), std::string::npos);
  EXPECT_FALSE(GenerationsHolding(State(id), "work/model.txt").empty());

  // docker cp out and in read and write what the container sees.
  CmdResult out = D("cp " + name + ":/work/model.txt " + tmp_ + "/copied.txt");
  ASSERT_EQ(out.rc, 0) << out.out;
  std::ifstream copied(tmp_ + "/copied.txt");
  std::string line;
  std::getline(copied, line);
  EXPECT_EQ(line, "real");
  { std::ofstream(tmp_ + "/in.txt") << "from-host\n"; }
  ASSERT_EQ(D("cp " + tmp_ + "/in.txt " + name + ":/work/in.txt").rc, 0);
  CmdResult in = D("exec " + name + " cat /work/in.txt");
  EXPECT_NE(in.out.find("from-host"), std::string::npos) << in.out;
  EXPECT_FALSE(GenerationsHolding(State(id), "work/in.txt").empty());

  // pause/unpause
  ASSERT_EQ(D("pause " + name).rc, 0);
  EXPECT_NE(D("inspect -f '{{.State.Status}}' " + name).out.find("paused"), std::string::npos);
  ASSERT_EQ(D("unpause " + name).rc, 0);
  EXPECT_EQ(D("exec " + name + " true").rc, 0);

  // restart keeps every file written before (the state dir is resumed).
  CmdResult restart = D("restart -t 1 " + name);
  ASSERT_EQ(restart.rc, 0) << restart.out;
  CmdResult after = D("exec " + name + " sh -c 'cat /work/model.txt /work/in.txt'");
  EXPECT_NE(after.out.find("real"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("from-host"), std::string::npos) << after.out;
  auto meta = ReadJson(State(id) + "/container.json");
  EXPECT_EQ(meta["engine"], "docker");
  EXPECT_EQ(meta["starts"], 2);

  // Snapshot: once `ctrsnap snapshot` lands, snapshot here, `docker run` the
  // image and check model.txt is in it while /root/.cache and .env are not.

  // stop, then start again: still there; rm: state kept for post-mortem.
  ASSERT_EQ(D("stop -t 1 " + name).rc, 0);
  EXPECT_FALSE(shim::StateLocked(State(id))) << "daemon still running after stop";
  EXPECT_TRUE(ReadJson(State(id) + "/exit.json").is_object());
  ASSERT_EQ(D("start " + name).rc, 0);
  EXPECT_NE(D("exec " + name + " cat /work/model.txt").out.find("real"), std::string::npos);
  ASSERT_EQ(D("rm -f " + name).rc, 0);
  EXPECT_FALSE(shim::StateLocked(State(id)));
  EXPECT_FALSE(GenerationsHolding(State(id), "work/model.txt").empty())
      << "state of a removed container was not retained";
  Sh(Docker() + " rmi " + tag_);
}

// After `docker rm` the container's root (overlay2's merged dir) is gone; a
// retained container can still be snapshotted: the base is the image Docker
// created it from (recorded at create), and what the generations need from
// the old root (a chmod'ed image file, a renamed image directory) was kept on
// delete. The snapshot runs in Docker with the work and without the pip cache
// and the credential.
TEST_F(EngineTest, DockerPostMortemSnapshotAfterRm) {
  ASSERT_TRUE(MakeDirs(tmp_ + "/rootfs/data/sub").ok());
  { std::ofstream(tmp_ + "/rootfs/data/sub/b.txt") << "image-b\n"; }
  { std::ofstream(tmp_ + "/rootfs/img.txt") << "image-bytes\n"; }
  ImportDockerImage();
  const std::string name = "ctrsnap-pm-" + std::to_string(::getpid());
  CmdResult run = D("run --runtime ctrsnap --name " + name + " " + tag_ +
                    " sh -c 'mkdir -p /work /root/.cache/pip && echo real > /work/model.txt && "
                    "echo cache > /root/.cache/pip/x && "
                    "echo OPENAI_API_KEY=sk-proj-Dm9cTr5nApDEMOa1b2c3d4e5T3BlbkFJq8w7e6r5t4y3u2i1o0pDEMOkey"
                    " > /work/.env && mv /data /moved && chmod 640 /img.txt'");
  ASSERT_EQ(run.rc, 0) << run.out;
  std::string id = DockerId(name);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(ReadJson(State(id) + "/container.json")["image"], tag_);
  ASSERT_EQ(D("rm " + name).rc, 0);
  EXPECT_NE(D("inspect " + id).rc, 0) << "docker still knows the container";
  std::string snap = "ctrsnap-pm-snap:" + std::to_string(::getpid());
  CmdResult s = Sh(BinDir() + "/ctrsnap snapshot " + id + " --tag " + snap + " --no-progress", 300);
  ASSERT_EQ(s.rc, 0) << s.out;
  CmdResult check = D("run --rm " + snap + " sh -c 'cat /work/model.txt /moved/sub/b.txt /img.txt; "
                      "stat -c mode=%a /img.txt; test -e /data || echo no-data; "
                      "test -e /root/.cache/pip/x || echo no-cache; test -e /work/.env || echo no-env'");
  ASSERT_EQ(check.rc, 0) << check.out;
  for (const char* want : {"real", "image-b", "image-bytes", "mode=640", "no-data", "no-cache", "no-env"}) {
    EXPECT_NE(check.out.find(want), std::string::npos) << want << "\n" << check.out;
  }
  Sh(Docker() + " rmi " + snap + " " + tag_);
  (void)RemoveTree(State(id));
}

// `ctrsnap demo --engine docker` against the private dockerd: the same story
// through Docker, including the post-mortem snapshot after `docker rm`, and
// nothing left behind.
TEST_F(EngineTest, DemoThroughDocker) {
  std::string work = tmp_ + "/demo";
  CmdResult r = Sh("PATH=/usr/sbin:/usr/bin:$PATH " + BinDir() + "/ctrsnap demo --engine docker --workdir " +
                   work, 300);
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const char* want : {"--runtime ctrsnap", "post-mortem", "trainer 1.4.0: resuming from checkpoint-",
                           "checkpoint-1.bin: OK", ".env: not in the image",
                           "pip cache: not in the image",
                           "OPENAI_API_KEY in the image's environment: no", "Done in"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("STILL THERE"), std::string::npos) << r.out;
  struct stat st{};
  EXPECT_NE(::stat(work.c_str(), &st), 0) << "the demo left " << work;
  EXPECT_EQ(D("images -q ctrsnap-demo/trainer").out, "");
  EXPECT_EQ(D("ps -aq --filter name=ctrsnap-demo-").out, "");
}

TEST_F(EngineTest, DockerRunRmAndErrors) {
  ImportDockerImage();
  CmdResult r = D("run --rm --runtime ctrsnap " + tag_ + " sh -c 'echo hello > /h && cat /h'");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("hello"), std::string::npos);
  // The real runtime's reason reaches the user (missing executable).
  CmdResult bad = D("run --rm --runtime ctrsnap " + tag_ + " /no/such/binary");
  EXPECT_NE(bad.rc, 0);
  EXPECT_NE(bad.out.find("no such file"), std::string::npos) << bad.out;
  // Opt-out by env: no state dir, container runs.
  CmdResult off = D("run --rm --runtime ctrsnap -e CTRSNAP_DISABLE=1 --name ctrsnap-off-" +
                    std::to_string(::getpid()) + " " + tag_ + " sh -c 'grep \" / \" /proc/mounts'");
  ASSERT_EQ(off.rc, 0) << off.out;
  EXPECT_EQ(off.out.find("ctrsnap-fs"), std::string::npos) << off.out;
  EXPECT_EQ(off.out.find("overlay / overlay"), 0u) << off.out;
  Sh(Docker() + " rmi " + tag_);
}

TEST_F(EngineTest, ContainerdCtrRun) {
  ImportDockerImage();
  std::string archive = tmp_ + "/img.tar";
  ASSERT_EQ(D("save -o " + archive + " " + tag_).rc, 0);
  CmdResult imp = Sh(Ctr() + " images import " + archive);
  ASSERT_EQ(imp.rc, 0) << imp.out;
  std::string ref = "docker.io/library/" + tag_;
  const std::string id = "ctrsnap-ctr-" + std::to_string(::getpid());
  CmdResult r = Sh(Ctr() + " run --rm --runc-binary " + Runtime() + " " + ref + " " + id +
                   " sh -c 'echo via-ctr > /ctr.txt && cat /ctr.txt'");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("via-ctr"), std::string::npos) << r.out;
  EXPECT_FALSE(GenerationsHolding(State(id), "ctr.txt").empty());
  EXPECT_FALSE(shim::StateLocked(State(id)));
  auto meta = ReadJson(State(id) + "/container.json");
  EXPECT_EQ(meta["engine"], "containerd");
  Sh(Ctr() + " images rm " + ref);
  Sh(Docker() + " rmi " + tag_);
}

TEST_F(EngineTest, PodmanRun) {
  std::string storage = tmp_ + "/podman";
  std::string podman = "podman --root " + storage + "/root --runroot " + storage +
                       "/run --storage-driver vfs --runtime " + Runtime() +
                       " --cgroup-manager cgroupfs --events-backend none";
  CmdResult imp = Sh("tar -C " + tmp_ + "/rootfs -c . | " + podman + " import - " + tag_);
  ASSERT_EQ(imp.rc, 0) << imp.out;
  const std::string name = "ctrsnap-pm-" + std::to_string(::getpid());
  CmdResult r = Sh(podman + " run --rm --name " + name +
                   " --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 " + tag_ +
                   " sh -c 'echo via-podman > /pm.txt && cat /pm.txt && grep \" / \" /proc/mounts'");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("via-podman"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ctrsnap-fs"), std::string::npos) << "root is not ctrsnap-fs: " << r.out;
  Sh(podman + " rmi -af; umount -R " + storage + " 2>/dev/null", 60);
}

}  // namespace
}  // namespace ctrsnap::testing
