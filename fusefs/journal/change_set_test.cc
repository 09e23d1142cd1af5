// ComputeChangeSet against generation dirs written by the kernel's overlayfs:
// the test mounts a real overlay with its upper in a temp dir, makes changes
// through it, unmounts, and diffs the upper.
#include "fusefs/journal/change_set.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "common/file_util.h"

namespace ctrsnap {
namespace {

void Write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

class ChangeSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::getuid() != 0) GTEST_SKIP() << "needs root to mount overlayfs";
    std::string tmpl = ::testing::TempDir() + "change_set.XXXXXX";
    dir_ = ::mkdtemp(tmpl.data());
    lower_ = dir_ + "/lower";
    for (const char* d : {"/lower/etc", "/lower/usr/bin", "/lower/var/lib/old", "/lower/data",
                          "/g1/upper", "/g1/work", "/g2/upper", "/g2/work", "/merged"}) {
      ASSERT_TRUE(MakeDirs(dir_ + d).ok());
    }
    Write(lower_ + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    Write(lower_ + "/etc/hosts", "127.0.0.1 localhost\n");
    Write(lower_ + "/usr/bin/tool", std::string(10000, 'x'));
    ::chmod((lower_ + "/usr/bin/tool").c_str(), 0755);
    Write(lower_ + "/var/lib/old/a", "a");
    Write(lower_ + "/var/lib/old/b", "b");
    Write(lower_ + "/data/keep", "keep");
  }
  void TearDown() override {
    Unmount();
    if (!dir_.empty()) (void)RemoveTree(dir_);
  }

  // Mounts generation GEN over the older ones; true when it worked.
  bool Mount(int gen) {
    std::string lowers;
    for (int g = gen - 1; g >= 1; --g) lowers += dir_ + "/g" + std::to_string(g) + "/upper:";
    lowers += lower_;
    std::string base = "lowerdir=" + lowers + ",upperdir=" + dir_ + "/g" + std::to_string(gen) +
                       "/upper,workdir=" + dir_ + "/g" + std::to_string(gen) + "/work";
    merged_ = dir_ + "/merged";
    metacopy_ = true;
    if (::mount("overlay", merged_.c_str(), "overlay", 0,
                (base + ",redirect_dir=on,metacopy=on").c_str()) == 0) {
      return mounted_ = true;
    }
    metacopy_ = false;
    if (::mount("overlay", merged_.c_str(), "overlay", 0, base.c_str()) == 0) {
      return mounted_ = true;
    }
    return false;
  }
  void Unmount() {
    if (mounted_) ::umount2(merged_.c_str(), 0) == 0 || ::umount2(merged_.c_str(), MNT_DETACH);
    mounted_ = false;
  }
  std::map<std::string, Change> Diff(std::vector<int> gens, std::vector<int> below_gens) {
    DiffInput in;
    for (int g : gens) in.uppers.push_back({g, dir_ + "/g" + std::to_string(g) + "/upper"});
    for (int g : below_gens) in.below.push_back(dir_ + "/g" + std::to_string(g) + "/upper");
    in.below.push_back(lower_);
    Result<std::vector<Change>> r = ComputeChangeSet(in);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::map<std::string, Change> m;
    if (r.ok()) {
      for (auto& c : *r) m[c.path] = c;
    }
    return m;
  }
  static std::string Kinds(const std::map<std::string, Change>& m) {
    std::string s;
    for (const auto& [p, c] : m) s += std::string(1, ChangeKindMarker(c.kind)) + " " + p + "\n";
    return s;
  }

  std::string dir_, lower_, merged_;
  bool mounted_ = false;
  bool metacopy_ = false;
};

