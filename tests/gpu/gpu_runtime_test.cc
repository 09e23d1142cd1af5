// GPU passthrough end to end without a GPU: a real runc container gets fake
// NVIDIA device nodes and driver files through the spec ctrsnap_gpu edits
// (CDI from a spec written by `ctrsnap gpu cdi-generate`, and the legacy hook
// with tests/gpu/fake-nvidia-container-runtime-hook), on an overlayfs root
// that stands in for ctrsnap-fs: what is in the upper dir when `runc create`
// returns is the setup generation (ctrsnap-runtime seals it at `start`);
// what appears after is the user's generation, the content of a snapshot.
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include "common/file_util.h"
#include "hooks/gpu/gpu_inject.h"
#include "hooks/gpu/oci_spec_edit.h"

namespace ctrsnap::gpu {
namespace {

using nlohmann::json;

int Sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

struct FileInfo {
  mode_t mode = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  std::string head;  // first 4 bytes of a regular file
  bool operator==(const FileInfo& o) const {
    return mode == o.mode && size == o.size && mtime_ns == o.mtime_ns;
  }
};

// Every entry under DIR, by path relative to it ("etc/ld.so.cache").
void ListTree(const std::string& dir, const std::string& rel, std::map<std::string, FileInfo>* out) {
  DIR* d = ::opendir((dir + "/" + rel).c_str());
  if (d == nullptr) return;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string r = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (::lstat((dir + "/" + r).c_str(), &st) != 0) continue;
    FileInfo fi{st.st_mode, st.st_size, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, ""};
    if (S_ISREG(st.st_mode)) {
      std::ifstream f(dir + "/" + r, std::ios::binary);
      char b[4] = {};
      f.read(b, 4);
      fi.head.assign(b, static_cast<size_t>(f.gcount()));
    }
    (*out)[r] = fi;
    if (S_ISDIR(st.st_mode)) ListTree(dir, r, out);
  }
  ::closedir(d);
}

class GpuRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (mknod, overlayfs, runc)";
    if (Sh("command -v runc >/dev/null 2>&1") != 0) GTEST_SKIP() << "runc is not installed";
    if (Sh("command -v jq >/dev/null && command -v nsenter >/dev/null") != 0) {
      GTEST_SKIP() << "the fake nvidia hook needs jq and nsenter";
    }
    const char* bin = std::getenv("CTRSNAP_BIN_DIR");
    // cmake/Testing.cmake's ENVIRONMENT list loses its second entry under
    // gtest_discover_tests; the configure-time source dir is the fallback.
    const char* src = std::getenv("CTRSNAP_SOURCE_DIR");
    if (src == nullptr) src = CTRSNAP_SOURCE_DIR_AT_BUILD;
    ASSERT_NE(bin, nullptr);
    ASSERT_NE(src, nullptr);
    bin_dir_ = bin;
    src_dir_ = src;
    char tmpl[] = "/tmp/ctrsnap-gpu-rt.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    t_ = tmpl;
    id_ = "ctrsnap-gpu-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter_);

    // The "host": fake device nodes and driver files (a real ELF libcuda).
    host_ = t_ + "/host";
    const std::string lib = host_ + "/usr/local/nvidia/lib64";
    ASSERT_EQ(Sh("mkdir -p " + host_ + "/dev " + lib + " " + host_ + "/usr/local/nvidia/bin"), 0);
    ASSERT_EQ(Sh("mknod " + host_ + "/dev/nvidia0 c 195 0 && mknod " + host_ + "/dev/nvidiactl c 195 255"), 0);
    ASSERT_EQ(Sh("cp " + std::string(CTRSNAP_FAKE_LIBCUDA) + " " + lib + "/libcuda.so.535.104.05 && ln -s libcuda.so.535.104.05 " + lib + "/libcuda.so.1"), 0);
    nvidia_smi_ = "#!/bin/sh\necho 'NVIDIA-SMI fake 535.104.05'\n";
    ASSERT_TRUE(WriteFileAtomic(host_ + "/usr/local/nvidia/bin/nvidia-smi", nvidia_smi_, 0755).ok());

