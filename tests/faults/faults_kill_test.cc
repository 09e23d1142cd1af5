// kill -9 at random points: of ctrsnap-fs while it writes and seals, of
// `ctrsnap snapshot` while it exports, and of ctrsnap-fs under a running
// export. Afterwards: every fsynced byte is there, the snapshot store holds
// only complete snapshots, and a rerun (after a restart) works. Two
// snapshots of one container at once are serialized or refused.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include "common/control_client.h"
#include "common/file_util.h"
#include "common/fs_meta.h"
#include "tests/faults/fault_util.h"
#include "tests/fs/fs_fixture.h"

namespace ctrsnap::faulttest {
namespace {

using fstest::MountedFs;
using fstest::ReadFile;
using fstest::WriteFile;

// Starts `ctrsnap snapshot --state STATE -o OUT` as a child; its output goes to LOG.
pid_t StartSnapshot(const std::string& dir, const std::string& state, const std::string& out,
                    const std::string& log) {
  const char* bin = std::getenv("CTRSNAP_BIN_DIR");
  std::string exe = std::string(bin ? bin : "build/bin") + "/ctrsnap";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("CTRSNAP_ROOT", (dir + "/root").c_str(), 1);
    ::setenv("CTRSNAP_CONFIG", (dir + "/no-config.json").c_str(), 1);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execl(exe.c_str(), exe.c_str(), "snapshot", "--state", state.c_str(), "-o", out.c_str(),
            "--no-progress", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

class FaultsKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(MakeDirs(fs_.L("etc")).ok());
    ASSERT_TRUE(WriteFile(fs_.L("etc/passwd"), "root:x:0:0\n").ok());
    ASSERT_TRUE(fs_.Start().ok());
    // A 24 MB file makes an export take long enough to be killed inside.
    ASSERT_EQ(fstest::Sh("head -c 24000000 /dev/urandom > " + fs_.M("big.bin")), 0);
    big_ = ReadFile(fs_.M("big.bin"));
    ASSERT_EQ(big_.size(), 24000000u);
  }
  MountedFs fs_;
  std::string big_;
  std::mt19937 rng_{std::random_device{}()};
};

TEST_F(FaultsKillTest, KillDaemonDuringSealsThenRestartKeepsEverythingFsynced) {
  int written = 0;
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 20; ++i, ++written) {
      std::string p = fs_.M("r" + std::to_string(written));
      int fd = ::open(p.c_str(), O_CREAT | O_WRONLY, 0644);
      ASSERT_GE(fd, 0) << p;
      std::string data = "data" + std::to_string(written);
      ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
      ASSERT_EQ(::fsync(fd), 0);
      ::close(fd);
    }
    // A seal in flight, and kill -9 after a random delay (0..20 ms): before,
    // during or after the seal.
    std::thread sealer([&] { (void)fs_.Seal(); });
    std::this_thread::sleep_for(std::chrono::microseconds(rng_() % 20000));
    fs_.Kill();
    sealer.join();
    ASSERT_TRUE(fs_.Start().ok()) << "restart after kill in round " << round;
    auto meta = FsMeta::Load(fs_.state());
    ASSERT_TRUE(meta.ok()) << meta.status().ToString();
    for (int i = 0; i < written; ++i) {
      ASSERT_EQ(ReadFile(fs_.M("r" + std::to_string(i))), "data" + std::to_string(i)) << i;
    }
  }
  // Recovered state seals and snapshots; the image holds every file.
  ASSERT_TRUE(fs_.Seal().ok());
  auto s = SnapshotAndUnpack(fs_.dir(), fs_.state(), 1);
  ASSERT_EQ(s.rc, 0) << s.out;
  for (int i = 0; i < written; ++i) {
    EXPECT_EQ(ReadFile(s.rootfs + "/r" + std::to_string(i)), "data" + std::to_string(i)) << i;
  }
  EXPECT_EQ(ReadFile(s.rootfs + "/big.bin"), big_);
  EXPECT_TRUE(VerifySnapshotStore(fs_.state()).ok());
}

