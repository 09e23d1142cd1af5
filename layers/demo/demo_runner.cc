#include "layers/demo/demo_runner.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/file_util.h"
#include "common/process.h"
#include "layers/demo/demo_bundle.h"
#include "layers/demo/demo_report.h"

namespace ctrsnap::demo {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// The last line of /work/progress in the container's root, as seen from the host.
std::string Progress(const std::string& rootfs) {
  auto text = ReadFileToString(rootfs + "/work/progress");
  if (!text.ok()) return "";
  std::string s = *text;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

Status WaitForProgress(const std::string& rootfs, const std::string& want, int timeout_s) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (Clock::now() < deadline) {
    auto text = ReadFileToString(rootfs + "/work/progress");
    if (text.ok() && text->find(want + "\n") != std::string::npos) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status(Code::kIo, "the container did not reach '" + want + "' within " +
                               std::to_string(timeout_s) + " s (last: '" + Progress(rootfs) + "')");
}

class Demo {
 public:
  explicit Demo(const DemoOptions& o) : o_(o) {}
  ~Demo() { Cleanup(); }

  Status Run();

 private:
  std::string Bin(const char* name) const { return o_.bin_dir + "/" + name; }
  Status Prepare();
  Status StartContainer();
  Result<json> Snapshot(int seq);
  Status StopContainer();
  Status RunSnapshotImage(const json& s);
  void Cleanup();

  DemoOptions o_;
  std::string dir_, bundle_, rootfs_, runc_root_, state_root_, id_, runc_;
  bool created_ = false;
  std::vector<std::string> check_ids_;
};

Status Demo::Prepare() {
  if (::geteuid() != 0) return Status(Code::kPermissionDenied, "ctrsnap demo must run as root");
  for (const char* b : {"ctrsnap", "ctrsnap-runtime", "ctrsnap-fs", "ctrsnap-hook"}) {
    if (::access(Bin(b).c_str(), X_OK) != 0) {
      return Status::NotFound(std::string(b) + " not found in " + o_.bin_dir);
    }
  }
  ASSIGN_OR_RETURN(runc_, FindProgram({"runc", "/usr/sbin/runc"}));
  RETURN_IF_ERROR(FindProgram({"umoci"}).status().WithContext("apt-get install umoci"));
  if (o_.work_dir.empty()) {
    char tmpl[] = "/var/tmp/ctrsnap-demo-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return Status::FromErrno(errno, "mkdtemp", tmpl);
    dir_ = tmpl;
  } else {
    dir_ = o_.work_dir;
    RETURN_IF_ERROR(MakeDirs(dir_, 0700));
  }
  bundle_ = dir_ + "/bundle";
  rootfs_ = bundle_ + "/rootfs";
  runc_root_ = dir_ + "/runc";
  state_root_ = dir_ + "/state";
  id_ = "ctrsnap-demo-" + std::to_string(::getpid());
  RETURN_IF_ERROR(MakeDirs(runc_root_, 0700));
  RETURN_IF_ERROR(MakeDirs(state_root_, 0700));
  // A private configuration: the demo never touches /etc/ctrsnap or /var/lib/ctrsnap.
  json config = {{"runtime", runc_},
                 {"state_root", state_root_},
                 {"fs_binary", Bin("ctrsnap-fs")},
                 {"hook_binary", Bin("ctrsnap-hook")}};
  RETURN_IF_ERROR(WriteFileAtomic(dir_ + "/config.json", config.dump(2) + "\n", 0600));
  ::setenv("CTRSNAP_CONFIG", (dir_ + "/config.json").c_str(), 1);  // NOLINT: single-threaded
  ::setenv("CTRSNAP_ROOT", state_root_.c_str(), 1);                 // NOLINT
  RETURN_IF_ERROR(MakeBusyboxRootfs(rootfs_));
  return WriteTrainerSpec(bundle_);
}

Status Demo::StartContainer() {
  std::vector<std::string> create = {Bin("ctrsnap-runtime"), "--root", runc_root_, "create",
                                     "--bundle", bundle_, id_};
  Show(create);
  ASSIGN_OR_RETURN(int rc, RunToFile(create, dir_ + "/container.log"));
  if (rc != 0) {
    auto log = ReadFileToString(dir_ + "/container.log");
    return Status(Code::kIo, "ctrsnap-runtime create exited " + std::to_string(rc) + ": " +
                                 (log.ok() ? *log : std::string()));
  }
  created_ = true;
  std::vector<std::string> start = {Bin("ctrsnap-runtime"), "--root", runc_root_, "start", id_};
  Show(start);
  RETURN_IF_ERROR(RunChecked(start).status());
  std::printf("   the container's root %s is now a ctrsnap-fs mount; its writes go to\n"
              "   generations under %s/%s\n",
              rootfs_.c_str(), state_root_.c_str(), id_.c_str());
  return Status::Ok();
}

Result<json> Demo::Snapshot(int seq) {
  std::string out = dir_ + "/snapshot-" + std::to_string(seq);
  std::string tag = "demo/trainer:snap-" + std::to_string(seq);
  std::vector<std::string> argv = {Bin("ctrsnap"), "snapshot", id_, "-o", out, "--tag", tag};
  Show(argv);
  argv.push_back("--json");
  argv.push_back("--no-progress");
  ASSIGN_OR_RETURN(std::string text, RunChecked(argv));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status::Corrupt("ctrsnap snapshot printed malformed JSON");
  j["demo_layout"] = out;
  j["demo_tag"] = tag;
  return j;
}

Status Demo::StopContainer() {
  std::vector<std::string> kill = {Bin("ctrsnap-runtime"), "--root", runc_root_, "kill", id_,
                                   "KILL"};
  Show(kill);
  (void)RunProcess(kill);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    auto st = RunProcess({runc_, "--root", runc_root_, "state", id_});
    if (!st.ok() || st->out.find("\"stopped\"") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<std::string> del = {Bin("ctrsnap-runtime"), "--root", runc_root_, "delete", id_};
  Show(del);
  RETURN_IF_ERROR(RunChecked(del).status());
  created_ = false;
  return Status::Ok();
}

Status Demo::RunSnapshotImage(const json& s) {
  std::string layout = s["demo_layout"].get<std::string>();
  std::string tag = s["demo_tag"].get<std::string>();
  std::string ref = tag.substr(tag.rfind(':') + 1);
  std::string restore = dir_ + "/restored";
  std::vector<std::string> unpack = {"umoci", "unpack", "--image", layout + ":" + ref, restore};
  Show(unpack);
  auto r = RunChecked(unpack);
  if (!r.ok()) {
    unpack[3] = layout + ":" + tag;  // layouts that name the image by its full reference
    RETURN_IF_ERROR(RunChecked(unpack).status());
  }
  RETURN_IF_ERROR(WriteCheckSpec(restore, kCheckScript));
  std::string check_id = id_ + "-restored";
  std::vector<std::string> run = {runc_, "--root", runc_root_, "run", "--bundle", restore,
                                  check_id};
  Show(run);
  check_ids_.push_back(check_id);
  ASSIGN_OR_RETURN(ProcessResult out, RunProcess(run));
  PrintLines(out.out + out.err, "   | ");
  if (out.exit_code != 0) {
    return Status(Code::kIo, "the snapshot image's container exited " +
                                 std::to_string(out.exit_code));
  }
  return Status::Ok();
}

void Demo::Cleanup() {
  for (const auto& id : check_ids_) (void)RunProcess({runc_, "--root", runc_root_, "delete", "--force", id});
  check_ids_.clear();
  if (created_) {
    (void)RunProcess({Bin("ctrsnap-runtime"), "--root", runc_root_, "delete", "--force", id_});
    created_ = false;
  }
  if (!dir_.empty() && !o_.keep) {
    Status st = RemoveTree(dir_);
    if (!st.ok()) std::fprintf(stderr, "ctrsnap demo: cleanup: %s\n", st.ToString().c_str());
    dir_.clear();
  }
}

Status Demo::Run() {
  auto t0 = Clock::now();
  std::printf(
      "ctrsnap demo: point-in-time snapshots of a running container, without docker commit,\n"
      "without pausing it, and without its caches or secrets.\n");
  Section(1, "A container: a busybox root filesystem and an OCI bundle");
  RETURN_IF_ERROR(Prepare());
  std::printf("   %s (plain runc, no container engine needed)\n", bundle_.c_str());

  Section(2, "Start it through ctrsnap-runtime, a drop-in for runc");
  RETURN_IF_ERROR(StartContainer());

  Section(3, "The container works like a training job");
  RETURN_IF_ERROR(WaitForProgress(rootfs_, kPhaseInstalled, 30));
  RETURN_IF_ERROR(WaitForProgress(rootfs_, std::string(kPhaseCheckpoint) + "1", 30));
  auto log = ReadFileToString(dir_ + "/container.log");
  if (log.ok()) PrintContainerLines(*log);

  Section(4, "Snapshot 1, while it keeps running");
  ASSIGN_OR_RETURN(json s1, Snapshot(1));
  Describe(1, s1);
  std::printf("   the container went on: %s\n", Progress(rootfs_).c_str());

  Section(5, "Snapshot 2, incremental: only what changed since snapshot 1");
  RETURN_IF_ERROR(WaitForProgress(rootfs_, std::string(kPhaseCheckpoint) + "3", 30));
  ASSIGN_OR_RETURN(json s2, Snapshot(2));
  Describe(2, s2);

  Section(6, "Stop the container (its state stays for post-mortem snapshots)");
  RETURN_IF_ERROR(StopContainer());

  Section(7, "Start snapshot 2 as a new container: the work survived");
  RETURN_IF_ERROR(RunSnapshotImage(s2));

  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf(
      "\nDone in %.1f s. With Docker, register the runtime (ctrsnap install docker), run\n"
      "`docker run --runtime ctrsnap ...`, and `ctrsnap snapshot NAME` loads the image into Docker.\n",
      secs);
  if (o_.keep) std::printf("Kept: %s\n", dir_.c_str());
  return Status::Ok();
}

}  // namespace

Status RunDemo(const DemoOptions& options) {
  ASSIGN_OR_RETURN(DemoEngine engine, ChooseEngine(options));
  if (engine == DemoEngine::kDocker) return RunDockerDemo(options);
  Demo demo(options);
  return demo.Run();
}

}  // namespace ctrsnap::demo