    // The image: a static busybox, as the lower layer of an overlay root.
    lower_ = t_ + "/lower";
    ASSERT_EQ(Sh("mkdir -p " + lower_ + "/bin " + lower_ + "/etc " + lower_ + "/proc " + lower_ + "/dev " +
                 lower_ + "/sys && cp /bin/busybox " + lower_ + "/bin/busybox"), 0);
    for (const char* applet : {"sh", "stat", "echo", "test", "grep", "cat", "mkdir", "ls", "readlink"}) {
      ASSERT_EQ(::symlink("busybox", (lower_ + "/bin/" + applet).c_str()), 0);
    }
    upper_ = t_ + "/upper";
    rootfs_ = t_ + "/bundle/rootfs";
    ASSERT_EQ(Sh("mkdir -p " + upper_ + " " + t_ + "/work " + rootfs_ + " " + t_ + "/runc"), 0);
    std::string opts = "lowerdir=" + lower_ + ",upperdir=" + upper_ + ",workdir=" + t_ + "/work";
    ASSERT_EQ(::mount("overlay", rootfs_.c_str(), "overlay", 0, opts.c_str()), 0) << strerror(errno);
    mounted_ = true;
    ASSERT_EQ(Sh("cd " + t_ + "/bundle && runc spec"), 0);
  }

  void TearDown() override {
    if (t_.empty()) return;
    (void)Sh("runc --root " + t_ + "/runc delete -f " + id_ + " >/dev/null 2>&1");
    if (mounted_) ::umount2(rootfs_.c_str(), MNT_DETACH);
    (void)RemoveTree(t_);
  }

  json BaseSpec(const std::vector<std::string>& env, const std::string& script) {
    auto text = ReadFileToString(t_ + "/bundle/config.json");
    EXPECT_TRUE(text.ok());
    json spec = json::parse(*text);
    spec["root"] = {{"path", rootfs_}, {"readonly", false}};
    spec["process"]["terminal"] = false;
    spec["process"]["args"] = {"/bin/sh", "-c", script};
    spec["process"]["env"] = env;
    return spec;
  }

  // runc create (hooks run) -> setup listing -> runc start -> wait -> output.
  std::string RunContainer(const json& spec, std::map<std::string, FileInfo>* setup,
                           std::map<std::string, FileInfo>* after, const std::string& runtime = "runc") {
    EXPECT_TRUE(WriteFileAtomic(t_ + "/bundle/config.json", spec.dump()).ok());
    const std::string runc = runtime + " --root " + t_ + "/runc ";
    const std::string out = t_ + "/out.txt";
    EXPECT_EQ(Sh(runc + "create -b " + t_ + "/bundle " + id_ + " >" + out + " 2>&1 </dev/null"), 0)
        << ReadFileToString(out).value_or("");
    ListTree(upper_, "", setup);
    EXPECT_EQ(Sh(runc + "start " + id_), 0);
    for (int i = 0; i < 300; ++i) {
      if (Capture(runc + "state " + id_ + " 2>/dev/null").find("\"stopped\"") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(Sh(runc + "delete " + id_), 0);
    ListTree(upper_, "", after);
    return ReadFileToString(out).value_or("");
  }

  // The user generation: entries new or changed since the setup listing.
  static std::map<std::string, FileInfo> UserGeneration(const std::map<std::string, FileInfo>& setup,
                                                        const std::map<std::string, FileInfo>& after) {
    std::map<std::string, FileInfo> out;
    for (const auto& [p, fi] : after) {
      auto it = setup.find(p);
      if (it == setup.end() || (!S_ISDIR(fi.mode) && !(it->second == fi))) out[p] = fi;
    }
    return out;
  }

  // The fake nvidia hook (and, when CHAINED, the fake nvidia runtime) in T/hookbin.
  std::string InstallFakeNvidia(bool chained) {
    const std::string hookdir = t_ + "/hookbin";
    EXPECT_EQ(Sh("mkdir -p " + hookdir + "/driver && cp " + src_dir_ +
                 "/tests/gpu/fake-nvidia-container-runtime-hook " + hookdir +
                 "/nvidia-container-runtime-hook && cp " + std::string(CTRSNAP_FAKE_LIBCUDA) + " " +
                 hookdir + "/driver/libcuda.so.535.104.05"),
              0);
    if (chained) {
      EXPECT_EQ(Sh("cp " + src_dir_ + "/tests/gpu/fake-nvidia-container-runtime " + hookdir +
                   "/nvidia-container-runtime"), 0);
    }
    EXPECT_TRUE(WriteFileAtomic(hookdir + "/driver/nvidia-smi", nvidia_smi_, 0755).ok());
    return hookdir;
  }

  static size_t HookCalls(const std::string& log) {
    size_t calls = 0;
    for (size_t p = log.find("argv:"); p != std::string::npos; p = log.find("argv:", p + 1)) ++calls;
    return calls;
  }

  static inline int counter_ = 0;
  std::string bin_dir_, src_dir_, t_, id_, host_, lower_, upper_, rootfs_, nvidia_smi_;
  bool mounted_ = false;
};

constexpr char kUserWork[] = "mkdir -p /work && echo trained > /work/model.txt && echo wrote=ok";

TEST_F(GpuRuntimeTest, CdiSpecFromCdiGenerateGivesTheContainerItsGpu) {
  // ctrsnap gpu cdi-generate on the fake host, with the ldcache hook (this build's ctrsnap).
  const std::string cdi = t_ + "/cdi";
  ASSERT_EQ(Sh(bin_dir_ + "/ctrsnap gpu cdi-generate --root " + host_ +
               " --lib-dir /usr/local/nvidia/lib64 --bin-dir /usr/local/nvidia/bin -o " + cdi +
               "/nvidia.yaml 2>" + t_ + "/gen.log"),
            0)
      << ReadFileToString(t_ + "/gen.log").value_or("");

  const std::string script = std::string(
      "stat -c 'node=%F %t:%T' /dev/nvidia0; echo env=$NVIDIA_VISIBLE_DEVICES; "
      "/usr/local/nvidia/bin/nvidia-smi; test -s /usr/local/nvidia/lib64/libcuda.so.1 && echo lib=ok; "
      "grep -q libcuda.so.1 /etc/ld.so.cache && echo ldcache=ok; "
      "grep -q /usr/local/nvidia/lib64 /etc/ld.so.conf.d/00-ctrsnap-gpu.conf && echo conf=ok; ") + kUserWork;
  json spec = BaseSpec({"PATH=/bin", "NVIDIA_VISIBLE_DEVICES=0"}, script);
  Config::Gpu cfg;
  cfg.cdi_spec_dirs = {t_ + "/none", cdi};
  auto inj = InjectGpu(&spec, cfg, GpuEnv{"runc", ""});
  ASSERT_TRUE(inj.ok()) << inj.status().ToString();
  EXPECT_EQ(inj->mechanism, GpuMechanism::kCdi);
  EXPECT_EQ(inj->cdi_devices, (std::vector<std::string>{"nvidia.com/gpu=0"}));
  EXPECT_FALSE(inj->hook_added);

  // The edits are in the spec: device nodes (stat'ed from the fake host) with cgroup rules.
  bool node = false, rule = false;
  for (const auto& d : spec["linux"]["devices"]) {
    node |= d["path"] == "/dev/nvidia0" && d["type"] == "c" && d["major"] == 195 && d["minor"] == 0;
  }
  for (const auto& r : spec["linux"]["resources"]["devices"]) {
    rule |= r["allow"] == true && r["major"] == 195 && r["minor"] == 255 && r["access"] == "rwm";
  }
  EXPECT_TRUE(node);
  EXPECT_TRUE(rule);
  ASSERT_EQ(spec["hooks"]["createContainer"].size(), 1u);

  std::map<std::string, FileInfo> setup, after;
  const std::string out = RunContainer(spec, &setup, &after);
  EXPECT_NE(out.find("node=character special file c3:0"), std::string::npos) << out;
  EXPECT_NE(out.find("env=void"), std::string::npos) << out;
  EXPECT_NE(out.find("NVIDIA-SMI fake 535.104.05"), std::string::npos) << out;
  EXPECT_NE(out.find("lib=ok"), std::string::npos) << out;
  EXPECT_NE(out.find("ldcache=ok"), std::string::npos) << out;
  EXPECT_NE(out.find("conf=ok"), std::string::npos) << out;
  EXPECT_NE(out.find("wrote=ok"), std::string::npos) << out;

  // Setup generation: the linker cache and conf, and empty mount points only.
  EXPECT_TRUE(setup.count("etc/ld.so.cache")) << "ldconfig ran before start";
  EXPECT_TRUE(setup.count("etc/ld.so.conf.d/00-ctrsnap-gpu.conf"));
  ASSERT_TRUE(setup.count("usr/local/nvidia/lib64/libcuda.so.1"));
  for (const auto& [p, fi] : after) {
    if (inj->exclusions.ExcludesPath("/" + p)) {
      EXPECT_EQ(fi.size, 0) << p << ": a driver file's bytes reached the root";
    }
    EXPECT_NE(fi.head, "\x7f" "ELF") << p << ": an ELF file in the container's writes";
  }
  // The snapshot (user generation) holds the user's work and nothing of the GPU.
  auto user = UserGeneration(setup, after);
  std::vector<std::string> names;
  for (const auto& [p, fi] : user) names.push_back(p);
  EXPECT_EQ(names, (std::vector<std::string>{"work", "work/model.txt"}));
  EXPECT_TRUE(inj->exclusions.ExcludesEnv("NVIDIA_VISIBLE_DEVICES"));
}

TEST_F(GpuRuntimeTest, LegacyHookIsCalledOnceAndItsStubsStayInSetup) {
  // The fake hook, installed under the real name, with its fake driver beside it.
  const std::string hookdir = InstallFakeNvidia(false);

  const std::string script = std::string(
      "stat -c 'node=%F %t:%T' /dev/nvidia0; echo env=$NVIDIA_VISIBLE_DEVICES; /usr/bin/nvidia-smi; "
      "test -s /usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05 && echo lib=ok; "
      "echo link=$(readlink /usr/lib/x86_64-linux-gnu/libcuda.so.1); ") + kUserWork;
  json spec = BaseSpec({"PATH=/bin", "NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility"},
                       script);
  Config::Gpu cfg;
  cfg.mode = GpuMode::kLegacy;
  cfg.legacy_hook = hookdir + "/nvidia-container-runtime-hook";
  auto inj = InjectGpu(&spec, cfg, GpuEnv{"runc", ""});
  ASSERT_TRUE(inj.ok()) << inj.status().ToString();
  EXPECT_TRUE(inj->hook_added);
  // ctrsnap-runtime sees the bundle again on `docker start`: never a second hook.
  auto again = InjectGpu(&spec, cfg, GpuEnv{"runc", ""});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->hook_added);
  ASSERT_EQ(spec["hooks"]["prestart"].size(), 1u);

  std::map<std::string, FileInfo> setup, after;
  const std::string out = RunContainer(spec, &setup, &after);
  EXPECT_NE(out.find("node=character special file c3:0"), std::string::npos) << out;
  EXPECT_NE(out.find("env=all"), std::string::npos) << out;
  EXPECT_NE(out.find("NVIDIA-SMI fake 535.104.05"), std::string::npos) << out;
  EXPECT_NE(out.find("lib=ok"), std::string::npos) << out;
  EXPECT_NE(out.find("link=libcuda.so.535.104.05"), std::string::npos) << out;

  // Called exactly once, for prestart, with this container's state.
  const std::string log = ReadFileToString(hookdir + "/calls.log").value_or("");
  EXPECT_EQ(HookCalls(log), 1u) << log;
  EXPECT_NE(log.find("nvidia-container-runtime-hook prestart"), std::string::npos) << log;
  EXPECT_NE(log.find("\"id\":\"" + id_ + "\""), std::string::npos) << log;

  // The stubs the hook wrote are in the setup generation, empty; the snapshot
  // holds only the user's work.
  ASSERT_TRUE(setup.count("usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05"));
  EXPECT_EQ(setup["usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05"].size, 0);
  EXPECT_TRUE(S_ISLNK(setup["usr/lib/x86_64-linux-gnu/libcuda.so.1"].mode));
  EXPECT_TRUE(setup.count("etc/ld.so.cache"));
  auto user = UserGeneration(setup, after);
  std::vector<std::string> names;
  for (const auto& [p, fi] : user) names.push_back(p);
  EXPECT_EQ(names, (std::vector<std::string>{"work", "work/model.txt"}));
  EXPECT_EQ(inj->exclusions.env_names,
            (std::vector<std::string>{"NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_VISIBLE_DEVICES"}));
}

