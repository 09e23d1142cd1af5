#include "fusefs/control/control_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "common/control_client.h"
#include "common/file_util.h"
#include "common/state_layout.h"

namespace ctrsnap {
namespace {

using nlohmann::json;

// A handler that records what it was asked and answers like a daemon would.
class FakeHandler : public ControlHandler {
 public:
  Result<json> GetStatus() override {
    ++status_calls;
    return json{{"live", live.load()}, {"generations", json::array()}};
  }
  Result<json> Seal(const std::string& label) override {
    std::lock_guard<std::mutex> lock(mu);
    labels.push_back(label);
    if (fail_seal) return Status(Code::kBusy, "seal in progress");
    uint64_t sealed = live++;
    return json{{"sealed", sealed}, {"live", sealed + 1}, {"blocked_us", 12}};
  }
  Result<json> Flush() override {
    if (throw_on_flush) throw std::runtime_error("boom");
    return json{{"flushed", true}};
  }
  Result<json> Compact(const CompactArgs& args) override {
    std::lock_guard<std::mutex> lock(mu);
    compact_through = args.through;
    ++compact_calls;
    return json::array({1, 2});  // not an object: wrapped as {"result": ...}
  }
  Result<json> MarkExported(const std::vector<uint64_t>& gens, const std::string& digest) override {
    std::lock_guard<std::mutex> lock(mu);
    marked.push_back({gens, digest});
    return json{{"marked", gens}};
  }

  std::atomic<uint64_t> live{1};
  std::atomic<int> status_calls{0};
  std::mutex mu;
  std::vector<std::string> labels;
  std::optional<uint64_t> compact_through;
  int compact_calls = 0;
  std::vector<std::pair<std::vector<uint64_t>, std::string>> marked;
  bool fail_seal = false;
  bool throw_on_flush = false;
};

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/ctl.XXXXXX";  // short: sun_path holds 108 bytes
    state_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override {
    server_.reset();
    (void)RemoveTree(state_);
  }
  void StartServer(ControlServerOptions o = {}) {
    o.allowed_uid = ::getuid();
    Result<std::unique_ptr<ControlServer>> s = ControlServer::Start(state_, &handler_, o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
  }
  // A raw connection for sending arbitrary bytes.
  UniqueFd Connect() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = layout::ControlSocketPath(state_);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
        << std::strerror(errno);
    timeval tv{20, 0};  // generous: only guards against a hung test
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }
  static void Send(int fd, std::string_view data) {
    ASSERT_TRUE(WriteAll(fd, data).ok());
  }
  // Reads one reply line; "" at EOF/timeout.
  static std::string ReadLine(int fd) {
    std::string line;
    char c;
    while (::read(fd, &c, 1) == 1) {
      if (c == '\n') return line;
      line.push_back(c);
    }
    return line;
  }
  // The server closed the connection: EOF, or a reset when it closed with
  // bytes of ours still unread.
  static bool AtEof(int fd) {
    char c;
    ssize_t n = ::read(fd, &c, 1);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }
  static json ParseReply(const std::string& line) {
    json j = json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << line;
    return j;
  }

