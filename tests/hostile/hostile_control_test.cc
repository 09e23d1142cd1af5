// The control socket of ctrsnap-fs under hostile peers: a non-root process
// (uid nobody, reached through permissions opened up on purpose) is refused
// by the SO_PEERCRED check; malformed, unknown, oversized and binary
// requests get an error reply or a closed connection, and the daemon keeps
// serving root.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/control_client.h"
#include "common/file_util.h"
#include "common/state_layout.h"
#include "tests/faults/fault_util.h"
#include "tests/fs/fs_fixture.h"

namespace ctrsnap::faulttest {
namespace {

using fstest::MountedFs;
using fstest::WriteFile;

int Connect(const std::string& path) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int e = errno;
    ::close(s);
    errno = e;
    return -1;
  }
  return s;
}

// Sends DATA, then reads one reply line (or until EOF / 15 s).
std::string Exchange(int s, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(s, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close on an oversized line
    off += static_cast<size_t>(n);
  }
  std::string reply;
  char buf[4096];
  for (;;) {
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, 15000) <= 0) return reply + "<timeout>";
    ssize_t n = ::recv(s, buf, sizeof(buf), 0);
    if (n <= 0) return reply.empty() ? "<closed>" : reply;
    reply.append(buf, static_cast<size_t>(n));
    if (reply.find('\n') != std::string::npos) return reply;
  }
}

class HostileControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    ASSERT_TRUE(WriteFile(fs_.L("f"), "f").ok());
    ASSERT_TRUE(fs_.Start().ok());
    sock_ = layout::ControlSocketPath(fs_.state());
  }
  MountedFs fs_;
  std::string sock_;
};

TEST_F(HostileControlTest, NonRootPeerIsRefusedEvenWhenItCanConnect) {
  // Open the path up so that nobody can connect at all: the peer check, not
  // the file mode, must refuse it.
  ASSERT_EQ(::chmod(fs_.dir().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(fs_.state().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(sock_.c_str(), 0777), 0);
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(2);
    int s = Connect(sock_);
    std::string reply = s < 0 ? std::string("<connect: ") + std::strerror(errno) + ">"
                              : Exchange(s, "{\"v\":1,\"op\":\"seal\"}\n");
    (void)!::write(pipefd[1], reply.data(), reply.size());
    _exit(0);
  }
  ::close(pipefd[1]);
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof(buf))) > 0;) reply.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int st;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  EXPECT_NE(reply.find("\"ok\":false"), std::string::npos) << reply;
  EXPECT_NE(reply.find("permission denied"), std::string::npos) << reply;
  // Nothing was sealed for it; root still gets served.
  auto status = ControlCall(fs_.state(), {{"op", "status"}});
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ((*status)["live"], 1);
}

TEST_F(HostileControlTest, MalformedRequestsGetErrorsAndTheDaemonKeepsServing) {
  static const char kNulRequest[] = "{\"op\":\"st\0atus\"}\n";
  const std::string requests[] = {
      "not json\n",
      "{\"op\":\"nosuch\"}\n",
      "{\"v\":99,\"op\":\"status\"}\n",
      "[1,2,3]\n",
      "{\"op\":\"seal\",\"label\":\"../../etc\"}\n",
      "{\"op\":\"seal\",\"label\":12}\n",
      "{\"op\":\"compact\",\"through\":-1}\n",
      std::string(kNulRequest, sizeof(kNulRequest) - 1),
      "{\"op\":\"status\"" + std::string(100000, ' ') + "}\n",  // > 64 KiB line
      std::string(200000, '{') + "\n",
      "\xff\xfe\xfd\n",
  };
  for (const auto& req : requests) {
    int s = Connect(sock_);
    ASSERT_GE(s, 0) << std::strerror(errno);
    std::string reply = Exchange(s, req);
    ::close(s);
    EXPECT_TRUE(reply == "<closed>" || reply.find("\"ok\":false") != std::string::npos)
        << req.substr(0, 60) << " -> " << reply;
    EXPECT_EQ(reply.find("<timeout>"), std::string::npos) << req.substr(0, 60);
    ASSERT_TRUE(Alive(fs_.pid()));
  }
  // A client that connects and says nothing, alongside a working one.
  int idle = Connect(sock_);
  ASSERT_GE(idle, 0);
  auto status = ControlCall(fs_.state(), {{"op", "status"}});
  EXPECT_TRUE(status.ok()) << status.status().ToString();
  ::close(idle);
  auto seal = fs_.Seal("ok");
  EXPECT_TRUE(seal.ok()) << seal.status().ToString();
}

}  // namespace
}  // namespace ctrsnap::faulttest
