// End-to-end tests of `ctrsnap log`, `status` and `seal` with the built
// binary: journals written by the real ChangeJournal, a real ControlServer
// (with a fake handler standing in for the daemon).
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "fusefs/control/control_server.h"
#include "fusefs/journal/change_journal.h"
#include "layers/cli/cli_test_util.h"
#include "layers/cli/state_arg.h"

namespace ctrsnap::cli {
namespace {

using nlohmann::json;
using testing::Lines;
using testing::RunCtrsnap;

class CliJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/clij.XXXXXX";  // short: holds a unix socket
    state_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { (void)RemoveTree(state_); }

  static JournalEntry E(JournalOp op, std::string path, int32_t pid, std::string comm) {
    JournalEntry e;
    e.op = op;
    e.path = std::move(path);
    e.pid = pid;
    e.comm = std::move(comm);
    e.uid = 0;
    return e;
  }
  // gen 1: create + write /etc/app.conf (pip), gen 2: rename + unlink.
  void WriteJournal() {
    auto j = ChangeJournal::Open(state_, 1);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    (*j)->Record(E(JournalOp::kCreate, "/etc/app.conf", 100, "pip"));
    JournalEntry w = E(JournalOp::kWrite, "/etc/app.conf", 100, "pip");
    w.length = 10;
    (*j)->RecordWrite(7, w);
    w.offset = 10;
    (*j)->RecordWrite(7, w);
    (*j)->ReleaseHandle(7);
    (*j)->Record(E(JournalOp::kMkdir, "/root/.cache", 200, "bash"));
    ASSERT_TRUE((*j)->Rotate(2).ok());
    JournalEntry r = E(JournalOp::kRename, "/etc/app.conf", 300, "mv");
    r.path2 = "/etc/app.conf.bak";
    (*j)->Record(r);
    (*j)->Record(E(JournalOp::kUnlink, "/tmp/x\x1b[31mred", 300, "rm"));
  }

