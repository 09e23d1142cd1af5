// Compaction of exported generations (issue 4): the merge checked against
// kernel overlayfs as the oracle (the tree as of the newest merged seal must
// not change), while a writer runs, and across crashes.
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <thread>

#include "common/control_client.h"
#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "fusefs/core/state_dir.h"
#include "tests/fs/fs_fixture.h"

namespace ctrsnap::fstest {
namespace {

using nlohmann::json;

const std::string kDigest = "sha256:" + std::string(64, 'c');

bool Exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) out.push_back(e->d_name);
  }
  ::closedir(d);
  return out;
}

bool EmptyDir(const std::string& p) { return Exists(p) && Names(p).empty(); }

uint64_t Blocks(const std::string& dir) {
  uint64_t total = 0;
  static thread_local uint64_t* acc;
  acc = &total;
  ::nftw(dir.c_str(), [](const char*, const struct stat* st, int, struct FTW*) {
    *acc += static_cast<uint64_t>(st->st_blocks) * 512;
    return 0;
  }, 64, FTW_PHYS);
  return total;
}

class FsCompactTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(MakeDirs(fs_.L("d")).ok());
    ASSERT_TRUE(MakeDirs(fs_.L("e/sub")).ok());
    ASSERT_TRUE(WriteFile(fs_.L("a"), "lower a").ok());
    ASSERT_TRUE(WriteFile(fs_.L("d/x"), "x").ok());
    ASSERT_TRUE(WriteFile(fs_.L("d/y"), "y").ok());
    ASSERT_TRUE(WriteFile(fs_.L("e/sub/z"), "z").ok());
    ASSERT_TRUE(WriteFile(fs_.L("h1"), std::string(70000, 'h')).ok());
    ASSERT_TRUE(WriteFile(fs_.L("big"), std::string(300000, 'b')).ok());
    ASSERT_TRUE(fs_.Start().ok());
  }

  void Seal() {
    auto r = fs_.Seal();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // Generations 1..4 written through ctrsnap-fs; 5 is live.
  void WriteGenerations() {
    ASSERT_TRUE(WriteFile(fs_.M("o1"), "gen1 file").ok());
    ASSERT_TRUE(MakeDirs(fs_.M("n1")).ok());
    ASSERT_TRUE(WriteFile(fs_.M("n1/f"), "n1f").ok());
    Seal();
    // 2: whiteouts over the lower and over generation 1 (both must stay),
    // a renamed lower directory, a metacopy, a hard link, files superseded later.
    ASSERT_EQ(::unlink(fs_.M("a").c_str()), 0);
    ASSERT_EQ(::unlink(fs_.M("o1").c_str()), 0);
    ASSERT_TRUE(WriteFile(fs_.M("t2"), "temporary").ok());
    ASSERT_TRUE(WriteFile(fs_.M("super"), std::string(400000, '2')).ok());
    ASSERT_TRUE(WriteFile(fs_.M("w2"), "w2").ok());
    ASSERT_EQ(::link(fs_.M("w2").c_str(), fs_.M("w2link").c_str()), 0);
    ASSERT_EQ(::rename(fs_.M("d").c_str(), fs_.M("d2").c_str()), 0);
    ASSERT_EQ(::chmod(fs_.M("h1").c_str(), 0600), 0);
    ASSERT_TRUE(MakeDirs(fs_.M("n2")).ok());
    ASSERT_TRUE(WriteFile(fs_.M("n2/old"), "old").ok());
    ASSERT_TRUE(WriteFile(fs_.M("n1/g2"), "g2").ok());
    Seal();
    // 3: a whiteout over generation 2 only (dropped), a replaced directory
    // (opaque), data written after a metacopy, a removed lower tree.
    ASSERT_EQ(::unlink(fs_.M("t2").c_str()), 0);
    ASSERT_TRUE(WriteFile(fs_.M("super"), std::string(400000, '3')).ok());
    ASSERT_EQ(::unlink(fs_.M("n2/old").c_str()), 0);
    ASSERT_EQ(::rmdir(fs_.M("n2").c_str()), 0);
    ASSERT_TRUE(MakeDirs(fs_.M("n2")).ok());
    ASSERT_TRUE(WriteFile(fs_.M("n2/new"), "new").ok());
    {
      int fd = ::open(fs_.M("h1").c_str(), O_WRONLY | O_APPEND);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::write(fd, "+", 1), 1);
      ::close(fd);
    }
    ASSERT_EQ(Sh("rm -rf " + fs_.M("e")), 0);
    Seal();
    // 4: the renamed directory renamed again, a metacopy over the lower.
    ASSERT_EQ(::rename(fs_.M("d2").c_str(), fs_.M("d3").c_str()), 0);
    ASSERT_TRUE(WriteFile(fs_.M("d3/y"), "y changed").ok());
    ASSERT_EQ(::chmod(fs_.M("big").c_str(), 0700), 0);
    ASSERT_TRUE(WriteFile(fs_.M("n1/f"), "n1f changed").ok());  // over generation 1
    Seal();
  }

  // Marks GENS exported in fs.json (daemon stopped).
  void MarkOffline(std::vector<uint64_t> gens) {
    auto m = FsMeta::Load(fs_.state());
    ASSERT_TRUE(m.ok());
    for (auto g : gens) m->generations[g - 1].exported_in = kDigest;
    ASSERT_TRUE(m->Save(fs_.state()).ok());
  }

  std::string Oracle(uint64_t gen) {
    auto o = fs_.MountOracle(gen);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    // Without st_nlink: the overlay reports a lower file's link count as its
    // layer has it, and the merge drops names that newer generations
    // superseded (a name rewritten later leaves its hard link alone with it).
    return o.ok() ? DescribeTree(*o, false) : "";
  }

  std::vector<std::string> Leftovers() {
    std::vector<std::string> out;
    for (const auto& n : Names(layout::GenerationsDir(fs_.state()))) {
      if (n.find('.') != std::string::npos) out.push_back(n);
    }
    return out;
  }

  MountedFs fs_;
};

