#include "shim/lower_residue.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>

#include "common/file_util.h"

namespace ctrsnap::shim {
namespace {

// Generations in overlayfs upper format with user.overlay.* xattrs (what a
// userxattr overlay writes; trusted.overlay.* needs root), over a lower dir.
class LowerResidueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ctrsnap-residue-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    lower_ = root_ + "/lower";
    gen_ = root_ + "/gen1";
    dest_ = root_ + "/residue";
    ASSERT_TRUE(MakeDirs(lower_).ok());
    ASSERT_TRUE(MakeDirs(gen_).ok());
    if (::setxattr(gen_.c_str(), "user.probe", "1", 1, 0) != 0) {
      GTEST_SKIP() << "no user xattrs on /tmp";
    }
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(root_).ok()); }

  static void Write(const std::string& path, const std::string& data) {
    auto slash = path.rfind('/');
    ASSERT_TRUE(MakeDirs(path.substr(0, slash)).ok());
    std::ofstream(path) << data;
  }
  static void Xattr(const std::string& path, const char* name, const std::string& value) {
    ASSERT_EQ(::lsetxattr(path.c_str(), name, value.data(), value.size(), 0), 0) << path;
  }
  // A metacopy file in the generation: metadata only, data in the lower.
  void Metacopy(const std::string& rel, const std::string& redirect = "") {
    Write(gen_ + "/" + rel, "");
    Xattr(gen_ + "/" + rel, "user.overlay.metacopy", "");
    if (!redirect.empty()) Xattr(gen_ + "/" + rel, "user.overlay.redirect", redirect);
  }
  std::string Read(const std::string& rel) {
    auto s = ReadFileToString(dest_ + "/" + rel);
    return s.ok() ? *s : "<missing>";
  }
  bool Exists(const std::string& rel) {
    struct stat st{};
    return ::lstat((dest_ + "/" + rel).c_str(), &st) == 0;
  }
  Result<ResidueStats> Build() { return BuildLowerResidue({gen_, root_ + "/no-such-gen"}, lower_, dest_); }

  std::string root_, lower_, gen_, dest_;
};

TEST_F(LowerResidueTest, KeepsMetacopyDataAndNothingElse) {
  Write(lower_ + "/etc/app.conf", "image data");
  Write(lower_ + "/etc/other.conf", "not needed");
  Write(lower_ + "/usr/bin/tool", "tool");
  ASSERT_EQ(::chmod((lower_ + "/etc").c_str(), 0751), 0);
  Metacopy("etc/app.conf");
  Write(gen_ + "/work/new.txt", "only in the generation");
  auto r = Build();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metacopy_files, 1u);
  EXPECT_EQ(Read("etc/app.conf"), "image data");
  EXPECT_FALSE(Exists("etc/other.conf"));
  EXPECT_FALSE(Exists("usr"));
  EXPECT_FALSE(Exists("work"));
  struct stat st{};
  ASSERT_EQ(::stat((dest_ + "/etc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0751u) << "parent directories keep the lower's attributes";
}

TEST_F(LowerResidueTest, MetacopyFollowsItsRedirect) {
  Write(lower_ + "/opt/old-name", "moved data");
  Metacopy("srv/new-name", "/opt/old-name");
  auto r = Build();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Read("opt/old-name"), "moved data");
  EXPECT_FALSE(Exists("srv"));
}

TEST_F(LowerResidueTest, RenamedDirectoryKeepsItsWholeTree) {
  Write(lower_ + "/data/a.txt", "a");
  Write(lower_ + "/data/sub/b.txt", "b");
  ASSERT_EQ(::symlink("a.txt", (lower_ + "/data/link").c_str()), 0);
  ASSERT_EQ(::link((lower_ + "/data/a.txt").c_str(), (lower_ + "/data/sub/a-link").c_str()), 0);
  ASSERT_EQ(::chmod((lower_ + "/data/sub/b.txt").c_str(), 0640), 0);
  struct timespec old_times[2] = {{1000000000, 5}, {1000000000, 7}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (lower_ + "/data/sub").c_str(), old_times, 0), 0);
  Write(lower_ + "/unrelated/c.txt", "c");
  // `mv /data /moved` (absolute redirect) and `mv /x/one /x/two` (relative).
  ASSERT_TRUE(MakeDirs(gen_ + "/moved").ok());
  Xattr(gen_ + "/moved", "user.overlay.redirect", "/data");
  Write(lower_ + "/x/one/f", "f");
  ASSERT_TRUE(MakeDirs(gen_ + "/x/two").ok());
  Xattr(gen_ + "/x/two", "user.overlay.redirect", "one");
  auto r = Build();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->redirects, 2u);
  EXPECT_EQ(Read("data/a.txt"), "a");
  EXPECT_EQ(Read("data/sub/b.txt"), "b");
  EXPECT_EQ(Read("x/one/f"), "f");
  EXPECT_FALSE(Exists("unrelated"));
  char target[64] = {};
  ASSERT_GT(::readlink((dest_ + "/data/link").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_STREQ(target, "a.txt");
  struct stat a{}, b{}, sub{};
  ASSERT_EQ(::stat((dest_ + "/data/a.txt").c_str(), &a), 0);
  ASSERT_EQ(::stat((dest_ + "/data/sub/a-link").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "hard links stay hard links";
  ASSERT_EQ(::stat((dest_ + "/data/sub/b.txt").c_str(), &b), 0);
  EXPECT_EQ(b.st_mode & 07777, 0640u);
  ASSERT_EQ(::stat((dest_ + "/data/sub").c_str(), &sub), 0);
  EXPECT_EQ(sub.st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(sub.st_mtim.tv_nsec, 7);
}

TEST_F(LowerResidueTest, NeverLeavesTheLower) {
  // A symlinked parent in the lower and ".." in a redirect: nothing outside
  // the lower is read, nothing outside DEST written.
  Write(root_ + "/outside/secret", "host file");
  ASSERT_EQ(::symlink((root_ + "/outside").c_str(), (lower_ + "/link").c_str()), 0);
  Metacopy("link/secret");
  Metacopy("etc/x", "/../outside/secret");
  ASSERT_TRUE(MakeDirs(gen_ + "/up").ok());
  Xattr(gen_ + "/up", "user.overlay.redirect", "../outside");
  Metacopy("missing/file");  // the lower has no such path: skipped
  auto r = Build();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(Exists("link"));
  EXPECT_FALSE(Exists("outside"));
  EXPECT_FALSE(Exists("missing"));
  EXPECT_EQ(r->entries, 0u);
}

TEST_F(LowerResidueTest, RefusesAnExistingDestination) {
  ASSERT_TRUE(MakeDirs(dest_).ok());
  EXPECT_FALSE(Build().ok());
}

}  // namespace
}  // namespace ctrsnap::shim
