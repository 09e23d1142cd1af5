// Engines restarted under running containers (label e2e): dockerd restarted
// with live-restore, then containerd restarted, while a ctrsnap container
// keeps running. The container, its ctrsnap-fs and its generations must
// survive both, and snapshots taken afterwards must hold the writes made
// before and after each restart. Uses tests/services.sh's private daemons
// (restart-dockerd, restart-containerd); skipped without them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/file_util.h"
#include "shim/fs_daemon.h"
#include "tests/runtime/harness.h"

namespace ctrsnap::testing {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

class EngineRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = EngineSuiteUnavailable(); !why.empty()) GTEST_SKIP() << why;
    state_root_ = Env("CTRSNAP_ROOT");
    ASSERT_FALSE(state_root_.empty());
    services_ = Env("CTRSNAP_SOURCE_DIR") + "/tests/services.sh";
    ASSERT_EQ(::access(services_.c_str(), X_OK), 0) << services_;
    tmp_ = MakeTempDir("restart");
    MakeBusyboxRootfs(tmp_ + "/rootfs");
    tag_ = "bb-restart:" + std::to_string(::getpid());
    name_ = "ctrsnap-restart-" + std::to_string(::getpid());
    CmdResult r = Sh("tar -C " + tmp_ + "/rootfs -c . | " + Docker() + " import - " + tag_);
    ASSERT_EQ(r.rc, 0) << r.out;
  }
  void TearDown() override {
    if (!name_.empty()) Sh(Docker() + " rm -f " + name_);
    // Back to the configuration every other test expects.
    if (live_restore_) Sh(services_ + " restart-dockerd " + BinDir() + " false", 180);
    if (!tag_.empty()) Sh(Docker() + " rmi -f " + tag_ + " " + snaps_);
    if (!id_.empty()) (void)RemoveTree(state_root_ + "/" + id_);
    if (!tmp_.empty()) (void)RemoveTree(tmp_);
  }
  static std::string Docker() { return DockerCommand(); }
  CmdResult D(const std::string& args, int timeout_s = 120) { return Sh(Docker() + " " + args, timeout_s); }
  // The engine answers again after a restart (dockerd reconnects to a
  // restarted containerd on its own, within seconds).
  bool WaitForExec(int seconds) {
    for (int i = 0; i < seconds * 2; ++i) {
      if (D("exec " + name_ + " true", 30).rc == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return false;
  }
  void Write(const std::string& file, const std::string& text) {
    CmdResult e = D("exec " + name_ + " sh -c 'mkdir -p /work && echo " + text + " > /work/" + file + "'");
    ASSERT_EQ(e.rc, 0) << e.out;
  }
  // Snapshots the container under TAG and runs the image to read /work.
  std::string SnapshotAndRead(const std::string& tag) {
    snaps_ += " " + tag;
    CmdResult s = Sh(BinDir() + "/ctrsnap snapshot " + id_ + " --tag " + tag + " --no-progress", 300);
    EXPECT_EQ(s.rc, 0) << s.out;
    CmdResult r = D("run --rm " + tag + " sh -c 'cat /work/*'");
    EXPECT_EQ(r.rc, 0) << r.out;
    return r.out;
  }
  pid_t FsPid() { return shim::LockHolderPid(state_root_ + "/" + id_).value_or(-1); }

  std::string services_, tmp_, state_root_, tag_, name_, id_, snaps_;
  bool live_restore_ = false;
};

TEST_F(EngineRestartTest, ContainerSurvivesDockerdAndContainerdRestartsAndStaysSnapshotable) {
  // live-restore is a start option of dockerd here (services.sh restarts it).
  live_restore_ = true;
  CmdResult lr = Sh(services_ + " restart-dockerd " + BinDir() + " true", 180);
  ASSERT_EQ(lr.rc, 0) << lr.out;
  CmdResult run = D("run -d --runtime ctrsnap --name " + name_ + " " + tag_ + " sleep 100000");
  ASSERT_EQ(run.rc, 0) << run.out;
  id_ = Trim(D("inspect -f '{{.Id}}' " + name_).out);
  ASSERT_FALSE(id_.empty());
  const std::string state = state_root_ + "/" + id_;
  ASSERT_TRUE(shim::StateLocked(state)) << "no ctrsnap-fs for " << id_;
  const pid_t fs_pid = FsPid();
  ASSERT_GT(fs_pid, 0);
  ASSERT_NO_FATAL_FAILURE(Write("a", "before-dockerd-restart"));

  // 1. dockerd goes away and comes back; the container keeps running.
  CmdResult rd = Sh(services_ + " restart-dockerd " + BinDir() + " true", 180);
  ASSERT_EQ(rd.rc, 0) << rd.out;
  EXPECT_EQ(Trim(D("inspect -f '{{.State.Running}}' " + name_).out), "true");
  ASSERT_TRUE(WaitForExec(30)) << "container does not answer after the dockerd restart";
  EXPECT_TRUE(shim::StateLocked(state)) << "ctrsnap-fs went with dockerd";
  EXPECT_EQ(FsPid(), fs_pid) << "ctrsnap-fs was restarted";
  ASSERT_NO_FATAL_FAILURE(Write("b", "after-dockerd-restart"));
  std::string one = SnapshotAndRead("ctrsnap-restart-snap:1-" + std::to_string(::getpid()));
  EXPECT_NE(one.find("before-dockerd-restart"), std::string::npos) << one;
  EXPECT_NE(one.find("after-dockerd-restart"), std::string::npos) << one;

  // 2. containerd goes away and comes back (its shim and the container stay).
  CmdResult rc = Sh(services_ + " restart-containerd", 180);
  ASSERT_EQ(rc.rc, 0) << rc.out;
  ASSERT_TRUE(WaitForExec(60)) << "container does not answer after the containerd restart";
  EXPECT_EQ(FsPid(), fs_pid) << "ctrsnap-fs was restarted";
  ASSERT_NO_FATAL_FAILURE(Write("c", "after-containerd-restart"));
  std::string two = SnapshotAndRead("ctrsnap-restart-snap:2-" + std::to_string(::getpid()));
  for (const char* want : {"before-dockerd-restart", "after-dockerd-restart", "after-containerd-restart"}) {
    EXPECT_NE(two.find(want), std::string::npos) << want << "\n" << two;
  }

  // 3. The container still stops and is removed normally, keeping its state.
  ASSERT_EQ(D("rm -f " + name_).rc, 0);
  name_.clear();
  EXPECT_FALSE(shim::StateLocked(state));
}


// A snapshot racing `docker rm -f` of its container (delete stops ctrsnap-fs
// and keeps the state for post-mortem snapshots): it completes with a whole
// image or fails with a message, never hangs or leaves a broken image; then a
// post-mortem snapshot holds the container's files, or says that the one
// before already does.
TEST_F(EngineRestartTest, SnapshotRacingDockerRmIsWholeOrRefused) {
  for (int delay_ms : {0, 150, 400}) {
    SCOPED_TRACE("rm after " + std::to_string(delay_ms) + " ms");
    name_ = "ctrsnap-race-" + std::to_string(::getpid()) + "-" + std::to_string(delay_ms);
    CmdResult run = D("run -d --runtime ctrsnap --name " + name_ + " " + tag_ + " sleep 100000");
    ASSERT_EQ(run.rc, 0) << run.out;
    id_ = Trim(D("inspect -f '{{.Id}}' " + name_).out);
    ASSERT_FALSE(id_.empty());
    ASSERT_NO_FATAL_FAILURE(Write("a", "payload-" + std::to_string(delay_ms)));
    const std::string tag = "ctrsnap-race-snap:" + std::to_string(::getpid()) + "-" + std::to_string(delay_ms);
    snaps_ += " " + tag;
    CmdResult snap;
    std::thread t([&] {
      snap = Sh(BinDir() + "/ctrsnap snapshot " + id_ + " --tag " + tag + " --no-progress", 300);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    CmdResult rm = D("rm -f " + name_);
    t.join();
    ASSERT_EQ(rm.rc, 0) << rm.out;
    name_.clear();
    if (snap.rc == 0) {
      CmdResult r = D("run --rm " + tag + " cat /work/a");
      EXPECT_EQ(r.rc, 0) << r.out;
      EXPECT_NE(r.out.find("payload-" + std::to_string(delay_ms)), std::string::npos) << r.out;
    } else {
      EXPECT_LT(snap.rc, 128) << "snapshot crashed: " << snap.out;
      EXPECT_NE(snap.out.find("ctrsnap"), std::string::npos) << "no message: " << snap.out;
    }
    // Post-mortem: the retained state still snapshots; after a snapshot
    // that completed, there is nothing new to take (and it says so).
    const std::string pm = tag + "-pm";
    snaps_ += " " + pm;
    CmdResult after = Sh(BinDir() + "/ctrsnap snapshot " + id_ + " --tag " + pm + " --no-progress", 300);
    if (snap.rc == 0 && after.rc != 0) {
      EXPECT_NE(after.out.find("nothing to snapshot"), std::string::npos) << after.out;
    } else {
      ASSERT_EQ(after.rc, 0) << after.out;
      CmdResult r = D("run --rm " + pm + " cat /work/a");
      EXPECT_NE(r.out.find("payload-" + std::to_string(delay_ms)), std::string::npos) << r.out;
    }
    (void)RemoveTree(state_root_ + "/" + id_);
    id_.clear();
  }
}

}  // namespace
}  // namespace ctrsnap::testing