TEST_F(ChangeSetTest, OneGenerationLikeDockerDiff) {
  ASSERT_TRUE(Mount(1)) << "overlay mount failed: " << std::strerror(errno);
  const std::string m = merged_;
  {
    std::ofstream(m + "/etc/passwd", std::ios::app) << "app:x:1000:1000::/home/app:/bin/sh\n";
  }
  Write(m + "/etc/new.conf", "hello");
  ASSERT_EQ(::unlink((m + "/etc/hosts").c_str()), 0);
  ASSERT_TRUE(MakeDirs(m + "/opt/app").ok());
  Write(m + "/opt/app/f", std::string(1234, 'f'));
  ASSERT_EQ(Sh("rm -rf '" + m + "/var/lib/old' && mkdir '" + m + "/var/lib/old' && echo c > '" +
                m + "/var/lib/old/c'"),
            0);
  ASSERT_EQ(::rename((m + "/data").c_str(), (m + "/data2").c_str()), 0);
  ASSERT_EQ(::chmod((m + "/usr/bin/tool").c_str(), 0700), 0);
  // A symlink to the host's root: must be listed, never followed.
  ASSERT_EQ(::symlink("/", (m + "/evil").c_str()), 0);
  ASSERT_EQ(::mkfifo((m + "/etc/fifo").c_str(), 0600), 0);
  Unmount();

  auto d = Diff({1}, {});
  EXPECT_EQ(Kinds(d),
            "D /data\n"
            "A /data2\n"
            "C /etc\n"
            "A /etc/fifo\n"
            "D /etc/hosts\n"
            "A /etc/new.conf\n"
            "C /etc/passwd\n"
            "A /evil\n"
            "A /opt\n"
            "A /opt/app\n"
            "A /opt/app/f\n"
            "C /usr\n"
            "C /usr/bin\n"
            "C /usr/bin/tool\n"
            "C /var\n"
            "C /var/lib\n"
            "C /var/lib/old\n"
            "A /var/lib/old/c\n");
  EXPECT_EQ(d["/etc/passwd"].size, 61u);
  EXPECT_EQ(d["/etc/passwd"].type, 'f');
  EXPECT_EQ(d["/opt/app/f"].size, 1234u);
  EXPECT_EQ(d["/opt/app"].type, 'd');
  EXPECT_EQ(d["/evil"].type, 'l');
  EXPECT_EQ(d["/etc/fifo"].type, 'p');
  EXPECT_EQ(d["/etc/hosts"].type, '-');
  EXPECT_TRUE(d["/var/lib/old"].opaque);
  EXPECT_FALSE(d["/etc"].opaque);
  EXPECT_EQ(d["/usr/bin/tool"].mode & 07777, 0700u);
  EXPECT_EQ(d["/usr/bin/tool"].size, 10000u);  // size as seen, even when only metadata was copied
  if (metacopy_) {
    EXPECT_TRUE(d["/usr/bin/tool"].metacopy);
    EXPECT_EQ(d["/data2"].redirect, "data");
  }
  EXPECT_FALSE(d["/etc/passwd"].metacopy);

  // Lookups through the stack honour whiteouts and opaque directories.
  std::vector<std::string> layers = {dir_ + "/g1/upper", lower_};
  EXPECT_TRUE(*ExistsInLayers(layers, "/etc/passwd"));
  EXPECT_FALSE(*ExistsInLayers(layers, "/etc/hosts"));
  EXPECT_TRUE(*ExistsInLayers({lower_}, "/etc/hosts"));
  EXPECT_FALSE(*ExistsInLayers(layers, "/var/lib/old/a"));
  EXPECT_TRUE(*ExistsInLayers(layers, "/var/lib/old/c"));
  EXPECT_FALSE(*ExistsInLayers(layers, "/nonexistent/x"));
  EXPECT_FALSE(*ExistsInLayers(layers, "/evil/etc"));  // not through the symlink
  EXPECT_FALSE(*ExistsInLayers(layers, "/etc/passwd/x"));
}

