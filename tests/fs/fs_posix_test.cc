// POSIX behaviours of a mounted ctrsnap-fs (issue 3), as root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/file_util.h"
#include "tests/fs/fs_fixture.h"

namespace ctrsnap::fstest {
namespace {

class FsPosixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(MakeDirs(fs_.L("dir/sub")).ok());
    ASSERT_TRUE(WriteFile(fs_.L("dir/sub/a"), "lower-a").ok());
    ASSERT_TRUE(WriteFile(fs_.L("file"), "lower-file").ok());
    ASSERT_TRUE(WriteFile(fs_.L("dir/b"), "lower-b").ok());
  }
  void Mount() { ASSERT_TRUE(fs_.Start().ok()); }
  struct stat Lstat(const std::string& p) {
    struct stat st = {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p << ": " << strerror(errno);
    return st;
  }
  MountedFs fs_;
};

TEST_F(FsPosixTest, ReadsLowerAndWritesUpper) {
  Mount();
  EXPECT_EQ(ReadFile(fs_.M("file")), "lower-file");
  ASSERT_TRUE(WriteFile(fs_.M("file"), "new").ok());
  EXPECT_EQ(ReadFile(fs_.M("file")), "new");
  EXPECT_EQ(ReadFile(fs_.L("file")), "lower-file");  // lower never changes
  ASSERT_TRUE(fs_.Stop().ok());
  EXPECT_EQ(ReadFile(fs_.Upper(1) + "/file"), "new");
}

TEST_F(FsPosixTest, RenameLowerDirectory) {
  Mount();
  ASSERT_EQ(::rename(fs_.M("dir").c_str(), fs_.M("moved").c_str()), 0) << strerror(errno);
  EXPECT_EQ(ReadFile(fs_.M("moved/sub/a")), "lower-a");
  struct stat st;
  EXPECT_NE(::lstat(fs_.M("dir").c_str(), &st), 0);
  ASSERT_EQ(::rename(fs_.M("moved/sub").c_str(), fs_.M("sub2").c_str()), 0) << strerror(errno);
  EXPECT_EQ(ReadFile(fs_.M("sub2/a")), "lower-a");
}

TEST_F(FsPosixTest, InodeNumbersStableAcrossCopyUpAndUnique) {
  Mount();
  ino_t before = Lstat(fs_.M("file")).st_ino;
  ASSERT_TRUE(WriteFile(fs_.M("file"), "changed").ok());
  EXPECT_EQ(Lstat(fs_.M("file")).st_ino, before);
  ASSERT_EQ(::chmod(fs_.M("dir/b").c_str(), 0600), 0);
  std::set<ino_t> seen;
  for (const char* p : {"file", "dir", "dir/sub", "dir/sub/a", "dir/b"}) {
    EXPECT_TRUE(seen.insert(Lstat(fs_.M(p)).st_ino).second) << p;
  }
  ASSERT_TRUE(WriteFile(fs_.M("new"), "x").ok());
  EXPECT_TRUE(seen.insert(Lstat(fs_.M("new")).st_ino).second);
  // Stable across a seal too.
  ino_t dir_ino = Lstat(fs_.M("dir/sub")).st_ino;
  ASSERT_TRUE(fs_.Seal().ok());
  EXPECT_EQ(Lstat(fs_.M("file")).st_ino, before);
  EXPECT_EQ(Lstat(fs_.M("dir/sub")).st_ino, dir_ino);
}

TEST_F(FsPosixTest, HardLinksKeepIdentity) {
  Mount();
  ASSERT_TRUE(WriteFile(fs_.M("h1"), "data").ok());
  ASSERT_EQ(::link(fs_.M("h1").c_str(), fs_.M("h2").c_str()), 0) << strerror(errno);
  struct stat a = Lstat(fs_.M("h1")), b = Lstat(fs_.M("h2"));
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
  ASSERT_TRUE(WriteFile(fs_.M("h2"), "changed").ok());
  EXPECT_EQ(ReadFile(fs_.M("h1")), "changed");
  // A lower file gets a second name; writing through it keeps both names.
  ASSERT_EQ(::link(fs_.M("file").c_str(), fs_.M("file2").c_str()), 0) << strerror(errno);
  ASSERT_TRUE(WriteFile(fs_.M("file2"), "via2").ok());
  EXPECT_EQ(ReadFile(fs_.M("file")), "via2");
  EXPECT_EQ(Lstat(fs_.M("file")).st_nlink, 2u);
  // unlink of an open file: the other name and the handle stay valid.
  int fd = ::open(fs_.M("h1").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::unlink(fs_.M("h1").c_str()), 0);
  EXPECT_EQ(Lstat(fs_.M("h2")).st_nlink, 1u);
  char buf[16] = {};
  EXPECT_EQ(::pread(fd, buf, sizeof(buf), 0), 7);
  ::close(fd);
}

TEST_F(FsPosixTest, NameTooLongAndLongPaths) {
  Mount();
  std::string longname(256, 'x');
  int fd = ::open(fs_.M(longname).c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
  std::string name255(255, 'y');
  fd = ::open(fs_.M(name255).c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_GE(fd, 0);
  if (fd >= 0) ::close(fd);
  // A deep path near PATH_MAX.
  std::string p = fs_.mnt();
  std::string comp(200, 'd');
  while (p.size() + comp.size() + 2 < PATH_MAX - 10) {
    p += "/" + comp;
    ASSERT_EQ(::mkdir(p.c_str(), 0755), 0) << p.size() << strerror(errno);
  }
  ASSERT_TRUE(WriteFile(p + "/f", "deep").ok());
  EXPECT_EQ(ReadFile(p + "/f"), "deep");
  // Regression (pjdfstest link/03): hard links between a deep and a short name.
  ASSERT_EQ(::link((p + "/f").c_str(), fs_.M("n0").c_str()), 0);
  ASSERT_EQ(::unlink((p + "/f").c_str()), 0);
  ASSERT_EQ(::link(fs_.M("n0").c_str(), (p + "/f").c_str()), 0);
  EXPECT_EQ(Lstat(fs_.M("n0")).st_nlink, 2u);
  EXPECT_EQ(Lstat(p + "/f").st_nlink, 2u);
}

TEST_F(FsPosixTest, MetadataChangeOfBigLowerFileCopiesNoData) {
  // 64 MiB lower file; chmod/chown/utimes/xattr through the mount.
  int fd = ::open(fs_.L("big").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  std::string chunk(1 << 20, 'z');
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(WriteAll(fd, chunk).ok());
  ::close(fd);
  Mount();
  ASSERT_EQ(::chmod(fs_.M("big").c_str(), 0600), 0);
  ASSERT_EQ(::chown(fs_.M("big").c_str(), 1234, 1234), 0);
  ASSERT_EQ(::setxattr(fs_.M("big").c_str(), "user.k", "v", 1, 0), 0) << strerror(errno);
  struct timespec ts[2] = {{1000, 0}, {2000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, fs_.M("big").c_str(), ts, 0), 0);
  struct stat st = Lstat(fs_.Upper(1) + "/big");
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "metadata change copied data";
  struct stat m = Lstat(fs_.M("big"));
  EXPECT_EQ(m.st_mode & 07777, 0600u);
  EXPECT_EQ(m.st_uid, 1234u);
  EXPECT_EQ(m.st_size, 64 << 20);
  EXPECT_EQ(m.st_mtim.tv_sec, 2000);
  // Reading still returns the lower data.
  EXPECT_EQ(ReadFile(fs_.M("big")).substr(0, 3), "zzz");
}

TEST_F(FsPosixTest, DeviceNodesFifosSocketsSetuid) {
  Mount();
  ASSERT_EQ(::mknod(fs_.M("null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << strerror(errno);
  ASSERT_EQ(::mkfifo(fs_.M("fifo").c_str(), 0644), 0);
  ASSERT_EQ(::mknod(fs_.M("sock").c_str(), S_IFSOCK | 0644, 0), 0);
  struct stat st = Lstat(fs_.M("null"));
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_TRUE(S_ISFIFO(Lstat(fs_.M("fifo")).st_mode));
  EXPECT_TRUE(S_ISSOCK(Lstat(fs_.M("sock")).st_mode));
  // The device works (mounted with dev).
  int fd = ::open(fs_.M("null").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_EQ(::write(fd, "x", 1), 1);
  ::close(fd);
  ASSERT_TRUE(WriteFile(fs_.M("suid"), "#!/bin/sh\n", 0755).ok());
  ASSERT_EQ(::chmod(fs_.M("suid").c_str(), 04755), 0);
  EXPECT_EQ(Lstat(fs_.M("suid")).st_mode & 07777, 04755u);
  ASSERT_EQ(::chmod(fs_.M("dir").c_str(), 02775), 0);
  EXPECT_EQ(Lstat(fs_.M("dir")).st_mode & 07777, 02775u);
}

TEST_F(FsPosixTest, SparseFilesFallocateSeekData) {
  Mount();
  int fd = ::open(fs_.M("sparse").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "end", 3, 100 << 20), 3);
  ASSERT_EQ(::fsync(fd), 0);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, (100 << 20) + 3);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);
  EXPECT_EQ(::lseek(fd, 0, SEEK_DATA), 100 << 20);
  ASSERT_EQ(::fallocate(fd, 0, 0, 1 << 20), 0) << strerror(errno);
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_GE(st.st_blocks * 512, 1 << 20);
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1 << 20), 0);
  ::close(fd);
}

TEST_F(FsPosixTest, SharedMmapWritesReachTheFile) {
  Mount();
  int fd = ::open(fs_.M("file").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(p, MAP_FAILED);
  std::memcpy(p, "MMAP", 4);
  ASSERT_EQ(::msync(p, 4096, MS_SYNC), 0);
  ::munmap(p, 4096);
  ::close(fd);
  EXPECT_EQ(ReadFile(fs_.M("file")), "MMAPr-file");
  ASSERT_TRUE(fs_.Stop().ok());
  EXPECT_EQ(ReadFile(fs_.Upper(1) + "/file"), "MMAPr-file");
}

TEST_F(FsPosixTest, FileLocks) {
  Mount();
  int a = ::open(fs_.M("file").c_str(), O_RDWR);
  int b = ::open(fs_.M("file").c_str(), O_RDWR);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_EQ(::flock(a, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(::flock(b, LOCK_EX | LOCK_NB), -1);
  EXPECT_EQ(errno, EWOULDBLOCK);
  ::flock(a, LOCK_UN);
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_len = 10;
  EXPECT_EQ(::fcntl(a, F_OFD_SETLK, &fl), 0);
  EXPECT_EQ(::fcntl(b, F_OFD_SETLK, &fl), -1);
  ::close(a);
  ::close(b);
}

TEST_F(FsPosixTest, NewFilesOwnedByCallerWithUmaskAndSetgidDir) {
  Mount();
  ASSERT_EQ(::mkdir(fs_.M("shared").c_str(), 0777), 0);
  ASSERT_EQ(::chmod(fs_.M("shared").c_str(), 02777), 0);
  ASSERT_EQ(::chown(fs_.M("shared").c_str(), 0, 4321), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::umask(027);
    if (::setgid(1000) != 0 || ::setuid(1000) != 0) _exit(10);
    int fd = ::open((fs_.M("shared") + "/f").c_str(), O_CREAT | O_WRONLY, 0666);
    if (fd < 0) _exit(11);
    ::close(fd);
    if (::mkdir((fs_.M("shared") + "/d").c_str(), 0777) != 0) _exit(12);
    // Not allowed: writing a root-owned 0644 file.
    if (::open(fs_.M("file").c_str(), O_WRONLY) >= 0 || errno != EACCES) _exit(13);
    _exit(0);
  }
  int st;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 0);
  struct stat f = Lstat(fs_.M("shared/f"));
  EXPECT_EQ(f.st_uid, 1000u);
  EXPECT_EQ(f.st_gid, 4321u);  // setgid directory
  EXPECT_EQ(f.st_mode & 0777, 0640u);  // umask 027
  struct stat d = Lstat(fs_.M("shared/d"));
  EXPECT_EQ(d.st_uid, 1000u);
  EXPECT_EQ(d.st_gid, 4321u);
  EXPECT_TRUE(d.st_mode & S_ISGID);
}

TEST_F(FsPosixTest, XattrsAndCapabilities) {
  Mount();
  ASSERT_EQ(::setxattr(fs_.M("file").c_str(), "user.a", "1", 1, 0), 0);
  char v[8] = {};
  EXPECT_EQ(::getxattr(fs_.M("file").c_str(), "user.a", v, sizeof(v)), 1);
  // security.capability: cap_net_bind_service+ep (VFS v2 format).
  unsigned char cap[20] = {0x00, 0x00, 0x00, 0x02, 0x00, 0x04, 0, 0, 0x00, 0x04, 0, 0};
  ASSERT_EQ(::setxattr(fs_.M("file").c_str(), "security.capability", cap, 20, 0), 0)
      << strerror(errno);
  EXPECT_EQ(::getxattr(fs_.M("file").c_str(), "security.capability", nullptr, 0), 20);
  char names[256];
  ssize_t n = ::listxattr(fs_.M("file").c_str(), names, sizeof(names));
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(names, static_cast<size_t>(n)).find("user.a"), std::string::npos);
  EXPECT_EQ(::removexattr(fs_.M("file").c_str(), "user.a"), 0);
  EXPECT_EQ(::getxattr(fs_.M("file").c_str(), "user.a", v, sizeof(v)), -1);
  // The overlay's private xattrs cannot be forged through the mount: the
  // kernel stores them escaped (trusted.overlay.overlay.*) in the upper.
  (void)::setxattr(fs_.M("file").c_str(), "trusted.overlay.opaque", "y", 1, 0);
  EXPECT_EQ(::getxattr((fs_.Upper(1) + "/file").c_str(), "trusted.overlay.opaque", v, sizeof(v)),
            -1);
}

TEST_F(FsPosixTest, RenameFlagsSymlinksCopyFileRange) {
  Mount();
  ASSERT_TRUE(WriteFile(fs_.M("x"), "X").ok());
  EXPECT_EQ(::renameat2(AT_FDCWD, fs_.M("x").c_str(), AT_FDCWD, fs_.M("file").c_str(),
                        RENAME_NOREPLACE), -1);
  EXPECT_EQ(errno, EEXIST);
  ASSERT_EQ(::renameat2(AT_FDCWD, fs_.M("x").c_str(), AT_FDCWD, fs_.M("file").c_str(),
                        RENAME_EXCHANGE), 0) << strerror(errno);
  EXPECT_EQ(ReadFile(fs_.M("x")), "lower-file");
  EXPECT_EQ(ReadFile(fs_.M("file")), "X");
  ASSERT_EQ(::symlink("dir/b", fs_.M("ln").c_str()), 0);
  char buf[64] = {};
  EXPECT_EQ(::readlink(fs_.M("ln").c_str(), buf, sizeof(buf)), 5);
  EXPECT_EQ(ReadFile(fs_.M("ln")), "lower-b");
  int in = ::open(fs_.M("x").c_str(), O_RDONLY);
  int out = ::open(fs_.M("copy").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(in, 0);
  ASSERT_GE(out, 0);
  EXPECT_EQ(::copy_file_range(in, nullptr, out, nullptr, 100, 0), 10);
  ::close(in);
  ::close(out);
  EXPECT_EQ(ReadFile(fs_.M("copy")), "lower-file");
  // Directory listing has what we expect.
  ASSERT_EQ(::rmdir(fs_.M("dir/sub").c_str()), -1);
  EXPECT_EQ(errno, ENOTEMPTY);
  ASSERT_EQ(::unlink(fs_.M("dir/sub/a").c_str()), 0);
  EXPECT_EQ(::rmdir(fs_.M("dir/sub").c_str()), 0);
}

// More requests that may block (large O_DIRECT writes, fsync, large reads)
// in flight than the daemon has threads (16), with metadata requests beside
// them: everything completes with the right data, and the daemon still
// unmounts cleanly (fusefs/fuse/request_loop.h).
TEST_F(FsPosixTest, ManyConcurrentBlockingRequestsBesideMetadata) {
  Mount();
  constexpr int kWriters = 24;
  constexpr size_t kSize = 2u << 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      void* raw = nullptr;
      if (posix_memalign(&raw, 4096, kSize) != 0) return (void)++failures;
      std::unique_ptr<void, decltype(&free)> buf(raw, &free);
      std::memset(raw, 'a' + t % 26, kSize);
      std::string p = fs_.M("big" + std::to_string(t));
      int fd = ::open(p.c_str(), O_CREAT | O_RDWR | O_DIRECT, 0644);
      if (fd < 0) return (void)++failures;
      if (::pwrite(fd, raw, kSize, 0) != static_cast<ssize_t>(kSize) || ::fsync(fd) != 0) {
        ++failures;
      }
      std::memset(raw, 0, kSize);
      if (::pread(fd, raw, kSize, 0) != static_cast<ssize_t>(kSize) ||
          static_cast<char*>(raw)[kSize - 1] != 'a' + t % 26) {
        ++failures;
      }
      ::close(fd);
    });
  }
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string p = fs_.M("small" + std::to_string(t) + "-" + std::to_string(i));
        if (!WriteFile(p, "x").ok()) ++failures;
        struct stat st;
        if (::lstat(p.c_str(), &st) != 0 || st.st_size != 1) ++failures;
        if (i % 2 == 0 && ::unlink(p.c_str()) != 0) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kWriters; ++t) {
    EXPECT_EQ(Lstat(fs_.M("big" + std::to_string(t))).st_size, static_cast<off_t>(kSize));
  }
  EXPECT_EQ(Lstat(fs_.M("small3-199")).st_size, 1);
  EXPECT_TRUE(fs_.Stop().ok());
}

TEST_F(FsPosixTest, PlainModeWithUpperAndWorkdir) {
  ASSERT_TRUE(fs_.Start(/*plain=*/true).ok());
  ASSERT_TRUE(WriteFile(fs_.M("p"), "plain").ok());
  ASSERT_TRUE(fs_.Stop().ok());
  EXPECT_EQ(ReadFile(fs_.dir() + "/upper/p"), "plain");
}

}  // namespace
}  // namespace ctrsnap::fstest
