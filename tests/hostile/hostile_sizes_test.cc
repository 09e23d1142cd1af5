// Hostile sizes and types: a hard-link bomb, a 1 TB sparse file, special
// files (fifos, devices, a socket). The daemon must not crash, the export
// must neither hang nor silently produce a huge layer.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

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

class HostileSizesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(MakeDirs(fs_.L("etc")).ok());
    ASSERT_TRUE(WriteFile(fs_.L("etc/passwd"), "root:x:0:0\n").ok());
    ASSERT_TRUE(fs_.Start().ok());
  }
  ShResult Snapshot(int n, const std::string& extra = "") {
    return Ctrsnap(fs_.dir(), "snapshot --state " + fs_.state() + " -o " + Layout(n) +
                                  " --tag t:" + std::to_string(n) + " --json --no-progress " +
                                  extra);
  }
  std::string Layout(int n) { return fs_.dir() + "/layout-" + std::to_string(n); }
  static nlohmann::json Json(const ShResult& r) {
    return nlohmann::json::parse(r.out.substr(r.out.find('{')));
  }
  MountedFs fs_;
};

// CTRSNAP_HOSTILE_LINKS (default 10000) hard links to one 1 MiB file: the
// layer holds the data once and one link entry per name.
TEST_F(HostileSizesTest, HardLinkBombStoresTheDataOnce) {
  long n = 10000;
  if (const char* e = std::getenv("CTRSNAP_HOSTILE_LINKS")) n = std::atol(e);
  ASSERT_EQ(fstest::Sh("head -c 1048576 /dev/urandom > " + fs_.M("bomb")), 0);
  ASSERT_EQ(::mkdir(fs_.M("links").c_str(), 0755), 0);
  for (long i = 0; i < n; ++i) {
    ASSERT_EQ(::link(fs_.M("bomb").c_str(), fs_.M("links/l" + std::to_string(i)).c_str()), 0)
        << i << ": " << std::strerror(errno);
  }
  struct stat st;
  ASSERT_EQ(::stat(fs_.M("bomb").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, static_cast<nlink_t>(n + 1));
  auto r = Snapshot(1, "--compression none");
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = Json(r);
  auto entries = ReadLayer(Layout(1), j["layer"]["digest"].get<std::string>());
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  long data = 0, links = 0;
  for (const auto& [name, e] : *entries) {
    if (name != "bomb" && name.rfind("links/", 0) != 0) continue;
    if (!e.hardlink.empty()) {
      ++links;
    } else if (e.size > 0) {
      ++data;
    }
  }
  EXPECT_EQ(data, 1);
  EXPECT_EQ(links, n);
  // 1 MiB of data plus about one 512-byte header (and a PAX record) per link.
  int64_t tar_bytes = j["layer"]["size"].get<int64_t>();
  EXPECT_LT(tar_bytes, (1 << 20) + n * 3072) << "the data was stored more than once";
  ASSERT_TRUE(Alive(fs_.pid()));
}

TEST_F(HostileSizesTest, TerabyteSparseFileIsRefusedWithAClearMessage) {
  {
    UniqueFd fd(::open(fs_.M("sparse").c_str(), O_CREAT | O_WRONLY, 0644));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::ftruncate(fd.get(), 1ll << 40), 0) << std::strerror(errno);
    ASSERT_EQ(::pwrite(fd.get(), "end", 3, (1ll << 40) - 3), 3);
  }
  ASSERT_TRUE(WriteFile(fs_.M("small"), "small").ok());
  auto r = Snapshot(1);
  EXPECT_NE(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("/sparse is a sparse file of 1.0 TiB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--max-sparse-size"), std::string::npos) << r.out;
  ASSERT_TRUE(VerifySnapshotStore(fs_.state()).ok());
  // Excluding it works, and keeps the rest.
  auto ex = Snapshot(2, "--exclude /sparse");
  ASSERT_EQ(ex.rc, 0) << ex.out;
  EXPECT_LT(Json(ex)["layer"]["size"].get<int64_t>(), 1 << 20);
  ASSERT_TRUE(Alive(fs_.pid()));
}

TEST_F(HostileSizesTest, ModeratelySparseFileUnderTheLimitExportsExactly) {
  // 96 MiB of holes around 3 data blocks: under a 128 MiB limit it exports
  // (holes as zeros), above a 64 MiB one it is refused.
  {
    UniqueFd fd(::open(fs_.M("holes").c_str(), O_CREAT | O_WRONLY, 0644));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::ftruncate(fd.get(), 96 << 20), 0);
    for (off_t off : {off_t{0}, off_t{50} << 20, (off_t{96} << 20) - 4}) {
      ASSERT_EQ(::pwrite(fd.get(), "DATA", 4, off), 4);
    }
  }
  auto refused = Snapshot(1, "--max-sparse-size 67108864");
  EXPECT_NE(refused.rc, 0) << refused.out;
  EXPECT_NE(refused.out.find("/holes is a sparse file"), std::string::npos) << refused.out;
  auto r = Snapshot(2, "--max-sparse-size 134217728");
  ASSERT_EQ(r.rc, 0) << r.out;
  auto u = testing::Sh("umoci unpack --image " + Layout(2) + ":t:2 " + fs_.dir() + "/b2 && cmp " +
                       fs_.dir() + "/b2/rootfs/holes " + fs_.M("holes"));
  EXPECT_EQ(u.rc, 0) << u.out;
}

TEST_F(HostileSizesTest, SpecialFilesExportWithoutHanging) {
  ASSERT_EQ(::mkfifo(fs_.M("fifo").c_str(), 0600), 0);
  ASSERT_EQ(::mknod(fs_.M("null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(::mknod(fs_.M("loopdev").c_str(), S_IFBLK | 0660, makedev(7, 200)), 0);
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sp = fs_.M("sock");
  ASSERT_LT(sp.size(), sizeof(addr.sun_path));
  std::strcpy(addr.sun_path, sp.c_str());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
  ::close(s);
  // The exporter never opens special files: a fifo nobody writes to cannot
  // block it (the test's timeout would catch a hang).
  auto r = Snapshot(1);
  ASSERT_EQ(r.rc, 0) << r.out;
  auto entries = ReadLayer(Layout(1), Json(r)["layer"]["digest"].get<std::string>());
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_TRUE(entries->count("fifo"));
  EXPECT_EQ(entries->at("fifo").type, static_cast<mode_t>(S_IFIFO));
  ASSERT_TRUE(entries->count("null"));
  EXPECT_EQ(entries->at("null").type, static_cast<mode_t>(S_IFCHR));
  EXPECT_EQ(entries->at("null").rdev, makedev(1, 3));
  ASSERT_TRUE(entries->count("loopdev"));
  EXPECT_EQ(entries->at("loopdev").type, static_cast<mode_t>(S_IFBLK));
  EXPECT_EQ(entries->at("loopdev").rdev, makedev(7, 200));
  EXPECT_FALSE(entries->count("sock")) << "a socket cannot be stored in a tar";
  ASSERT_TRUE(Alive(fs_.pid()));
}

}  // namespace
}  // namespace ctrsnap::faulttest