// Chaining: ctrsnap-runtime over nvidia-container-runtime leaves the spec to
// it; the container still gets its GPU, through one hook call.
TEST_F(GpuRuntimeTest, ChainedToNvidiaRuntimeLeavesTheSpecAlone) {
  const std::string hookdir = InstallFakeNvidia(true);
  json spec = BaseSpec({"PATH=/bin", "NVIDIA_VISIBLE_DEVICES=all"},
                       std::string("stat -c 'node=%F %t:%T' /dev/nvidia0; /usr/bin/nvidia-smi; ") + kUserWork);
  const json before = spec;
  Config::Gpu cfg;  // auto, and a hook binary on PATH: we would add it if not chained
  cfg.legacy_hook = hookdir + "/nvidia-container-runtime-hook";
  const std::string runtime = hookdir + "/nvidia-container-runtime";
  auto inj = InjectGpu(&spec, cfg, GpuEnv{runtime, ""});
  ASSERT_TRUE(inj.ok()) << inj.status().ToString();
  EXPECT_EQ(inj->mechanism, GpuMechanism::kChained);
  EXPECT_EQ(spec, before);

  std::map<std::string, FileInfo> setup, after;
  const std::string out = RunContainer(spec, &setup, &after, runtime);
  EXPECT_NE(out.find("node=character special file c3:0"), std::string::npos) << out;
  EXPECT_NE(out.find("NVIDIA-SMI fake 535.104.05"), std::string::npos) << out;
  EXPECT_NE(out.find("wrote=ok"), std::string::npos) << out;
  EXPECT_EQ(HookCalls(ReadFileToString(hookdir + "/calls.log").value_or("")), 1u);
  auto user = UserGeneration(setup, after);
  std::vector<std::string> names;
  for (const auto& [p, fi] : user) names.push_back(p);
  EXPECT_EQ(names, (std::vector<std::string>{"work", "work/model.txt"}));
}

}  // namespace
}  // namespace ctrsnap::gpu
