// The daemon journals every mutation with the caller's identity, per
// generation (the journal's own format is tested in fusefs/journal).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/control_client.h"
#include "common/file_util.h"
#include "common/state_layout.h"
#include "fusefs/journal/journal_format.h"
#include "tests/fs/fs_fixture.h"

namespace ctrsnap::fstest {
namespace {

TEST(FsJournalTest, MutationsAreJournaledWithCallerAndGeneration) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  MountedFs fs;
  ASSERT_TRUE(fs.Start().ok());
  pid_t pid;
  // Written by a child so that its pid is known; data reaches the daemon by
  // writeback (pid 0) and must still be credited to the child.
  pid = ::fork();
  if (pid == 0) {
    int fd = ::open(fs.M("written").c_str(), O_CREAT | O_WRONLY, 0644);
    if (fd < 0 || ::write(fd, "hello", 5) != 5) _exit(1);
    ::close(fd);
    _exit(::mkdir(fs.M("dir").c_str(), 0755) == 0 ? 0 : 2);
  }
  int st;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_EQ(WEXITSTATUS(st), 0);
  ASSERT_EQ(::rename(fs.M("written").c_str(), fs.M("dir/moved").c_str()), 0);
  ASSERT_TRUE(fs.Seal().ok());
  ASSERT_EQ(::unlink(fs.M("dir/moved").c_str()), 0);
  ASSERT_TRUE(ControlCall(fs.state(), {{"op", "flush"}}).ok());

  auto g1 = ReadJournalFile(layout::JournalPath(fs.state(), 1));
  ASSERT_TRUE(g1.ok()) << g1.status().ToString();
  bool create = false, write = false, mkdir = false, rename = false;
  for (const auto& e : g1->entries) {
    EXPECT_EQ(e.generation, 1u);
    if (e.op == JournalOp::kCreate && e.path == "/written") create = e.pid == pid;
    if (e.op == JournalOp::kWrite && e.path == "/written") {
      write = e.pid == pid && e.length == 5;
    }
    if (e.op == JournalOp::kMkdir && e.path == "/dir") mkdir = e.pid == pid;
    if (e.op == JournalOp::kRename) rename = e.path == "/written" && e.path2 == "/dir/moved";
  }
  EXPECT_TRUE(create);
  EXPECT_TRUE(write);
  EXPECT_TRUE(mkdir);
  EXPECT_TRUE(rename);
  auto g2 = ReadJournalFile(layout::JournalPath(fs.state(), 2));
  ASSERT_TRUE(g2.ok()) << g2.status().ToString();
  bool unlink = false;
  for (const auto& e : g2->entries) {
    if (e.op == JournalOp::kUnlink && e.path == "/dir/moved") unlink = e.generation == 2;
  }
  EXPECT_TRUE(unlink);
}

}  // namespace
}  // namespace ctrsnap::fstest