TEST_F(ChangeSetTest, LaterGenerationsAndRanges) {
  ASSERT_TRUE(Mount(1));
  Write(merged_ + "/etc/new.conf", "hello");
  ASSERT_TRUE(MakeDirs(merged_ + "/opt/app").ok());
  Write(merged_ + "/opt/app/f", "v1");
  Write(merged_ + "/etc/gone-later", "x");
  Unmount();
  ASSERT_TRUE(Mount(2));
  ASSERT_EQ(::unlink((merged_ + "/etc/new.conf").c_str()), 0);
  Write(merged_ + "/opt/app/f", "version two");
  ASSERT_EQ(::unlink((merged_ + "/etc/passwd").c_str()), 0);
  Write(merged_ + "/etc/added2", "2");
  ASSERT_EQ(Sh("rm -rf '" + merged_ + "/opt' && mkdir -p '" + merged_ + "/opt/app2'"), 0);
  Unmount();

  // Generation 2 alone, against generation 1 and the lower.
  auto g2 = Diff({2}, {1});
  EXPECT_EQ(Kinds(g2),
            "C /etc\n"
            "A /etc/added2\n"
            "D /etc/new.conf\n"
            "D /etc/passwd\n"
            "C /opt\n"
            "A /opt/app2\n");
  EXPECT_TRUE(g2["/opt"].opaque);
  EXPECT_EQ(g2["/etc/added2"].generation, 2u);

  // Both generations against the lower: new.conf came and went; /opt is new
  // as a whole, its gen-1 content hidden by gen 2's opaque /opt.
  auto both = Diff({1, 2}, {});
  EXPECT_EQ(Kinds(both),
            "C /etc\n"
            "A /etc/added2\n"
            "A /etc/gone-later\n"
            "D /etc/passwd\n"
            "A /opt\n"
            "A /opt/app2\n");
  EXPECT_EQ(both["/etc/gone-later"].generation, 1u);
  EXPECT_EQ(both["/opt"].generation, 2u);
}

TEST(AttributeWritersTest, AggregatesByProcessAndCreditsRenameTargets) {
  std::vector<Change> changes(3);
  changes[0].path = "/etc/a";
  changes[1].path = "/etc/b";
  changes[2].path = "/etc/c";
  auto entry = [](JournalOp op, std::string path, int32_t pid, std::string comm, uint64_t len,
                  int64_t t) {
    JournalEntry e;
    e.op = op;
    e.path = std::move(path);
    e.pid = pid;
    e.comm = std::move(comm);
    e.length = len;
    e.time_ns = t;
    return e;
  };
  std::vector<JournalEntry> es = {
      entry(JournalOp::kCreate, "/etc/a", 10, "sh", 0, 1),
      entry(JournalOp::kWrite, "/etc/a", 10, "sh", 100, 2),
      entry(JournalOp::kWrite, "/etc/a", 20, "vim", 5, 3),
      entry(JournalOp::kWrite, "/etc/a", 10, "sh", 50, 4),
      entry(JournalOp::kUnlink, "/etc/zzz", 30, "rm", 0, 5),
  };
  JournalEntry ren = entry(JournalOp::kRename, "/etc/tmp", 40, "mv", 0, 6);
  ren.path2 = "/etc/b";
  es.push_back(ren);
  AttributeWriters(changes, es);
  ASSERT_EQ(changes[0].writers.size(), 2u);
  EXPECT_EQ(changes[0].writers[0].comm, "sh");
  EXPECT_EQ(changes[0].writers[0].ops, 3u);
  EXPECT_EQ(changes[0].writers[0].bytes_written, 150u);
  EXPECT_EQ(changes[0].writers[1].comm, "vim");
  EXPECT_EQ(changes[0].last_change_ns, 4);
  ASSERT_EQ(changes[1].writers.size(), 1u);
  EXPECT_EQ(changes[1].writers[0].comm, "mv");
  EXPECT_TRUE(changes[2].writers.empty());
}

}  // namespace
}  // namespace ctrsnap