  std::string state_;
  FakeHandler handler_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlServerTest, ServesEveryOpThroughTheRealClient) {
  StartServer();
  Result<json> st = ControlCall(state_, {{"op", "status"}});
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ((*st)["live"], 1);
  EXPECT_EQ((*st)["v"], 1);

  Result<json> seal = ControlCall(state_, {{"op", "seal"}, {"label", "before-upgrade"}});
  ASSERT_TRUE(seal.ok()) << seal.status().ToString();
  EXPECT_EQ((*seal)["sealed"], 1);
  EXPECT_EQ((*seal)["live"], 2);
  Result<json> seal2 = ControlCall(state_, {{"op", "seal"}});
  ASSERT_TRUE(seal2.ok());
  EXPECT_EQ(handler_.labels, (std::vector<std::string>{"before-upgrade", ""}));

  Result<json> flush = ControlCall(state_, {{"op", "flush"}});
  ASSERT_TRUE(flush.ok());
  EXPECT_EQ((*flush)["flushed"], true);

  Result<json> compact = ControlCall(state_, {{"op", "compact"}, {"through", 3}});
  ASSERT_TRUE(compact.ok()) << compact.status().ToString();
  EXPECT_EQ((*compact)["result"], json::array({1, 2}));
  EXPECT_EQ(handler_.compact_through, std::optional<uint64_t>(3));
  ASSERT_TRUE(ControlCall(state_, {{"op", "compact"}}).ok());
  EXPECT_EQ(handler_.compact_through, std::nullopt);
  EXPECT_EQ(server_->requests_served(), 6u);
}

TEST_F(ControlServerTest, MarkExportedPassesSortedUniqueGenerationsAndDigest) {
  StartServer();
  const std::string digest = "sha256:" + std::string(64, 'a');
  Result<json> r = ControlCall(state_, {{"op", "mark_exported"},
                                        {"generations", json::array({3, 2, 3})},
                                        {"digest", digest}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["marked"], json::array({2, 3}));
  ASSERT_EQ(handler_.marked.size(), 1u);
  EXPECT_EQ(handler_.marked[0].first, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(handler_.marked[0].second, digest);
}

TEST_F(ControlServerTest, SocketIsMode0600AndStaleSocketIsReplaced) {
  // A stale socket file from a crashed daemon.
  {
    UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = layout::ControlSocketPath(state_);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::bind(stale.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  StartServer();
  struct stat sb {};
  ASSERT_EQ(::lstat(layout::ControlSocketPath(state_).c_str(), &sb), 0);
  EXPECT_TRUE(S_ISSOCK(sb.st_mode));
  EXPECT_EQ(sb.st_mode & 07777, 0600u);
  EXPECT_TRUE(ControlCall(state_, {{"op", "status"}}).ok());
  server_->Stop();
  EXPECT_NE(::lstat(layout::ControlSocketPath(state_).c_str(), &sb), 0);  // removed
  server_->Stop();  // idempotent
  EXPECT_FALSE(ControlCall(state_, {{"op", "status"}}, 1000).ok());
}

TEST_F(ControlServerTest, HandlerErrorsAndExceptionsBecomeErrorReplies) {
  StartServer();
  handler_.fail_seal = true;
  Result<json> seal = ControlCall(state_, {{"op", "seal"}});
  ASSERT_FALSE(seal.ok());
  EXPECT_NE(seal.status().message().find("seal in progress"), std::string::npos);
  handler_.throw_on_flush = true;
  Result<json> flush = ControlCall(state_, {{"op", "flush"}});
  ASSERT_FALSE(flush.ok());
  EXPECT_NE(flush.status().message().find("internal error: boom"), std::string::npos);
  EXPECT_TRUE(ControlCall(state_, {{"op", "status"}}).ok());
}

#define A63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A64 A63 "a"

TEST_F(ControlServerTest, MalformedRequestsGetErrorsAndTheConnectionStaysUsable) {
  StartServer();
  UniqueFd fd = Connect();
  const char* bad[] = {
      "not json",
      "[1,2,3]",
      "\"status\"",
      "{}",
      "{\"op\":5}",
      "{\"op\":\"reboot\"}",
      "{\"v\":2,\"op\":\"status\"}",
      "{\"v\":\"1\",\"op\":\"status\"}",
      "{\"op\":\"seal\",\"label\":5}",
      "{\"op\":\"seal\",\"label\":\"a/b\"}",
      "{\"op\":\"seal\",\"label\":\"tab\\there\"}",
      "{\"op\":\"compact\",\"through\":-1}",
      "{\"op\":\"compact\",\"through\":\"3\"}",
      "{\"op\":\"compact\",\"through\":1.5}",
      "{\"op\":\"mark_exported\"}",
      "{\"op\":\"mark_exported\",\"generations\":[],\"digest\":\"sha256:" A64 "\"}",
      "{\"op\":\"mark_exported\",\"generations\":2,\"digest\":\"sha256:" A64 "\"}",
      "{\"op\":\"mark_exported\",\"generations\":[0],\"digest\":\"sha256:" A64 "\"}",
      "{\"op\":\"mark_exported\",\"generations\":[-2],\"digest\":\"sha256:" A64 "\"}",
      "{\"op\":\"mark_exported\",\"generations\":[\"2\"],\"digest\":\"sha256:" A64 "\"}",
      "{\"op\":\"mark_exported\",\"generations\":[2.5],\"digest\":\"sha256:" A64 "\"}",
      "{\"op\":\"mark_exported\",\"generations\":[[2]],\"digest\":\"sha256:" A64 "\"}",
      "{\"op\":\"mark_exported\",\"generations\":[2]}",
      "{\"op\":\"mark_exported\",\"generations\":[2],\"digest\":7}",
      "{\"op\":\"mark_exported\",\"generations\":[2],\"digest\":\"sha256:abc\"}",
      "{\"op\":\"mark_exported\",\"generations\":[2],\"digest\":\"md5:" A64 "\"}",
      "{\"op\":\"mark_exported\",\"generations\":[2],\"digest\":\"sha256:" A64 "/../x\"}",
      "{\"op\":\"mark_exported\",\"generations\":[2],\"digest\":\"sha256:" A63 "\\n\"}",
      "{\"op\":\"mark_exported\",\"generations\":[2],\"digest\":\"sha256:" A63 "A\"}",
      "{\"op\":\"status\"",
      "{\"op\":\"\xff\xfe\"}",
      "\x01\x02",
  };
  for (const char* b : bad) {
    Send(fd.get(), std::string(b) + "\n");
    json r = ParseReply(ReadLine(fd.get()));
    EXPECT_EQ(r["ok"], false) << b;
    EXPECT_EQ(r["v"], 1) << b;
    EXPECT_TRUE(r["error"].is_string()) << b;
  }
  EXPECT_TRUE(handler_.labels.empty());
  EXPECT_EQ(handler_.compact_calls, 0);
  EXPECT_TRUE(handler_.marked.empty());
  // Two requests in one write, CRLF, and blank lines are fine.
  Send(fd.get(), "\n{\"op\":\"status\"}\r\n{\"v\":1,\"op\":\"status\"}\n");
  EXPECT_EQ(ParseReply(ReadLine(fd.get()))["ok"], true);
  EXPECT_EQ(ParseReply(ReadLine(fd.get()))["ok"], true);
}

TEST_F(ControlServerTest, OversizedLineIsAnsweredAndCutOff) {
  StartServer();
  UniqueFd fd = Connect();
  std::string huge = "{\"op\":\"seal\",\"label\":\"" + std::string(100 * 1024, 'a');
  // The server may hang up before reading everything: ignore EPIPE.
  (void)::send(fd.get(), huge.data(), huge.size(), MSG_NOSIGNAL);
  json r = ParseReply(ReadLine(fd.get()));
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("64 KiB"), std::string::npos);
  EXPECT_TRUE(AtEof(fd.get()));
  EXPECT_TRUE(handler_.labels.empty());
  EXPECT_TRUE(ControlCall(state_, {{"op", "status"}}).ok());
}

TEST_F(ControlServerTest, SlowClientIsTimedOutWhileOthersAreServed) {
  ControlServerOptions o;
  o.request_timeout = std::chrono::milliseconds(300);
  o.idle_timeout = std::chrono::milliseconds(300);
  StartServer(o);
  UniqueFd slow = Connect();
  Send(slow.get(), "{\"op\":");  // and nothing more
  UniqueFd idle = Connect();     // sends nothing at all
  // Others are served meanwhile.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ControlCall(state_, {{"op", "status"}}).ok());
  json r = ParseReply(ReadLine(slow.get()));
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"], "request timed out");
  EXPECT_TRUE(AtEof(slow.get()));
  EXPECT_TRUE(AtEof(idle.get()));  // closed without a reply
}

TEST_F(ControlServerTest, TooManyConnectionsAreTurnedAway) {
  ControlServerOptions o;
  o.max_connections = 2;
  StartServer(o);
  UniqueFd a = Connect();
  UniqueFd b = Connect();
  // Make sure both are being served before the third arrives.
  Send(a.get(), "{\"op\":\"status\"}\n");
  Send(b.get(), "{\"op\":\"status\"}\n");
  ASSERT_EQ(ParseReply(ReadLine(a.get()))["ok"], true);
  ASSERT_EQ(ParseReply(ReadLine(b.get()))["ok"], true);
  UniqueFd c = Connect();
  json r = ParseReply(ReadLine(c.get()));
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("busy"), std::string::npos);
  EXPECT_GE(server_->peers_refused(), 1u);
  a.reset();
  b.reset();
  // Finished connections are reaped (about once a second): retry for a while.
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    served = ControlCall(state_, {{"op", "status"}}).ok();
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(served);
}

TEST_F(ControlServerTest, StopWakesConnectedClients) {
  StartServer();
  UniqueFd fd = Connect();
  Send(fd.get(), "{\"op\":\"status\"}\n");
  ASSERT_EQ(ParseReply(ReadLine(fd.get()))["ok"], true);
  Send(fd.get(), "{\"op\":");  // partial request pending
  server_->Stop();             // must not wait for the idle timeout (60 s)
  EXPECT_TRUE(AtEof(fd.get()));
}

// A non-root peer (SO_PEERCRED uid != 0) is refused with an error reply.
TEST_F(ControlServerTest, NonRootPeerIsRefused) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root to switch to another uid";
  Result<std::unique_ptr<ControlServer>> s = ControlServer::Start(state_, &handler_, {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  server_ = std::move(s).value();
  ASSERT_TRUE(ControlCall(state_, {{"op", "status"}}).ok());  // root is served
  const std::string sock = layout::ControlSocketPath(state_);
  // 1) With the socket's own 0600 mode, nobody cannot even connect.
  // 2) With the mode opened up (as a misconfiguration would), the uid check
  //    still refuses, with an error reply.
  ASSERT_EQ(::chmod(state_.c_str(), 0755), 0);
  for (bool open_mode : {false, true}) {
    if (open_mode) {
      ASSERT_EQ(::chmod(sock.c_str(), 0666), 0);
    }
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(pipefd[0]);
      std::string out;
      if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
        out = "setresuid failed";
      } else {
        Result<json> r = ControlCall(state_, {{"op", "seal"}, {"label", "evil"}}, 5000);
        out = r.ok() ? "OK" : r.status().message();
      }
      (void)!::write(pipefd[1], out.data(), out.size());
      ::_exit(0);
    }
    ::close(pipefd[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (open_mode) {
      EXPECT_NE(out.find("permission denied"), std::string::npos) << out;
      EXPECT_NE(out.find("uid 0 only"), std::string::npos) << out;
    } else {
      EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;  // connect: EACCES
    }
  }
  EXPECT_TRUE(handler_.labels.empty());
  EXPECT_EQ(server_->peers_refused(), 1u);
  EXPECT_TRUE(ControlCall(state_, {{"op", "status"}}).ok());
}

TEST(HandleControlRequestTest, RandomBytesNeverCrash) {
  FakeHandler h;
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]\":,0123456789.-eE truefalsnul\\op\xff\x01";
  for (int i = 0; i < 20000; ++i) {
    std::string line;
    size_t n = rng() % 64;
    for (size_t k = 0; k < n; ++k) line.push_back(alphabet[rng() % alphabet.size()]);
    if (i % 3 == 0) line = "{\"op\":\"seal\",\"label\":" + line + "}";
    std::string reply = HandleControlRequest(h, line);
    json r = json::parse(reply, nullptr, false);
    ASSERT_FALSE(r.is_discarded()) << reply;
    ASSERT_TRUE(r.contains("ok"));
  }
}

TEST(HandleControlRequestTest, DeepNestingIsRejectedNotACrash) {
  FakeHandler h;
  std::string deep(20000, '[');
  json r = json::parse(HandleControlRequest(h, deep), nullptr, false);
  EXPECT_EQ(r["ok"], false);
}

}  // namespace
}  // namespace ctrsnap