  std::string state_;
};

TEST_F(CliJournalTest, LogPrintsTableAndJsonLines) {
  WriteJournal();
  auto r = RunCtrsnap({"log", "--state", state_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;  // header + 5 records
  EXPECT_NE(lines[0].find("SEQ"), std::string::npos);
  EXPECT_NE(lines[1].find("create"), std::string::npos);
  EXPECT_NE(lines[1].find("pip"), std::string::npos);
  EXPECT_NE(lines[2].find("[0, +20) 2 writes"), std::string::npos) << lines[2];
  EXPECT_NE(lines[4].find("-> /etc/app.conf.bak"), std::string::npos) << lines[4];
  // A container-chosen name cannot put escape sequences on the terminal.
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_NE(lines[5].find("/tmp/x\\x1b[31mred"), std::string::npos) << lines[5];

  auto j = RunCtrsnap({"log", "--state", state_, "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto jl = Lines(j.out);
  ASSERT_EQ(jl.size(), 5u);
  for (size_t i = 0; i < jl.size(); ++i) {
    json e = json::parse(jl[i]);
    EXPECT_EQ(e["seq"], i + 1);
  }
  EXPECT_EQ(json::parse(jl[1])["op"], "write");
  EXPECT_EQ(json::parse(jl[1])["length"], 20);
  EXPECT_EQ(json::parse(jl[3])["gen"], 2);
}

TEST_F(CliJournalTest, LogFilters) {
  WriteJournal();
  auto by_path = RunCtrsnap({"log", "--state", state_, "--json", "--path", "/etc/*"});
  ASSERT_EQ(by_path.exit_code, 0);
  EXPECT_EQ(Lines(by_path.out).size(), 3u);  // create, write, rename
  auto by_target = RunCtrsnap({"log", "--state", state_, "--json", "--path", "*.bak"});
  EXPECT_EQ(Lines(by_target.out).size(), 1u);  // rename, by its second path
  auto by_pid = RunCtrsnap({"log", "--state", state_, "--json", "--pid", "300"});
  EXPECT_EQ(Lines(by_pid.out).size(), 2u);
  auto by_gen = RunCtrsnap({"log", "--state", state_, "--json", "--gen", "1"});
  EXPECT_EQ(Lines(by_gen.out).size(), 3u);
  auto by_op = RunCtrsnap({"log", "--state", state_, "--json", "--op", "mkdir"});
  ASSERT_EQ(Lines(by_op.out).size(), 1u);
  EXPECT_EQ(json::parse(by_op.out)["path"], "/root/.cache");
  EXPECT_EQ(RunCtrsnap({"log", "--state", state_, "--op", "explode"}).exit_code, 2);
  EXPECT_EQ(RunCtrsnap({"log", "--state", state_, "--gen", "9"}).exit_code, 1);
  EXPECT_EQ(RunCtrsnap({"log", "--state", state_, "--pid", "notanumber"}).exit_code, 2);
}

TEST_F(CliJournalTest, LogSkipsATornTailWithAWarning) {
  WriteJournal();
  {
    std::ofstream out(layout::JournalPath(state_, 2), std::ios::binary | std::ios::app);
    out << std::string("\x40\x00\x00\x00\x12\x34", 6);
  }
  auto r = RunCtrsnap({"log", "--state", state_, "--json"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(Lines(r.out).size(), 5u);
  EXPECT_NE(r.err.find("skipped 6 bytes"), std::string::npos) << r.err;
}

TEST_F(CliJournalTest, LogFollowsAcrossASeal) {
  auto j = ChangeJournal::Open(state_, 1, JournalOptions{.flush_interval = std::chrono::milliseconds(20)});
  ASSERT_TRUE(j.ok());
  (*j)->Record(E(JournalOp::kCreate, "/first", 1, "a"));
  ASSERT_TRUE((*j)->Flush().ok());

  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::close(pipefd[0]);
    std::string bin = testing::CtrsnapBin();
    ::execl(bin.c_str(), bin.c_str(), "log", "--state", state_.c_str(), "--json", "--follow",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipefd[1]);
  (*j)->Record(E(JournalOp::kCreate, "/second", 1, "a"));
  ASSERT_TRUE((*j)->Rotate(2).ok());
  (*j)->Record(E(JournalOp::kCreate, "/third-after-seal", 1, "a"));
  ASSERT_TRUE((*j)->Flush().ok());

  // Read until the third record shows up (generous bound; not a timing test).
  std::string got;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (got.find("third-after-seal") == std::string::npos &&
         std::chrono::steady_clock::now() < give_up) {
    pollfd p{pipefd[0], POLLIN, 0};
    if (::poll(&p, 1, 500) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(pipefd[0], buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  ::close(pipefd[0]);
  auto lines = Lines(got);
  ASSERT_EQ(lines.size(), 3u) << got;
  EXPECT_EQ(json::parse(lines[0])["path"], "/first");
  EXPECT_EQ(json::parse(lines[1])["path"], "/second");
  EXPECT_EQ(json::parse(lines[2])["path"], "/third-after-seal");
  EXPECT_EQ(json::parse(lines[2])["gen"], 2);
}

TEST_F(CliJournalTest, ContainerIdAndPrefixResolveUnderCtrsnapRoot) {
  std::string root = state_ + "/root";
  ASSERT_TRUE(MakeDirs(root + "/abc123/journal").ok());
  ASSERT_TRUE(MakeDirs(root + "/abd456").ok());
  std::string env = "CTRSNAP_ROOT=" + root;
  {
    auto j = ChangeJournal::Open(root + "/abc123", 1);
    ASSERT_TRUE(j.ok());
    (*j)->Record(E(JournalOp::kMkdir, "/in-abc", 1, "a"));
  }
  auto full = RunCtrsnap({"log", "abc123", "--json"}, {env});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_NE(full.out.find("/in-abc"), std::string::npos);
  auto prefix = RunCtrsnap({"log", "abc", "--json"}, {env});
  ASSERT_EQ(prefix.exit_code, 0) << prefix.err;
  EXPECT_EQ(prefix.out, full.out);
  auto ambiguous = RunCtrsnap({"log", "ab"}, {env});
  EXPECT_EQ(ambiguous.exit_code, 2);
  EXPECT_NE(ambiguous.err.find("ambiguous"), std::string::npos);
  EXPECT_EQ(RunCtrsnap({"log", "zzz"}, {env}).exit_code, 1);
  EXPECT_EQ(RunCtrsnap({"log", "../etc"}, {env}).exit_code, 2);
  EXPECT_EQ(RunCtrsnap({"log", "abc", "--state", root + "/abc123"}, {env}).exit_code, 2);

  StateArgs both{"", "abd"};
  Result<std::string> r = ResolveStateDirIn(root, both);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, root + "/abd456");
}

class FakeDaemon : public ControlHandler {
 public:
  Result<json> GetStatus() override {
    return json{{"live", 3},
                {"generations",
                 {{{"id", 1}, {"label", "setup"}, {"sealed", true}, {"bytes", 2048}, {"files", 4}},
                  {{"id", 2}, {"label", "nightly"}, {"sealed", true}, {"bytes", 10}, {"files", 1}},
                  {{"id", 3}, {"label", ""}, {"sealed", false}, {"bytes", 0}, {"files", 0}}}},
                {"journal", {{"records", 42}}}};
  }
  Result<json> Seal(const std::string& label) override {
    labels.push_back(label);
    return json{{"sealed", 3}, {"live", 4}, {"blocked_us", 850}};
  }
  Result<json> Flush() override { return json::object(); }
  Result<json> Compact(const CompactArgs&) override { return json::object(); }
  Result<json> MarkExported(const std::vector<uint64_t>&, const std::string&) override {
    return json{{"marked", json::array()}};
  }
  std::vector<std::string> labels;
};

TEST_F(CliJournalTest, StatusAndSealThroughTheControlSocket) {
  FakeDaemon daemon;
  ControlServerOptions o;
  o.allowed_uid = ::getuid();
  auto server = ControlServer::Start(state_, &daemon, o);
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  auto st = RunCtrsnap({"status", "--state", state_});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_NE(st.out.find("daemon:  running"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("nightly"), std::string::npos);
  EXPECT_NE(st.out.find("2.0 KiB"), std::string::npos);
  EXPECT_NE(st.out.find("records=42"), std::string::npos);
  auto sj = RunCtrsnap({"status", "--state", state_, "--json"});
  ASSERT_EQ(sj.exit_code, 0);
  json s = json::parse(sj.out);
  EXPECT_EQ(s["daemon"], "running");
  EXPECT_EQ(s["live"], 3);
  EXPECT_FALSE(s.contains("ok"));

  auto seal = RunCtrsnap({"seal", "--state", state_, "--label", "before-upgrade"});
  ASSERT_EQ(seal.exit_code, 0) << seal.err;
  EXPECT_NE(seal.out.find("sealed generation 3 (before-upgrade)"), std::string::npos) << seal.out;
  EXPECT_NE(seal.out.find("blocked 850 us"), std::string::npos);
  auto seal_json = RunCtrsnap({"seal", "--state", state_, "--json"});
  ASSERT_EQ(seal_json.exit_code, 0);
  EXPECT_EQ(json::parse(seal_json.out)["live"], 4);
  // The daemon refuses a bad label: the CLI reports its error.
  auto bad = RunCtrsnap({"seal", "--state", state_, "--label", "a/b"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("label"), std::string::npos) << bad.err;
  EXPECT_EQ(daemon.labels, (std::vector<std::string>{"before-upgrade", ""}));

  (*server)->Stop();
  auto down = RunCtrsnap({"seal", "--state", state_});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("is ctrsnap-fs running"), std::string::npos) << down.err;
}

TEST_F(CliJournalTest, StatusWithoutTheDaemonReadsTheStateDirectory) {
  FsMeta meta;
  meta.lowerdirs = {"/nonexistent-lower"};
  meta.generations = {{1, "setup", true, 1, 2, ""}, {2, "", false, 3, 0, ""}};
  ASSERT_TRUE(MakeDirs(layout::UpperDir(state_, 1) + "/etc").ok());
  ASSERT_TRUE(MakeDirs(layout::UpperDir(state_, 2)).ok());
  ASSERT_TRUE(WriteFileAtomic(layout::UpperDir(state_, 1) + "/etc/a", std::string(3000, 'a')).ok());
  ASSERT_TRUE(WriteFileAtomic(layout::UpperDir(state_, 1) + "/etc/b", "bb").ok());
  ASSERT_TRUE(meta.Save(state_).ok());
  auto r = RunCtrsnap({"status", "--state", state_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json s = json::parse(r.out);
  EXPECT_EQ(s["daemon"], "not running");
  EXPECT_EQ(s["live"], 2);
  EXPECT_EQ(s["generations"][0]["bytes"], 3002);
  EXPECT_EQ(s["generations"][0]["files"], 2);
  EXPECT_EQ(s["generations"][1]["files"], 0);
  auto h = RunCtrsnap({"status", "--state", state_});
  ASSERT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("not running"), std::string::npos);
  EXPECT_NE(h.out.find("setup"), std::string::npos);
  // No state at all: an error, not a crash.
  EXPECT_EQ(RunCtrsnap({"status", "--state", state_ + "/nope"}).exit_code, 1);
}

}  // namespace
}  // namespace ctrsnap::cli
