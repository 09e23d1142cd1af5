// End-to-end test of `ctrsnap diff` with the built binary, on a state
// directory whose generations were written by real kernel overlay mounts
// (as ctrsnap-fs's generations are) and whose journal names the writers.
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "fusefs/journal/change_journal.h"
#include "layers/cli/cli_test_util.h"

namespace ctrsnap::cli {
namespace {

using nlohmann::json;
using testing::Lines;
using testing::RunCtrsnap;

void Write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

class CliDiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::getuid() != 0) GTEST_SKIP() << "needs root to mount overlayfs";
    std::string tmpl = ::testing::TempDir() + "clidiff.XXXXXX";
    root_ = ::mkdtemp(tmpl.data());
    state_ = root_ + "/state";
    lower_ = root_ + "/lower";
    merged_ = root_ + "/merged";
    ASSERT_TRUE(MakeDirs(lower_ + "/etc").ok());
    ASSERT_TRUE(MakeDirs(lower_ + "/usr/lib").ok());
    ASSERT_TRUE(MakeDirs(merged_).ok());
    Write(lower_ + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    Write(lower_ + "/etc/motd", "hi\n");
    Write(lower_ + "/usr/lib/libfoo.so", std::string(5000, 'l'));
    meta_.lowerdirs = {lower_};
  }
  void TearDown() override {
    Unmount();
    if (!root_.empty()) (void)RemoveTree(root_);
  }
  // Opens generation GEN (sealing the previous one in fs.json) and mounts it.
  void OpenGeneration(uint64_t gen, const std::string& prev_label = "") {
    if (gen > 1) {
      meta_.generations.back().sealed = true;
      meta_.generations.back().label = prev_label;
    }
    meta_.generations.push_back(GenerationMeta{gen, "", false, 1, 0, ""});
    ASSERT_TRUE(MakeDirs(layout::UpperDir(state_, gen)).ok());
    ASSERT_TRUE(MakeDirs(layout::WorkDir(state_, gen)).ok());
    ASSERT_TRUE(meta_.Save(state_).ok());
    std::string lowers;
    for (uint64_t g = gen - 1; g >= 1; --g) lowers += layout::UpperDir(state_, g) + ":";
    lowers += lower_;
    std::string opts = "lowerdir=" + lowers + ",upperdir=" + layout::UpperDir(state_, gen) +
                       ",workdir=" + layout::WorkDir(state_, gen);
    ASSERT_EQ(::mount("overlay", merged_.c_str(), "overlay", 0, opts.c_str()), 0)
        << std::strerror(errno);
    mounted_ = true;
  }
  void Unmount() {
    if (mounted_ && ::umount2(merged_.c_str(), 0) != 0) ::umount2(merged_.c_str(), MNT_DETACH);
    mounted_ = false;
  }
  static JournalEntry E(JournalOp op, std::string path, int32_t pid, std::string comm,
                        uint64_t len = 0) {
    JournalEntry e;
    e.op = op;
    e.path = std::move(path);
    e.pid = pid;
    e.comm = std::move(comm);
    e.length = len;
    return e;
  }

  std::string root_, state_, lower_, merged_;
  FsMeta meta_;
  bool mounted_ = false;
};

