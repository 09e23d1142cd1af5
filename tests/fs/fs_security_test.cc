// The daemon is confined (capabilities, seccomp) and never reaches outside
// its lower/upper through a container's symlinks or ".." names.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/file_util.h"
#include "tests/fs/fs_fixture.h"

namespace ctrsnap::fstest {
namespace {

std::string StatusField(pid_t pid, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "";
}

class FsSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    outside_ = fs_.dir() + "/outside";
    ASSERT_TRUE(MakeDirs(outside_).ok());
    ASSERT_TRUE(WriteFile(outside_ + "/secret", "secret", 0600).ok());
    ASSERT_TRUE(MakeDirs(fs_.L("d")).ok());
    ASSERT_EQ(::symlink((outside_ + "/secret").c_str(), fs_.L("abs").c_str()), 0);
    ASSERT_EQ(::symlink("../../outside/secret", fs_.L("d/rel").c_str()), 0);
    ASSERT_EQ(::symlink(outside_.c_str(), fs_.L("dirlink").c_str()), 0);
    ASSERT_TRUE(fs_.Start().ok());
    ASSERT_EQ(::lstat((outside_ + "/secret").c_str(), &before_), 0);
  }
  void ExpectOutsideUntouched() {
    struct stat st;
    ASSERT_EQ(::lstat((outside_ + "/secret").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode, before_.st_mode);
    EXPECT_EQ(st.st_uid, before_.st_uid);
    EXPECT_EQ(st.st_mtim.tv_sec, before_.st_mtim.tv_sec);
    EXPECT_EQ(st.st_mtim.tv_nsec, before_.st_mtim.tv_nsec);
    EXPECT_EQ(ReadFile(outside_ + "/secret"), "secret");
    EXPECT_EQ(::getxattr((outside_ + "/secret").c_str(), "user.evil", nullptr, 0), -1);
    struct stat ignored;
    EXPECT_NE(::lstat((outside_ + "/created").c_str(), &ignored), 0);
  }
  MountedFs fs_;
  std::string outside_;
  struct stat before_ = {};
};

TEST_F(FsSecurityTest, DaemonRunsWithFewCapabilitiesAndSeccomp) {
  pid_t pid = fs_.pid();
  EXPECT_EQ(StatusField(pid, "Seccomp"), "2");
  // CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID SETGID SETUID SYS_ADMIN MKNOD SETFCAP
  EXPECT_EQ(StatusField(pid, "CapEff"), "00000000882000df");
  EXPECT_EQ(StatusField(pid, "CapPrm"), "00000000882000df");
  EXPECT_EQ(StatusField(pid, "CapBnd"), "00000000882000df");
  EXPECT_EQ(StatusField(pid, "CapInh"), "0000000000000000");
  EXPECT_EQ(StatusField(pid, "NoNewPrivs"), "1");
  // Still serves requests and seals under the filter.
  ASSERT_TRUE(WriteFile(fs_.M("x"), "x").ok());
  EXPECT_TRUE(fs_.Seal().ok());
  EXPECT_EQ(ReadFile(fs_.M("x")), "x");
}

TEST_F(FsSecurityTest, OperationsOnSymlinksNeverReachTheirTargets) {
  for (const char* l : {"abs", "d/rel"}) {
    std::string p = fs_.M(l);
    EXPECT_EQ(::lchown(p.c_str(), 1234, 1234), 0) << l;
    EXPECT_NE(::lsetxattr(p.c_str(), "user.evil", "1", 1, 0), 0) << l;
    struct timespec ts[2] = {{1, 0}, {1, 0}};
    EXPECT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << l;
#ifdef SYS_fchmodat2
    syscall(SYS_fchmodat2, AT_FDCWD, p.c_str(), 0777, AT_SYMLINK_NOFOLLOW);
#endif
    EXPECT_EQ(::rename(p.c_str(), (p + ".moved").c_str()), 0);
    EXPECT_EQ(::unlink((p + ".moved").c_str()), 0);
  }
  ExpectOutsideUntouched();
}

TEST_F(FsSecurityTest, ContainerPathsResolveInsideTheRoot) {
  // A process chrooted into the mount (as a container is) follows the
  // planted symlinks inside the root only.
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::chroot(fs_.mnt().c_str()) != 0 || ::chdir("/") != 0) _exit(10);
    if (::open("/abs", O_RDONLY) >= 0) _exit(11);      // target absent inside the root
    if (::open("/d/rel", O_RDONLY) >= 0) _exit(12);
    if (::open("/dirlink/created", O_CREAT | O_WRONLY, 0644) >= 0) _exit(13);
    if (::open("/../../../outside/secret", O_RDONLY) >= 0) _exit(14);
    if (::mkdir("/d/../../escape", 0755) != 0) _exit(15);  // ".." stops at the root
    _exit(0);
  }
  int st;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
  struct stat s;
  EXPECT_EQ(::lstat(fs_.M("escape").c_str(), &s), 0);
  EXPECT_NE(::lstat((fs_.dir() + "/escape").c_str(), &s), 0);
  ExpectOutsideUntouched();
}

TEST_F(FsSecurityTest, HostileNamesAreRefused) {
  // Names the kernel would never send are refused by the core; from user
  // space we can at least check that "." and ".." behave and that writes
  // with names containing odd bytes land inside the upper.
  std::string odd = fs_.M("a\nb\\c");
  ASSERT_TRUE(WriteFile(odd, "odd").ok());
  EXPECT_EQ(ReadFile(fs_.Upper(1) + "/a\nb\\c"), "odd");
  EXPECT_EQ(::mkdir(fs_.M("..").c_str(), 0755), -1);
  ExpectOutsideUntouched();
}

}  // namespace
}  // namespace ctrsnap::fstest