TEST_F(FsCompactTest, MergeKeepsTheTreeAndFreesSupersededCopies) {
  WriteGenerations();
  ASSERT_TRUE(fs_.Stop().ok());
  MarkOffline({2, 3, 4});
  const std::string before = Oracle(4);
  const uint64_t bytes_before = Blocks(layout::GenerationsDir(fs_.state()));

  std::vector<fs::CompactRun> done;
  {
    auto dir = fs::StateDir::Open(fs_.state(), {}, 1);
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    auto runs = dir->CompactOffline(std::nullopt);
    ASSERT_TRUE(runs.ok()) << runs.status().ToString();
    done = *runs;
  }  // releases the state lock
  ASSERT_EQ(done.size(), 1u);
  const fs::CompactRun& run = done[0];
  EXPECT_EQ(run.from, 2u);
  EXPECT_EQ(run.into, 4u);
  EXPECT_GE(run.stats.whiteouts_kept, 3u);     // a, o1, e
  EXPECT_GE(run.stats.whiteouts_dropped, 1u);  // t2
  auto meta = FsMeta::Load(fs_.state());
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->generations[1].compacted_into, 4u);
  EXPECT_EQ(meta->generations[2].compacted_into, 4u);
  EXPECT_EQ(meta->generations[3].compacted_from, 2u);
  EXPECT_TRUE(EmptyDir(fs_.Upper(2)));
  EXPECT_TRUE(EmptyDir(fs_.Upper(3)));
  EXPECT_TRUE(Leftovers().empty());
  // Generation 2's copy of "super" (400 kB) is gone.
  EXPECT_LT(Blocks(layout::GenerationsDir(fs_.state())) + 300000, bytes_before);

  // The kernel's overlay of every generation directory shows the same tree,
  // and ctrsnap-fs, which leaves the empty ones out, too.
  EXPECT_EQ(Oracle(4), before);
  ASSERT_TRUE(fs_.Start().ok());
  auto oracle = fs_.MountOracle(4);
  ASSERT_TRUE(oracle.ok());
  EXPECT_EQ(DescribeTree(fs_.mnt(), false), DescribeTree(*oracle, false));
  EXPECT_EQ(ReadFile(fs_.M("super")), std::string(400000, '3'));
  EXPECT_EQ(ReadFile(fs_.M("h1")), std::string(70000, 'h') + "+");
  EXPECT_EQ(ReadFile(fs_.M("d3/x")), "x");
  EXPECT_FALSE(Exists(fs_.M("a")));
}

TEST_F(FsCompactTest, NothingToCompactWithoutTwoExportedGenerations) {
  WriteGenerations();
  ASSERT_TRUE(fs_.Stop().ok());
  MarkOffline({2, 4});  // 3 in between is not exported
  auto dir = fs::StateDir::Open(fs_.state(), {}, 1);
  ASSERT_TRUE(dir.ok());
  auto runs = dir->CompactOffline(std::nullopt);
  ASSERT_TRUE(runs.ok());
  EXPECT_TRUE(runs->empty());
  EXPECT_FALSE(EmptyDir(fs_.Upper(2)));
}