TEST_F(CliDiffTest, LiveSealedAndSinceSnapshot) {
  auto journal = ChangeJournal::Open(state_, 1);
  ASSERT_TRUE(journal.ok());
  auto& j = *journal;

  // gen 1 = setup: runtime stubs.
  OpenGeneration(1);
  Write(merged_ + "/etc/resolv.conf", "nameserver 10.0.0.1\n");
  j->Record(E(JournalOp::kCreate, "/etc/resolv.conf", 11, "runc"));
  Unmount();

  // gen 2: the workload installs a library and edits passwd.
  OpenGeneration(2, "setup");
  ASSERT_TRUE(j->Rotate(2).ok());
  Write(merged_ + "/usr/lib/libbar.so", std::string(3000, 'b'));
  j->Record(E(JournalOp::kCreate, "/usr/lib/libbar.so", 500, "pip"));
  j->Record(E(JournalOp::kWrite, "/usr/lib/libbar.so", 500, "pip", 3000));
  { std::ofstream(merged_ + "/etc/passwd", std::ios::app) << "app:x:1000:1000::/:/bin/sh\n"; }
  j->Record(E(JournalOp::kWrite, "/etc/passwd", 600, "useradd", 27));
  Unmount();

  // gen 3 (live): deletes motd, removes the library again, adds a file.
  OpenGeneration(3, "nightly");
  ASSERT_TRUE(j->Rotate(3).ok());
  ASSERT_EQ(::unlink((merged_ + "/etc/motd").c_str()), 0);
  j->Record(E(JournalOp::kUnlink, "/etc/motd", 700, "rm"));
  ASSERT_EQ(::unlink((merged_ + "/usr/lib/libbar.so").c_str()), 0);
  Write(merged_ + "/data.csv", "a,b\n");
  j->Record(E(JournalOp::kCreate, "/data.csv", 800, "python3"));
  Unmount();
  ASSERT_TRUE(j->Flush().ok());

  // Default: the live generation.
  auto live = RunCtrsnap({"diff", "--state", state_});
  ASSERT_EQ(live.exit_code, 0) << live.err;
  auto l = Lines(live.out);
  ASSERT_EQ(l.size(), 6u) << live.out;
  EXPECT_EQ(l[0].substr(0, 11), "A /data.csv");
  EXPECT_NE(l[0].find("4 B"), std::string::npos) << l[0];
  EXPECT_NE(l[0].find("python3[800]"), std::string::npos) << l[0];
  EXPECT_EQ(l[1].substr(0, 6), "C /etc");
  EXPECT_EQ(l[2].substr(0, 12), "D /etc/motd ");
  EXPECT_NE(l[2].find("rm[700]"), std::string::npos);
  EXPECT_EQ(l[3].substr(0, 6), "C /usr");
  EXPECT_EQ(l[4].substr(0, 10), "C /usr/lib");
  EXPECT_EQ(l[5].substr(0, 20), "D /usr/lib/libbar.so");  // it exists in gen 2

  // A sealed generation, as JSON, with its writers.
  auto g2 = RunCtrsnap({"diff", "--state", state_, "--gen", "2", "--json"});
  ASSERT_EQ(g2.exit_code, 0) << g2.err;
  json d = json::parse(g2.out);
  EXPECT_EQ(d["from_generation"], 2);
  std::map<std::string, json> by_path;
  for (const auto& c : d["changes"]) by_path[c["path"].get<std::string>()] = c;
  ASSERT_TRUE(by_path.count("/usr/lib/libbar.so"));
  EXPECT_EQ(by_path["/usr/lib/libbar.so"]["kind"], "A");
  EXPECT_EQ(by_path["/usr/lib/libbar.so"]["size"], 3000);
  EXPECT_EQ(by_path["/usr/lib/libbar.so"]["writers"][0]["comm"], "pip");
  EXPECT_EQ(by_path["/usr/lib/libbar.so"]["writers"][0]["ops"], 2);
  EXPECT_EQ(by_path["/usr/lib/libbar.so"]["writers"][0]["bytes_written"], 3000);
  EXPECT_EQ(by_path["/etc/passwd"]["kind"], "C");
  EXPECT_EQ(by_path["/etc/passwd"]["writers"][0]["comm"], "useradd");
  EXPECT_FALSE(by_path.count("/etc/resolv.conf"));  // gen 1's

  // Since the last snapshot: nothing exported yet, so gens 2..3 (setup left
  // out); libbar.so came and went, so it is not listed.
  auto since = RunCtrsnap({"diff", "--state", state_, "--since-snapshot", "--json"});
  ASSERT_EQ(since.exit_code, 0) << since.err;
  json s = json::parse(since.out);
  EXPECT_EQ(s["from_generation"], 2);
  EXPECT_EQ(s["to_generation"], 3);
  std::string kinds;
  for (const auto& c : s["changes"]) {
    kinds += c["kind"].get<std::string>() + " " + c["path"].get<std::string>() + "\n";
  }
  EXPECT_EQ(kinds, "A /data.csv\nC /etc\nD /etc/motd\nC /etc/passwd\nC /usr\nC /usr/lib\n");

  // After gen 2 was exported, "since snapshot" is gen 3 alone.
  meta_.generations[1].exported_in = "sha256:abc";
  ASSERT_TRUE(meta_.Save(state_).ok());
  auto after = RunCtrsnap({"diff", "--state", state_, "--since-snapshot", "--json"});
  ASSERT_EQ(after.exit_code, 0);
  EXPECT_EQ(json::parse(after.out)["from_generation"], 3);

  // Usage errors and bad input.
  EXPECT_EQ(RunCtrsnap({"diff", "--state", state_, "--gen", "9"}).exit_code, 1);
  EXPECT_EQ(RunCtrsnap({"diff", "--state", state_, "--gen", "2", "--since-snapshot"}).exit_code, 2);
  EXPECT_EQ(RunCtrsnap({"diff", "--state", root_ + "/nope"}).exit_code, 1);
}

}  // namespace
}  // namespace ctrsnap::cli
