// `ctrsnap demo` through Docker: the same story as the runc mode
// (demo_runner.cc), with `docker run --runtime ctrsnap`, snapshots loaded into
// Docker, and, after `docker rm`, a post-mortem snapshot that `docker commit`
// could not take.
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/config.h"
#include "common/file_util.h"
#include "common/process.h"
#include "layers/demo/demo_bundle.h"
#include "layers/demo/demo_report.h"
#include "layers/demo/demo_runner.h"

namespace ctrsnap::demo {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

class DockerDemo {
 public:
  explicit DockerDemo(const DemoOptions& o) : o_(o) {}
  ~DockerDemo() { Cleanup(); }

  Status Run();

 private:
  std::string Bin(const char* name) const { return o_.bin_dir + "/" + name; }
  std::vector<std::string> Docker(std::vector<std::string> args) const {
    args.insert(args.begin(), docker_);
    return args;
  }
  Status Prepare();
  Status StartContainer();
  std::string Progress();
  Status WaitForProgress(const std::string& want, int timeout_s);
  Result<json> Snapshot(int seq, const std::string& target);
  Status RunSnapshotImage(const std::string& image);
  void Cleanup();

  DemoOptions o_;
  std::string docker_, dir_, base_image_, name_, id_, state_root_;
  std::vector<std::string> images_;  // to remove at the end
  bool created_ = false;
};

Status DockerDemo::Prepare() {
  if (::geteuid() != 0) return Status(Code::kPermissionDenied, "ctrsnap demo must run as root");
  ASSIGN_OR_RETURN(docker_, FindProgram({"docker"}));
  ASSIGN_OR_RETURN(std::string runtimes,
                   RunChecked(Docker({"info", "--format", "{{json .Runtimes}}"})));
  if (runtimes.find("\"ctrsnap\"") == std::string::npos) {
    return Status::NotFound("Docker has no runtime named ctrsnap: run `ctrsnap install docker` and "
                            "reload dockerd");
  }
  // Where the runtime Docker runs keeps its state: the same config as ours.
  ASSIGN_OR_RETURN(Config config, Config::LoadDefault());
  state_root_ = config.state_root;
  if (o_.work_dir.empty()) {
    char tmpl[] = "/var/tmp/ctrsnap-demo-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return Status::FromErrno(errno, "mkdtemp", tmpl);
    dir_ = tmpl;
  } else {
    dir_ = o_.work_dir;
    RETURN_IF_ERROR(MakeDirs(dir_, 0700));
  }
  std::string pid = std::to_string(::getpid());
  name_ = "ctrsnap-demo-" + pid;
  base_image_ = "ctrsnap-demo/trainer:base-" + pid;
  RETURN_IF_ERROR(MakeBusyboxRootfs(dir_ + "/rootfs"));
  std::string tar = dir_ + "/rootfs.tar";
  RETURN_IF_ERROR(RunChecked({"tar", "-C", dir_ + "/rootfs", "-cf", tar, "."}).status());
  std::vector<std::string> import = Docker({"import", tar, base_image_});
  Show(import);
  RETURN_IF_ERROR(RunChecked(import).status());
  images_.push_back(base_image_);
  return Status::Ok();
}

Status DockerDemo::StartContainer() {
  std::vector<std::string> run =
      Docker({"run", "-d", "--runtime", "ctrsnap", "--name", name_, "--hostname", "trainer",
              "-w", "/work", "-e", kTrainerPath, "-e", kTrainerHome, "-e",
              std::string("OPENAI_API_KEY=") + kFakeApiKey, base_image_, "/bin/sh", "-c",
              TrainerScript()});
  Show(run, 100);
  ASSIGN_OR_RETURN(ProcessResult r, RunProcess(run));
  if (r.exit_code != 0) {
    return Status(Code::kIo, "docker run exited " + std::to_string(r.exit_code) + ": " + r.err);
  }
  created_ = true;
  id_ = Trim(r.out);
  std::printf("   container %s: its root is a ctrsnap-fs mount; its writes go to\n"
              "   generations under %s/%s\n",
              id_.substr(0, 12).c_str(), state_root_.c_str(), id_.c_str());
  return Status::Ok();
}

// The last line of /work/progress, read inside the container.
std::string DockerDemo::Progress() {
  auto r = RunProcess(Docker({"exec", name_, "cat", "/work/progress"}));
  if (!r.ok() || r->exit_code != 0) return "";
  std::string s = Trim(r->out);
  auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

Status DockerDemo::WaitForProgress(const std::string& want, int timeout_s) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (Clock::now() < deadline) {
    auto r = RunProcess(Docker({"exec", name_, "cat", "/work/progress"}));
    if (r.ok() && r->exit_code == 0 && r->out.find(want + "\n") != std::string::npos) {
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status(Code::kIo, "the container did not reach '" + want + "' within " +
                               std::to_string(timeout_s) + " s (last: '" + Progress() + "')");
}

Result<json> DockerDemo::Snapshot(int seq, const std::string& target) {
  std::string tag = "ctrsnap-demo/trainer:snap-" + std::to_string(seq) + "-" +
                    std::to_string(::getpid());
  std::vector<std::string> argv = {Bin("ctrsnap"), "snapshot", target, "--tag", tag};
  Show(argv);
  argv.push_back("--json");
  argv.push_back("--no-progress");
  ASSIGN_OR_RETURN(std::string text, RunChecked(argv));
  images_.push_back(tag);
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status::Corrupt("ctrsnap snapshot printed malformed JSON");
  j["demo_tag"] = tag;
  std::printf("   loaded into Docker as %s\n", tag.c_str());
  return j;
}

Status DockerDemo::RunSnapshotImage(const std::string& image) {
  std::vector<std::string> run = Docker({"run", "--rm", image, "/bin/sh", "-c", kCheckScript});
  Show(run, 60);
  ASSIGN_OR_RETURN(ProcessResult out, RunProcess(run));
  PrintLines(out.out + out.err, "   | ");
  if (out.exit_code != 0) {
    return Status(Code::kIo, "the snapshot image's container exited " +
                                 std::to_string(out.exit_code));
  }
  return Status::Ok();
}

void DockerDemo::Cleanup() {
  if (created_) (void)RunProcess(Docker({"rm", "-f", name_}));
  created_ = false;
  for (const auto& image : images_) (void)RunProcess(Docker({"rmi", "-f", image}));
  images_.clear();
  // The container's ctrsnap state, kept for post-mortem snapshots, is the
  // demo's own: gone with it (retention would prune it later anyway).
  if (!id_.empty() && !o_.keep) {
    Status st = RemoveTree(state_root_ + "/" + id_);
    if (!st.ok()) std::fprintf(stderr, "ctrsnap demo: cleanup: %s\n", st.ToString().c_str());
    id_.clear();
  }
  if (!dir_.empty() && !o_.keep) {
    Status st = RemoveTree(dir_);
    if (!st.ok()) std::fprintf(stderr, "ctrsnap demo: cleanup: %s\n", st.ToString().c_str());
    dir_.clear();
  }
}

Status DockerDemo::Run() {
  auto t0 = Clock::now();
  std::printf(
      "ctrsnap demo (Docker): point-in-time snapshots of a running container, without docker\n"
      "commit, without pausing it, and without its caches or secrets.\n");
  Section(1, "An image: a busybox root filesystem, imported into Docker");
  RETURN_IF_ERROR(Prepare());

  Section(2, "Run it with the ctrsnap runtime (registered in Docker's daemon.json)");
  RETURN_IF_ERROR(StartContainer());

  Section(3, "The container works like a training job");
  RETURN_IF_ERROR(WaitForProgress(kPhaseInstalled, 30));
  RETURN_IF_ERROR(WaitForProgress(std::string(kPhaseCheckpoint) + "1", 30));
  auto logs = RunProcess(Docker({"logs", name_}));
  if (logs.ok()) PrintContainerLines(logs->out + logs->err);

  Section(4, "Snapshot 1, while it keeps running");
  ASSIGN_OR_RETURN(json s1, Snapshot(1, name_));
  Describe(1, s1);
  std::printf("   the container went on: %s\n", Progress().c_str());

  Section(5, "Snapshot 2, incremental: only what changed since snapshot 1");
  RETURN_IF_ERROR(WaitForProgress(std::string(kPhaseCheckpoint) + "3", 30));
  ASSIGN_OR_RETURN(json s2, Snapshot(2, name_));
  Describe(2, s2);

  Section(6, "Remove the container: docker rm; ctrsnap keeps its state");
  std::vector<std::string> stop = Docker({"stop", "-t", "1", name_});
  Show(stop);
  RETURN_IF_ERROR(RunChecked(stop).status());
  std::vector<std::string> rm = Docker({"rm", name_});
  Show(rm);
  RETURN_IF_ERROR(RunChecked(rm).status());
  created_ = false;
  std::printf("   Docker has forgotten it; `docker commit` has nothing left to commit. ctrsnap\n"
              "   can still snapshot what it wrote after snapshot 2 (post-mortem):\n");
  ASSIGN_OR_RETURN(json s3, Snapshot(3, id_));
  Describe(3, s3);

  Section(7, "Start snapshot 3 as a new container: the work survived");
  RETURN_IF_ERROR(RunSnapshotImage(s3["demo_tag"].get<std::string>()));

  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("\nDone in %.1f s.\n", secs);
  if (o_.keep) std::printf("Kept: %s and the state %s/%s\n", dir_.c_str(), state_root_.c_str(), id_.c_str());
  return Status::Ok();
}

}  // namespace

Result<DemoEngine> ChooseEngine(const DemoOptions& o) {
  if (o.engine == "runc") return DemoEngine::kRunc;
  if (o.engine == "docker") return DemoEngine::kDocker;
  if (o.engine != "auto") {
    return Status::InvalidArgument("--engine " + o.engine + ": expected runc, docker or auto");
  }
  auto docker = FindProgram({"docker"});
  if (docker.ok()) {
    auto r = RunProcess({*docker, "info", "--format", "{{json .Runtimes}}"});
    if (r.ok() && r->exit_code == 0 && r->out.find("\"ctrsnap\"") != std::string::npos) {
      std::printf("(Docker is running with the ctrsnap runtime: the demo uses it; --engine runc "
                  "does not)\n");
      return DemoEngine::kDocker;
    }
  }
  return DemoEngine::kRunc;
}

Status RunDockerDemo(const DemoOptions& options) {
  DockerDemo demo(options);
  return demo.Run();
}

}  // namespace ctrsnap::demo
