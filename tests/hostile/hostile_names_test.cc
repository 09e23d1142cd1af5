// Hostile names and shapes: newlines, invalid UTF-8, 255-byte components,
// paths of 4095 bytes, and one directory with very many entries. Each goes
// through ctrsnap-fs, a seal and an export, and comes back unchanged from
// the layer (read with libarchive: umoci cannot unpack a 4095-byte path
// below its own bundle path).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "common/file_util.h"
#include "common/unique_fd.h"
#include "tests/faults/fault_util.h"
#include "tests/fs/fs_fixture.h"

namespace ctrsnap::faulttest {
namespace {

using fstest::MountedFs;
using fstest::ReadFile;
using fstest::WriteFile;

class HostileNamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(MakeDirs(fs_.L("etc")).ok());
    ASSERT_TRUE(WriteFile(fs_.L("etc/passwd"), "root:x:0:0\n").ok());
    ASSERT_TRUE(fs_.Start().ok());
  }
  // Snapshot N of the state to a layout; returns its new layer's entries.
  std::map<std::string, LayerEntry> SnapshotLayer(int n) {
    std::string layout = fs_.dir() + "/layout-" + std::to_string(n);
    auto r = Ctrsnap(fs_.dir(), "snapshot --state " + fs_.state() + " -o " + layout +
                                    " --tag t:" + std::to_string(n) + " --json --no-progress");
    EXPECT_EQ(r.rc, 0) << r.out;
    if (r.rc != 0) return {};
    auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
    auto entries = ReadLayer(layout, j["layer"]["digest"].get<std::string>());
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    return entries.ok() ? *entries : std::map<std::string, LayerEntry>{};
  }
  MountedFs fs_;
};

TEST_F(HostileNamesTest, OddNamesLongComponentsAndDeepPathsRoundTrip) {
  const std::string names[] = {
      "new\nline",  "\xff\xfe\x80 not utf-8", "tab\there", "back\\slash", " lead space",
      "-dash",      "quote\"'",               "\x01\x1f\x7f", "star*?[x]",
      std::string(255, 'n'),                      // the longest component
      std::string(85, '\xe2') + std::string(85, '\x82') + std::string(85, '\xac'),
  };
  for (const auto& n : names) {
    ASSERT_TRUE(WriteFile(fs_.M(n), "content of " + n).ok()) << n;
  }
  std::string too_long(256, 'x');
  EXPECT_FALSE(WriteFile(fs_.M(too_long), "x").ok());
  // A path of 4095 bytes from the root: 16 directories of 250 bytes, then a
  // file name filling the rest. Made with *at() calls (the host path of the
  // mount is longer than PATH_MAX allows).
  std::string rel;
  UniqueFd dir(::open(fs_.mnt().c_str(), O_PATH | O_DIRECTORY));
  ASSERT_TRUE(dir);
  for (int i = 0; i < 16; ++i) {
    std::string comp = std::string(249, 'a' + static_cast<char>(i)) + "d";
    ASSERT_EQ(::mkdirat(dir.get(), comp.c_str(), 0755), 0) << i;
    dir = UniqueFd(::openat(dir.get(), comp.c_str(), O_PATH | O_DIRECTORY));
    ASSERT_TRUE(dir) << i;
    rel += comp + "/";
  }
  std::string leaf(4095 - rel.size(), 'z');
  rel += leaf;
  ASSERT_EQ(rel.size(), 4095u);
  {
    UniqueFd f(::openat(dir.get(), leaf.c_str(), O_CREAT | O_WRONLY, 0644));
    ASSERT_TRUE(f);
    ASSERT_EQ(::write(f.get(), "deep", 4), 4);
  }
  auto entries = SnapshotLayer(1);
  for (const auto& n : names) {
    auto it = entries.find(n);
    ASSERT_NE(it, entries.end()) << "missing from the layer: " << n;
    EXPECT_EQ(it->second.data, "content of " + n);
  }
  auto deep = entries.find(rel);
  ASSERT_NE(deep, entries.end()) << "the 4095-byte path is missing from the layer";
  EXPECT_EQ(deep->second.data, "deep");
  ASSERT_TRUE(Alive(fs_.pid()));
  // The journal and the CLI readers cope with them too.
  auto diff = Ctrsnap(fs_.dir(), "diff --state " + fs_.state() + " --json");
  EXPECT_TRUE(diff.rc == 0 || diff.rc == 1) << diff.out;
}

// CTRSNAP_HOSTILE_ENTRIES (default 30000) files in one directory: the issue
// asks for a million, which takes minutes through FUSE on a shared 2-core CI
// machine; run that by hand with CTRSNAP_HOSTILE_ENTRIES=1000000. 30000 is
// more than the descriptors ctrsnap-fs gets where it cannot raise its hard
// RLIMIT_NOFILE (no CAP_SYS_RESOURCE, as on the CI VM: 20000); until it shed
// idle cached entries under descriptor pressure, entry 19980 got EMFILE.
// ctrsnap-fs keeps one O_PATH fd per cached inode: before it raised its
// RLIMIT_NOFILE to fs.nr_open at start, entry 19980 of a 20000 run failed
// with EMFILE (the VM's default limit).
TEST_F(HostileNamesTest, DirectoryWithVeryManyEntries) {
  long n = 30000;
  if (const char* e = std::getenv("CTRSNAP_HOSTILE_ENTRIES")) n = std::atol(e);
  ASSERT_EQ(::mkdir(fs_.M("many").c_str(), 0755), 0);
  auto t0 = std::chrono::steady_clock::now();
  {
    UniqueFd d(::open(fs_.M("many").c_str(), O_PATH | O_DIRECTORY));
    ASSERT_TRUE(d);
    for (long i = 0; i < n; ++i) {
      std::string name = "entry-" + std::to_string(i);
      int fd = ::openat(d.get(), name.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      ASSERT_GE(fd, 0) << i << ": " << std::strerror(errno);
      ::close(fd);
    }
  }
  auto t1 = std::chrono::steady_clock::now();
  auto ls = testing::Sh("ls -f " + fs_.M("many") + " | wc -l");
  EXPECT_EQ(std::atol(ls.out.c_str()), n + 2);
  ASSERT_TRUE(Alive(fs_.pid()));
  auto entries = SnapshotLayer(1);
  auto t2 = std::chrono::steady_clock::now();
  long in_layer = 0;
  for (const auto& [name, e] : entries) in_layer += name.rfind("many/entry-", 0) == 0;
  EXPECT_EQ(in_layer, n);
  std::cerr << "[ info ] " << n << " entries: created in "
            << std::chrono::duration<double>(t1 - t0).count() << " s, snapshot in "
            << std::chrono::duration<double>(t2 - t1).count() << " s\n";
}

}  // namespace
}  // namespace ctrsnap::faulttest
