// ctrsnap-runtime with plain runc bundles, as root (label runtime): every
// lifecycle command through the wrapper behaves as with runc, the container's
// writes land in the state dir's generations, the daemon is detached, delete
// unmounts and keeps the state.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "common/file_util.h"
#include "shim/fs_daemon.h"
#include "tests/runtime/harness.h"

namespace ctrsnap::testing {
namespace {

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (runc, FUSE mounts)";
    tmp_ = MakeTempDir("rt");
    state_root_ = tmp_ + "/state";
    runc_root_ = tmp_ + "/runc";
    WriteConfig({{"fs_binary", FsBinary()}});
    ::setenv("CTRSNAP_ROOT", state_root_.c_str(), 1);
    ::unsetenv("CTRSNAP_DISABLE");
  }
  void TearDown() override {
    if (tmp_.empty()) return;
    // Containers left by a failed test: force-delete through the wrapper,
    // which also unmounts; then any leftover mount under tmp.
    Sh("for id in $(runc --root " + runc_root_ + " list -q 2>/dev/null); do " + Wrapper() +
       " delete --force $id; done; grep -o ' " + tmp_ +
       "[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l", 60);
    (void)RemoveTree(tmp_);
  }
  void WriteConfig(const nlohmann::json& config) {
    WriteJson(tmp_ + "/config.json", config);
    ::setenv("CTRSNAP_CONFIG", (tmp_ + "/config.json").c_str(), 1);
  }
  std::string Wrapper() const { return BinDir() + "/ctrsnap-runtime --root " + runc_root_; }
  CmdResult W(const std::string& args, int timeout_s = 120) { return Sh(Wrapper() + " " + args, timeout_s); }
  std::string Bundle(const std::string& name, const std::vector<std::string>& args,
                     bool readonly = false) {
    std::string b = tmp_ + "/" + name;
    MakeBundle(b, args, readonly);
    return b;
  }
  std::string State(const std::string& id) const { return state_root_ + "/" + id; }
  std::string Status(const std::string& id) {
    CmdResult r = W("state " + id);
    if (r.rc != 0) return "gone";
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("status", "?") : "?";
  }
  bool WaitStatus(const std::string& id, const std::string& want) {
    for (int i = 0; i < 300; ++i) {
      if (Status(id) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  std::string tmp_, state_root_, runc_root_;
};

TEST_F(RuntimeTest, RunForegroundWritesLandInGenerations) {
  std::string b = Bundle("b", {"sh", "-c", "mkdir -p /data && echo payload > /data/file && cat /data/file"});
  CmdResult r = W("run -b " + b + " c-run");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("payload"), std::string::npos) << r.out;
  // The write went to the state dir, not to the original root.
  EXPECT_FALSE(GenerationsHolding(State("c-run"), "data/file").empty());
  struct stat st{};
  EXPECT_NE(::lstat((b + "/rootfs/data/file").c_str(), &st), 0);
  // run deleted the container: unmounted, daemon gone, state kept.
  EXPECT_EQ(MountTypeAt(b + "/rootfs"), "");
  EXPECT_FALSE(shim::StateLocked(State("c-run")));
  auto meta = ReadJson(State("c-run") + "/container.json");
  ASSERT_TRUE(meta.is_object());
  EXPECT_EQ(meta["id"], "c-run");
  EXPECT_EQ(meta["rootfs"], b + "/rootfs");
  EXPECT_EQ(meta["engine"], "plain");
  EXPECT_TRUE(ReadJson(State("c-run") + "/exit.json").is_object());
  EXPECT_TRUE(ReadJson(State("c-run") + "/config.orig.json").is_object());
  // The bundle's spec got the poststop hook once; the copy has none.
  auto spec = ReadJson(b + "/config.json");
  ASSERT_EQ(spec["hooks"]["poststop"].size(), 1u);
  EXPECT_FALSE(ReadJson(State("c-run") + "/config.orig.json").contains("hooks"));
  if (FsIsReal()) {
    auto fs = ReadJson(State("c-run") + "/fs.json");
    ASSERT_TRUE(fs.is_object());
    bool setup = false;
    for (const auto& g : fs["generations"]) setup = setup || g.value("label", "") == "setup";
    EXPECT_TRUE(setup) << fs.dump();
  }
}

TEST_F(RuntimeTest, LifecycleThroughWrapperAndDetachedDaemon) {
  std::string b = Bundle("b", {"sh", "-c", "echo started > /started; exec sleep 1000"});
  // A pipe the caller holds (containerd's shim waits for such pipes to
  // close): inherited by the wrapper, it must not reach the daemon. The
  // container's stdio is create's (runc passes it on), so that goes to a file.
  int caller_pipe[2];
  ASSERT_EQ(::pipe(caller_pipe), 0);
  std::string pipe_name = Sh("readlink /proc/" + std::to_string(::getpid()) + "/fd/" +
                             std::to_string(caller_pipe[1])).out;
  ASSERT_EQ(pipe_name.rfind("pipe:", 0), 0u) << pipe_name;
  pipe_name.pop_back();  // newline
  CmdResult c = W("create -b " + b + " c-life >" + tmp_ + "/create.out 2>&1 </dev/null", 60);
  ::close(caller_pipe[0]);
  ::close(caller_pipe[1]);
  ASSERT_EQ(c.rc, 0) << c.out;
  EXPECT_EQ(Status("c-life"), "created");
  EXPECT_TRUE(shim::IsFuseType(MountTypeAt(b + "/rootfs"))) << MountTypeAt(b + "/rootfs");

  auto pid = shim::LockHolderPid(State("c-life"));
  ASSERT_TRUE(pid.has_value());
  EXPECT_NE(::getsid(*pid), ::getsid(0)) << "daemon shares the caller's session";
  std::ifstream cg("/proc/" + std::to_string(*pid) + "/cgroup");
  std::string cgroups((std::istreambuf_iterator<char>(cg)), std::istreambuf_iterator<char>());
  EXPECT_NE(cgroups.find(":/ctrsnap\n"), std::string::npos) << cgroups;
  CmdResult fds = Sh("ls -l /proc/" + std::to_string(*pid) + "/fd");
  EXPECT_EQ(fds.out.find(pipe_name), std::string::npos) << pipe_name << " inherited:\n" << fds.out;
  CmdResult in = Sh("readlink /proc/" + std::to_string(*pid) + "/fd/0 /proc/" +
                    std::to_string(*pid) + "/fd/1");
  EXPECT_EQ(in.out, "/dev/null\n/dev/null\n");

  ASSERT_EQ(W("start c-life").rc, 0);
  ASSERT_TRUE(WaitStatus("c-life", "running"));
  CmdResult e;
  for (int i = 0; i < 50; ++i) {
    e = W("exec c-life cat /started");
    if (e.out.find("started") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(e.out.find("started"), std::string::npos) << e.out;
  EXPECT_EQ(W("exec c-life sh -c 'echo fromexec > /exec.txt'").rc, 0);
  CmdResult ps = W("ps c-life");
  EXPECT_EQ(ps.rc, 0) << ps.out;
  EXPECT_NE(ps.out.find("sleep"), std::string::npos) << ps.out;
  ASSERT_EQ(W("pause c-life").rc, 0);
  EXPECT_EQ(Status("c-life"), "paused");
  ASSERT_EQ(W("resume c-life").rc, 0);
  EXPECT_EQ(Status("c-life"), "running");
  // Host view of the root is the container's view (docker cp/export read it).
  std::ifstream host(b + "/rootfs/exec.txt");
  std::string line;
  std::getline(host, line);
  EXPECT_EQ(line, "fromexec");
  host.close();

  // delete of a running container without --force fails and changes nothing.
  EXPECT_NE(W("delete c-life").rc, 0);
  EXPECT_TRUE(shim::IsFuseType(MountTypeAt(b + "/rootfs")));
  ASSERT_EQ(W("kill c-life KILL").rc, 0);
  ASSERT_TRUE(WaitStatus("c-life", "stopped"));
  CmdResult d = W("delete c-life");
  ASSERT_EQ(d.rc, 0) << d.out;
  EXPECT_EQ(Status("c-life"), "gone");
  EXPECT_EQ(MountTypeAt(b + "/rootfs"), "");
  EXPECT_FALSE(shim::StateLocked(State("c-life")));
  EXPECT_FALSE(GenerationsHolding(State("c-life"), "exec.txt").empty());
  EXPECT_FALSE(GenerationsHolding(State("c-life"), "started").empty());
  auto exit = ReadJson(State("c-life") + "/exit.json");
  ASSERT_TRUE(exit.is_object());
  EXPECT_EQ(exit["by"], "poststop");
  if (FsIsReal()) {
    // The setup generation (sealed at start) holds runc's mount-point stubs
    // (the busybox root has no /proc) and no file of the container's.
    auto fs = ReadJson(State("c-life") + "/fs.json");
    int setups = 0;
    for (const auto& g : fs["generations"]) {
      if (g.value("label", "") != "setup") continue;
      ++setups;
      std::string upper = State("c-life") + "/gen/" + std::to_string(g["id"].get<int>()) + "/upper";
      EXPECT_EQ(::access((upper + "/proc").c_str(), F_OK), 0) << upper;
      EXPECT_NE(::access((upper + "/started").c_str(), F_OK), 0) << upper;
    }
    EXPECT_EQ(setups, 1) << fs.dump();
  }
}

// Post-mortem: after delete the container's root may be gone (an engine
// removes it), but what the generations need from it stays in STATE/lower: the
// data of a chmod'ed image file (metacopy) and a renamed image directory.
// A snapshot taken after the root was removed still holds both.
TEST_F(RuntimeTest, PostMortemSnapshotAfterTheRootIsGone) {
  if (!FsIsReal()) GTEST_SKIP() << "needs the real ctrsnap-fs";
  std::string b = Bundle("b", {"sh", "-c",
                               "while [ ! -e /go ]; do sleep 0.1; done; mv /data /moved; "
                               "chmod 640 /img.txt; echo new > /new.txt"});
  ASSERT_TRUE(MakeDirs(b + "/rootfs/data/sub").ok());
  { std::ofstream(b + "/rootfs/data/a.txt") << "a\n"; }
  { std::ofstream(b + "/rootfs/data/sub/b.txt") << "b\n"; }
  { std::ofstream(b + "/rootfs/img.txt") << "image-bytes\n"; }
  ::chmod((b + "/rootfs/img.txt").c_str(), 0644);
  ASSERT_EQ(W("create -b " + b + " c-pm").rc, 0);
  ASSERT_EQ(W("start c-pm").rc, 0);
  std::string ctrsnap = BinDir() + "/ctrsnap";
  // Snapshot 1 while it runs: the base comes from the (still present) root.
  CmdResult s1 = Sh(ctrsnap + " snapshot c-pm -o " + tmp_ + "/snap --tag pm:1 --no-progress");
  ASSERT_EQ(s1.rc, 0) << s1.out;
  { std::ofstream(b + "/rootfs/go") << "\n"; }  // through the mount: tracked
  ASSERT_TRUE(WaitStatus("c-pm", "stopped"));
  CmdResult d = W("delete c-pm");
  ASSERT_EQ(d.rc, 0) << d.out;
  auto marker = ReadJson(State("c-pm") + "/lower.residue.json");
  ASSERT_TRUE(marker.is_object());
  EXPECT_TRUE(marker["built"].get<bool>()) << marker.dump();
  EXPECT_EQ(marker["redirects"], 1) << marker.dump();
  auto residue = [&](const std::string& rel) {
    auto text = ReadFileToString(State("c-pm") + "/lower/" + rel);
    return text.ok() ? *text : std::string("<missing>");
  };
  EXPECT_EQ(residue("data/sub/b.txt"), "b\n");
  if (marker["metacopy_files"].get<int>() > 0) {
    EXPECT_EQ(residue("img.txt"), "image-bytes\n");
  }
  EXPECT_EQ(residue("bin/busybox"), "<missing>") << "the residue is not a copy of the root";
  // The engine removes the root; the snapshot must not need it.
  ASSERT_TRUE(RemoveTree(b + "/rootfs").ok());
  CmdResult s2 = Sh(ctrsnap + " snapshot c-pm -o " + tmp_ + "/snap --tag pm:2 --no-progress");
  ASSERT_EQ(s2.rc, 0) << s2.out;
  std::string out = tmp_ + "/unpacked";
  CmdResult unpack = Sh("umoci unpack --image " + tmp_ + "/snap:2 " + out + " || { rm -rf " + out +
                        "; umoci unpack --image " + tmp_ + "/snap:pm:2 " + out + "; }");
  ASSERT_EQ(unpack.rc, 0) << unpack.out;
  auto file = [&](const std::string& rel) {
    auto text = ReadFileToString(out + "/rootfs/" + rel);
    return text.ok() ? *text : std::string("<missing>");
  };
  EXPECT_EQ(file("moved/a.txt"), "a\n");
  EXPECT_EQ(file("moved/sub/b.txt"), "b\n");
  EXPECT_EQ(file("data/a.txt"), "<missing>");
  EXPECT_EQ(file("img.txt"), "image-bytes\n");
  EXPECT_EQ(file("new.txt"), "new\n");
  struct stat st{};
  ASSERT_EQ(::stat((out + "/rootfs/img.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

// `ctrsnap demo` with plain runc: the story runs to the end, the restored
// snapshot has the work and neither the cache nor the key, and the scratch
// directory is gone afterwards.
TEST_F(RuntimeTest, DemoWithPlainRunc) {
  if (!FsIsReal()) GTEST_SKIP() << "needs the real ctrsnap-fs";
  std::string work = tmp_ + "/demo";
  CmdResult r = Sh(BinDir() + "/ctrsnap demo --engine runc --workdir " + work, 300);
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const char* want : {"trainer 1.4.0: resuming from checkpoint-", "checkpoint-1.bin: OK",
                           ".env: not in the image", "pip cache: not in the image",
                           "OPENAI_API_KEY in the image's environment: no", "Done in"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("STILL THERE"), std::string::npos) << r.out;
  struct stat st{};
  EXPECT_NE(::stat(work.c_str(), &st), 0) << "the demo left " << work;
}

TEST_F(RuntimeTest, DeleteForceOfRunningContainer) {
  std::string b = Bundle("b", {"sleep", "1000"});
  ASSERT_EQ(W("run -d -b " + b + " c-force").rc, 0);
  ASSERT_TRUE(WaitStatus("c-force", "running"));
  CmdResult d = W("delete --force c-force");
  ASSERT_EQ(d.rc, 0) << d.out;
  EXPECT_EQ(Status("c-force"), "gone");
  EXPECT_EQ(MountTypeAt(b + "/rootfs"), "");
  EXPECT_FALSE(shim::StateLocked(State("c-force")));
}

// A create the real runtime refuses (here: a bind mount of a missing source)
// is never deleted by anyone (runtime-tools' validation suite left a daemon
// mounted over the bundle each time): the wrapper stops the daemon itself.
TEST_F(RuntimeTest, FailedCreateLeavesNoDaemonOrMount) {
  std::string b = Bundle("b", {"true"});
  auto config = ReadJson(b + "/config.json");
  config["mounts"].push_back({{"destination", "/missing"}, {"type", "bind"},
                              {"source", tmp_ + "/does-not-exist"}, {"options", {"rbind"}}});
  WriteJson(b + "/config.json", config);
  for (const std::string& cmd : {"create --bundle " + b + " c-bad", "run -d --bundle " + b + " c-bad2"}) {
    CmdResult r = W(cmd);
    EXPECT_NE(r.rc, 0) << cmd << ": " << r.out;
  }
  EXPECT_EQ(Status("c-bad"), "gone");
  EXPECT_EQ(MountTypeAt(b + "/rootfs"), "");
  EXPECT_FALSE(shim::StateLocked(State("c-bad")));
  EXPECT_FALSE(shim::StateLocked(State("c-bad2")));
  // The bundle is usable right away, as after a failed `runc create`.
  config["mounts"].erase(config["mounts"].size() - 1);
  WriteJson(b + "/config.json", config);
  CmdResult ok = W("run --bundle " + b + " c-good");
  EXPECT_EQ(ok.rc, 0) << ok.out;
}

TEST_F(RuntimeTest, RecreateResumesStateLikeDockerRestart) {
  std::string b = Bundle("b", {"sh", "-c", "test -f /kept && cat /kept || echo first > /kept"});
  ASSERT_EQ(W("run -b " + b + " c-re").rc, 0);
  auto meta1 = ReadJson(State("c-re") + "/container.json");
  CmdResult second = W("run -b " + b + " c-re");
  ASSERT_EQ(second.rc, 0) << second.out;
  EXPECT_NE(second.out.find("first"), std::string::npos)
      << "a file written before was lost on re-create: " << second.out;
  auto meta2 = ReadJson(State("c-re") + "/container.json");
  EXPECT_EQ(meta2["starts"], 2);
  EXPECT_EQ(meta2["created_unix_ns"], meta1["created_unix_ns"]);
  // Still exactly one hook after two edits of the same bundle.
  EXPECT_EQ(ReadJson(b + "/config.json")["hooks"]["poststop"].size(), 1u);
}

TEST_F(RuntimeTest, SameIdWithAnotherRootIsANewContainer) {
  std::string b1 = Bundle("b1", {"sh", "-c", "echo one > /marker"});
  ASSERT_EQ(W("run -b " + b1 + " c-same").rc, 0);
  std::string b2 = Bundle("b2", {"sh", "-c", "cat /marker || echo nomarker"});
  CmdResult r = W("run -b " + b2 + " c-same");
  EXPECT_NE(r.out.find("nomarker"), std::string::npos) << r.out;
  CmdResult aside = Sh("ls " + state_root_);
  EXPECT_NE(aside.out.find("c-same.replaced-"), std::string::npos) << aside.out;
}

TEST_F(RuntimeTest, ReadonlyRootStaysReadonly) {
  std::string b = Bundle("b", {"sh", "-c", "touch /x && echo wrote || echo refused"}, true);
  CmdResult r = W("run -b " + b + " c-ro");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("refused"), std::string::npos) << r.out;
  EXPECT_TRUE(ReadJson(b + "/config.json")["root"]["readonly"].get<bool>());
  EXPECT_TRUE(ReadJson(State("c-ro") + "/container.json")["readonly_root"].get<bool>());
}

TEST_F(RuntimeTest, OptOutByAnnotationAndEnv) {
  std::string b = Bundle("b", {"sh", "-c", "echo direct > /direct"});
  auto spec = ReadJson(b + "/config.json");
  spec["annotations"]["ctrsnap.disable"] = "true";
  WriteJson(b + "/config.json", spec);
  ASSERT_EQ(W("run -b " + b + " c-off").rc, 0);
  struct stat st{};
  EXPECT_NE(::stat(State("c-off").c_str(), &st), 0) << "opted-out container got a state dir";
  EXPECT_EQ(::stat((b + "/rootfs/direct").c_str(), &st), 0) << "write did not reach the root";
  EXPECT_FALSE(ReadJson(b + "/config.json").contains("hooks"));

  std::string b2 = Bundle("b2", {"sh", "-c", "echo direct > /direct"});
  CmdResult r = Sh("CTRSNAP_DISABLE=1 " + Wrapper() + " run -b " + b2 + " c-off2");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(::stat(State("c-off2").c_str(), &st), 0);
  EXPECT_EQ(::stat((b2 + "/rootfs/direct").c_str(), &st), 0);
}

TEST_F(RuntimeTest, ErrorsGoToTheJsonLog) {
  WriteConfig({{"fs_binary", "/bin/false"}});
  std::string b = Bundle("b", {"true"});
  std::string log = tmp_ + "/log.json";
  CmdResult r = Sh(BinDir() + "/ctrsnap-runtime --root " + runc_root_ + " --log " + log +
                   " --log-format json create --bundle " + b + " c-err");
  EXPECT_NE(r.rc, 0);
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  auto j = nlohmann::json::parse(last, nullptr, false);
  ASSERT_TRUE(j.is_object()) << last;
  EXPECT_EQ(j["level"], "error");
  EXPECT_NE(j["msg"].get<std::string>().find("ctrsnap-fs"), std::string::npos) << last;
  EXPECT_TRUE(j.contains("time"));
  EXPECT_EQ(Status("c-err"), "gone");
  EXPECT_EQ(MountTypeAt(b + "/rootfs"), "");
}

TEST_F(RuntimeTest, PassThroughCommandsNeedNoContainer) {
  CmdResult v = W("--version");
  EXPECT_EQ(v.rc, 0);
  EXPECT_NE(v.out.find("ctrsnap-runtime version"), std::string::npos);
  EXPECT_NE(v.out.find("runc version"), std::string::npos) << v.out;
  CmdResult f = W("features");
  EXPECT_EQ(f.rc, 0) << f.out;
  EXPECT_TRUE(nlohmann::json::parse(f.out, nullptr, false).is_object());
  CmdResult l = W("list");
  EXPECT_EQ(l.rc, 0) << l.out;
  CmdResult bad = W("state no-such-container");
  EXPECT_NE(bad.rc, 0);
  // The runtime's own wording reaches the caller.
  EXPECT_NE(bad.out.find("does not exist"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace ctrsnap::testing

namespace ctrsnap::testing {
namespace {

TEST_F(RuntimeTest, GcPrunesExitedNeverRunning) {
  std::string b1 = Bundle("b1", {"sh", "-c", "echo x > /x"});
  ASSERT_EQ(W("run -b " + b1 + " c-gc-exited").rc, 0);
  std::string b2 = Bundle("b2", {"sleep", "1000"});
  ASSERT_EQ(W("create -b " + b2 + " c-gc-live").rc, 0);
  CmdResult dry = Sh(BinDir() + "/ctrsnap gc --keep 0 --max-bytes 0 --dry-run --json");
  ASSERT_EQ(dry.rc, 0) << dry.out;
  auto rows = nlohmann::json::parse(dry.out, nullptr, false);
  ASSERT_TRUE(rows.is_array()) << dry.out;
  for (const auto& r : rows) {
    EXPECT_EQ(r["action"], r["id"] == "c-gc-exited" ? "would-prune" : "keep") << r.dump();
  }
  struct stat st{};
  ASSERT_EQ(::stat(State("c-gc-exited").c_str(), &st), 0) << "dry run removed something";
  CmdResult gc = Sh(BinDir() + "/ctrsnap gc --keep 0 --max-bytes 0");
  ASSERT_EQ(gc.rc, 0) << gc.out;
  EXPECT_NE(::stat(State("c-gc-exited").c_str(), &st), 0) << gc.out;
  EXPECT_EQ(::stat(State("c-gc-live").c_str(), &st), 0) << "pruned a running container's state";
  EXPECT_TRUE(shim::StateLocked(State("c-gc-live")));
  ASSERT_EQ(W("delete --force c-gc-live").rc, 0);
}

}  // namespace
}  // namespace ctrsnap::testing
