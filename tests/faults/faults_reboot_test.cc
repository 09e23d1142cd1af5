// "Host reboot" under a running ctrsnap container: everything is killed at
// once (the container, runc's state left behind, ctrsnap-fs), no hook runs,
// nothing unmounts cleanly. The retained state must still be
// snapshot-able, and the container can be re-created on it (as `docker
// start` after a reboot does) with every synced write there.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "common/file_util.h"
#include "shim/fs_daemon.h"
#include "tests/faults/fault_util.h"
#include "tests/runtime/harness.h"

namespace ctrsnap::faulttest {
namespace {

using testing::BinDir;
using testing::CmdResult;
using testing::MakeBundle;

CmdResult Shell(const std::string& cmd) { return ctrsnap::testing::Sh(cmd, 120); }

class FaultsRebootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (runc, FUSE mounts)";
    tmp_ = testing::MakeTempDir("reboot");
    state_root_ = tmp_ + "/root";  // what faulttest::Ctrsnap uses as CTRSNAP_ROOT
    runc_root_ = tmp_ + "/runc";
    testing::WriteJson(tmp_ + "/config.json", {{"fs_binary", testing::FsBinary()}});
    ::setenv("CTRSNAP_CONFIG", (tmp_ + "/config.json").c_str(), 1);
    ::setenv("CTRSNAP_ROOT", state_root_.c_str(), 1);
  }
  void TearDown() override {
    if (tmp_.empty()) return;
    Shell("for id in $(runc --root " + runc_root_ + " list -q 2>/dev/null); do " + Wrapper() +
        " delete --force $id; done; grep -o ' " + tmp_ +
        "[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l");
    (void)RemoveTree(tmp_);
  }
  std::string Wrapper() const { return BinDir() + "/ctrsnap-runtime --root " + runc_root_; }
  CmdResult W(const std::string& args) { return Shell(Wrapper() + " " + args); }
  std::string tmp_, state_root_, runc_root_;
};

TEST_F(FaultsRebootTest, KillEverythingThenSnapshotAndRecreate) {
  std::string b = tmp_ + "/b";
  MakeBundle(b, {"sh", "-c",
                 "test -f /kept && echo again >> /kept || echo first > /kept; "
                 "i=0; while [ $i -lt 50 ]; do echo $i > /w$i; i=$((i+1)); done; sync; "
                 "touch /ready; exec sleep 1000"});
  ASSERT_EQ(W("run -d -b " + b + " c-boot").rc, 0);
  bool ready = false;
  for (int i = 0; i < 300 && !ready; ++i) {
    ready = ::access((b + "/rootfs/ready").c_str(), F_OK) == 0;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(ready);
  std::string state = state_root_ + "/c-boot";
  auto fs_pid = shim::LockHolderPid(state);
  ASSERT_TRUE(fs_pid.has_value());
  // The power goes: the container's processes and the daemon die together.
  Shell("kill -9 $(runc --root " + runc_root_ + " state c-boot | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p')");
  ::kill(*fs_pid, SIGKILL);
  for (int i = 0; i < 100 && Alive(*fs_pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(Alive(*fs_pid));
  ::umount2((b + "/rootfs").c_str(), MNT_DETACH);  // what a reboot leaves: no mount

  // The retained state is snapshot-able (sealed offline: no daemon holds it).
  auto s = SnapshotAndUnpack(tmp_, state, 1);
  ASSERT_EQ(s.rc, 0) << s.out;
  EXPECT_EQ(ReadFileToString(s.rootfs + "/kept").value_or(""), "first\n");
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(ReadFileToString(s.rootfs + "/w" + std::to_string(i)).value_or(""),
              std::to_string(i) + "\n")
        << i;
  }
  EXPECT_TRUE(VerifySnapshotStore(state).ok());

  // After the "reboot" the engine deletes its stale container and creates
  // it again on the same bundle: the state resumes.
  W("delete --force c-boot");
  ASSERT_EQ(W("run -d -b " + b + " c-boot").rc, 0);
  bool again = false;
  for (int i = 0; i < 300 && !again; ++i) {
    auto k = ReadFileToString(b + "/rootfs/kept");
    again = k.ok() && *k == "first\nagain\n";
    if (!again) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(again) << ReadFileToString(b + "/rootfs/kept").value_or("<none>");
  ASSERT_EQ(W("delete --force c-boot").rc, 0);
  auto s2 = SnapshotAndUnpack(tmp_, state, 2);
  ASSERT_EQ(s2.rc, 0) << s2.out;
  EXPECT_EQ(ReadFileToString(s2.rootfs + "/kept").value_or(""), "first\nagain\n");
}

}  // namespace
}  // namespace ctrsnap::faulttest