TEST_F(FaultsKillTest, SnapshotKilledAtRandomPointsLeavesNoHalfSnapshot) {
  int completed = 0;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(WriteFile(fs_.M("k" + std::to_string(i)), "k" + std::to_string(i)).ok());
    std::string log = fs_.dir() + "/snap-" + std::to_string(i) + ".log";
    pid_t pid = StartSnapshot(fs_.dir(), fs_.state(), fs_.dir() + "/out-" + std::to_string(i), log);
    ASSERT_GT(pid, 0);
    // 0..1.5 s: from before the seal to (on this machine) after the layer.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % 1500));
    ::kill(pid, SIGKILL);
    int rc = Wait(pid);
    if (rc == 0) ++completed;
    ASSERT_TRUE(rc == 0 || rc == 128 + SIGKILL) << "rc " << rc << ": " << ReadFile(log);
    Status v = VerifySnapshotStore(fs_.state());
    ASSERT_TRUE(v.ok()) << "after kill " << i << ": " << v.ToString();
    ASSERT_TRUE(Alive(fs_.pid()));
  }
  std::cerr << "[ info ] " << completed << " of 8 killed snapshots had completed\n";
  // A rerun exports whatever the killed ones sealed and did not record.
  ASSERT_TRUE(WriteFile(fs_.M("last"), "last").ok());
  auto s = SnapshotAndUnpack(fs_.dir(), fs_.state(), 100);
  ASSERT_EQ(s.rc, 0) << s.out;
  EXPECT_EQ(ReadFile(s.rootfs + "/big.bin"), big_);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(ReadFile(s.rootfs + "/k" + std::to_string(i)), "k" + std::to_string(i)) << i;
  }
  EXPECT_EQ(ReadFile(s.rootfs + "/last"), "last");
  EXPECT_TRUE(VerifySnapshotStore(fs_.state()).ok());
}

TEST_F(FaultsKillTest, DaemonKilledDuringExportThenRestartAndRerunWork) {
  std::string log = fs_.dir() + "/snap.log";
  pid_t pid = StartSnapshot(fs_.dir(), fs_.state(), fs_.dir() + "/out-a", log);
  std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng_() % 600));
  fs_.Kill();
  int rc = Wait(pid);
  // Either the export finished (it reads sealed generations, not the mount)
  // or it failed with a message; it never hangs nor leaves half a snapshot.
  if (rc != 0) {
    EXPECT_FALSE(ReadFile(log).empty());
  }
  ASSERT_TRUE(VerifySnapshotStore(fs_.state()).ok());
  ASSERT_TRUE(fs_.Start().ok());
  EXPECT_EQ(ReadFile(fs_.M("big.bin")), big_);
  ASSERT_TRUE(WriteFile(fs_.M("after"), "after").ok());
  auto s = SnapshotAndUnpack(fs_.dir(), fs_.state(), 1);
  ASSERT_EQ(s.rc, 0) << s.out;
  EXPECT_EQ(ReadFile(s.rootfs + "/big.bin"), big_);
  EXPECT_EQ(ReadFile(s.rootfs + "/after"), "after");
  EXPECT_TRUE(VerifySnapshotStore(fs_.state()).ok());
}

TEST_F(FaultsKillTest, TwoSnapshotsAtOnceAreSerializedOrRefused) {
  int ok = 0, busy = 0;
  for (int round = 0; round < 4; ++round) {
    ASSERT_TRUE(WriteFile(fs_.M("c" + std::to_string(round)), "c").ok());
    std::string base = fs_.dir() + "/two-" + std::to_string(round);
    pid_t a = StartSnapshot(fs_.dir(), fs_.state(), base + "-a", base + "-a.log");
    pid_t b = StartSnapshot(fs_.dir(), fs_.state(), base + "-b", base + "-b.log");
    for (auto [pid, name] : {std::pair{a, "-a"}, std::pair{b, "-b"}}) {
      int rc = Wait(pid);
      std::string out = ReadFile(base + name + ".log");
      if (rc == 0) {
        ++ok;
      } else {
        // The loser is told why: busy, or nothing left after the winner.
        EXPECT_TRUE(out.find("in progress") != std::string::npos ||
                    out.find("nothing to snapshot") != std::string::npos)
            << "rc " << rc << ": " << out;
        ++busy;
      }
    }
    Status v = VerifySnapshotStore(fs_.state());
    ASSERT_TRUE(v.ok()) << v.ToString();
  }
  EXPECT_GE(ok, 4);  // at least one per round
  std::cerr << "[ info ] concurrent snapshots: " << ok << " completed, " << busy
            << " refused\n";
  ASSERT_TRUE(WriteFile(fs_.M("end"), "end").ok());
  auto s = SnapshotAndUnpack(fs_.dir(), fs_.state(), 1);
  ASSERT_EQ(s.rc, 0) << s.out;
  for (int round = 0; round < 4; ++round) {
    EXPECT_EQ(ReadFile(s.rootfs + "/c" + std::to_string(round)), "c");
  }
}

}  // namespace
}  // namespace ctrsnap::faulttest