TEST_F(FsCompactTest, CrashAfterPublishIsCompletedAtRestartAndBeforeItIsUndone) {
  WriteGenerations();
  ASSERT_TRUE(fs_.Stop().ok());
  MarkOffline({1, 2});
  const std::string before2 = Oracle(2);
  {
    // Built, not published: a crash here leaves fs.json as it was.
    auto dir = fs::StateDir::Open(fs_.state(), {}, 1);
    ASSERT_TRUE(dir.ok());
    auto runs = dir->PlanCompaction(std::nullopt);
    ASSERT_EQ(runs.size(), 1u);
    ASSERT_TRUE(dir->BuildCompaction(&runs).ok());
    EXPECT_TRUE(Exists(layout::CompactBuildDir(fs_.state(), 2)));
  }
  {
    auto dir = fs::StateDir::Open(fs_.state(), {}, 1);
    ASSERT_TRUE(dir.ok());
    EXPECT_TRUE(Leftovers().empty());
    EXPECT_EQ(dir->meta().generations[1].compacted_from, 0u);
    EXPECT_EQ(Oracle(2), before2);
    // Published, not swapped: the restart finishes the swap.
    auto runs = dir->PlanCompaction(std::nullopt);
    ASSERT_TRUE(dir->BuildCompaction(&runs).ok());
    ASSERT_TRUE(dir->CommitCompaction(runs).ok());
  }
  auto dir = fs::StateDir::Open(fs_.state(), {}, 1);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(dir->meta().generations[1].compacted_from, 1u);
  EXPECT_TRUE(EmptyDir(fs_.Upper(1)));
  EXPECT_TRUE(Leftovers().empty());
  EXPECT_EQ(Oracle(2), before2);
}

TEST_F(FsCompactTest, CompactWhileAWriterRunsThroughTheDaemon) {
  WriteGenerations();
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      if (!WriteFile(fs_.M("live" + std::to_string(i % 200)), "v" + std::to_string(i)).ok()) break;
      written = i + 1;
    }
  });
  auto marked = ControlCall(fs_.state(), {{"op", "mark_exported"},
                                          {"generations", json::array({2, 3, 4})},
                                          {"digest", kDigest}});
  ASSERT_TRUE(marked.ok()) << marked.status().ToString();
  EXPECT_EQ((*marked)["marked"], json::array({2, 3, 4}));
  auto st = FsMeta::Load(fs_.state());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->generations[2].exported_in, kDigest);  // recorded by the daemon
  // Not sealed (live) or unknown generations are refused.
  EXPECT_FALSE(ControlCall(fs_.state(), {{"op", "mark_exported"},
                                         {"generations", json::array({5})},
                                         {"digest", kDigest}}).ok());

  auto r = ControlCall(fs_.state(), {{"op", "compact"}}, 120000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ((*r)["compacted"].size(), 1u);
  EXPECT_EQ((*r)["compacted"][0]["into"], 4);
  EXPECT_EQ((*r)["sealed"], 5);
  // Again: nothing left to compact (5 is not exported).
  auto again = ControlCall(fs_.state(), {{"op", "compact"}});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)["compacted"].empty());
  stop = true;
  writer.join();
  EXPECT_GT(written.load(), 0);
  Seal();
  auto meta = FsMeta::Load(fs_.state());
  ASSERT_TRUE(meta.ok());
  const uint64_t last = meta->live().id - 1;
  auto oracle = fs_.MountOracle(last);
  ASSERT_TRUE(oracle.ok());
  EXPECT_EQ(DescribeTree(fs_.mnt(), false), DescribeTree(*oracle, false));
  EXPECT_EQ(ReadFile(fs_.M("super")), std::string(400000, '3'));
  EXPECT_TRUE(EmptyDir(fs_.Upper(3)));
  EXPECT_TRUE(Leftovers().empty());
}

TEST_F(FsCompactTest, KillDuringCompactionsRecoversEveryFsyncedWrite) {
  std::atomic<bool> stop{false};
  std::atomic<int> compactions{0};
  std::thread compactor([&] {
    while (!stop) {
      auto s = fs_.Seal();
      if (!s.ok()) continue;
      const uint64_t sealed = (*s)["sealed"].get<uint64_t>();
      json gens = json::array();
      for (uint64_t g = 1; g <= sealed; ++g) gens.push_back(g);
      if (!ControlCall(fs_.state(), {{"op", "mark_exported"},
                                     {"generations", gens},
                                     {"digest", kDigest}}).ok()) continue;
      auto c = ControlCall(fs_.state(), {{"op", "compact"}});
      if (c.ok() && !(*c)["compacted"].empty()) ++compactions;
    }
  });
  int synced = 0;
  for (int i = 0; i < 400; ++i) {
    std::string p = fs_.M("f" + std::to_string(i % 50));
    int fd = ::open(p.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) break;
    std::string data = "data" + std::to_string(i);
    bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
              ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) break;
    synced = i + 1;
    if (i >= 200 && compactions.load() > 0) fs_.Kill();  // mid-writes, mid-compactions
    if (fs_.pid() < 0) break;
  }
  stop = true;
  compactor.join();
  ASSERT_GT(compactions.load(), 0);
  ASSERT_TRUE(fs_.Start().ok());
  for (int i = std::max(0, synced - 50); i < synced; ++i) {
    EXPECT_EQ(ReadFile(fs_.M("f" + std::to_string(i % 50))), "data" + std::to_string(i)) << i;
  }
  auto meta = FsMeta::Load(fs_.state());
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_TRUE(Leftovers().empty());
  Seal();
  auto oracle = fs_.MountOracle(meta->live().id);
  ASSERT_TRUE(oracle.ok());
  EXPECT_EQ(DescribeTree(fs_.mnt(), false), DescribeTree(*oracle, false));
}

}  // namespace
}  // namespace ctrsnap::fstest
