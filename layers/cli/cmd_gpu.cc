// ctrsnap gpu: GPU passthrough tools.
//   cdi-generate   write a CDI spec for this host's NVIDIA devices and driver files
//   inject         show what ctrsnap-runtime does to a bundle's config.json (debugging)
//   hook update-ldcache   the createContainer hook of generated specs (OCI state on stdin)
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "common/config.h"
#include "common/file_util.h"
#include "hooks/gpu/cdi_generate.h"
#include "hooks/gpu/gpu_inject.h"
#include "hooks/gpu/ldcache_hook.h"
#include "layers/cli/commands.h"

namespace ctrsnap::cli {

namespace {

struct GenerateArgs {
  std::string output;
  std::string root = "/";
  std::string format;
  std::vector<std::string> lib_dirs, bin_dirs;
  std::string ldcache_hook = "auto";
  std::string version = "0.5.0";
};

struct InjectArgs {
  std::string spec;
  std::string config;
  std::string runtime;
  std::string mode;
  std::vector<std::string> cdi_dirs;
  bool write = false;
  bool json = false;
};

struct HookArgs {
  std::vector<std::string> folders;
  std::string ldconfig = "/sbin/ldconfig";
};

std::string SelfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

int Fail(const Status& st) {
  std::fprintf(stderr, "ctrsnap gpu: %s\n", st.ToString().c_str());
  return 1;
}

int RunGenerate(const GenerateArgs& a) {
  gpu::CdiGenerateOptions o;
  o.root = a.root;
  o.lib_dirs = a.lib_dirs;
  o.bin_dirs = a.bin_dirs;
  o.version = a.version;
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): single-threaded CLI
  o.search_path = path ? path : "";
  if (a.ldcache_hook == "auto") {
    o.ldcache_hook = SelfExe();
  } else if (a.ldcache_hook != "none") {
    if (a.ldcache_hook.empty() || a.ldcache_hook[0] != '/') {
      std::fprintf(stderr, "ctrsnap gpu cdi-generate: --ldcache-hook must be an absolute path, auto or none\n");
      return 2;
    }
    o.ldcache_hook = a.ldcache_hook;
  }
  std::string format = a.format;
  if (format.empty()) {
    format = (a.output.size() > 5 && a.output.compare(a.output.size() - 5, 5, ".json") == 0) ? "json" : "yaml";
  }
  auto files = gpu::DiscoverHostGpu(o);
  if (!files.ok()) return Fail(files.status());
  for (const auto& n : files->notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  auto spec = gpu::BuildNvidiaCdiSpec(*files, o);
  if (!spec.ok()) return Fail(spec.status());
  const nlohmann::json doc = gpu::CdiSpecToJson(*spec);
  const std::string text = format == "json" ? doc.dump(2) + "\n" : gpu::JsonToYaml(doc);
  std::fprintf(stderr, "%zu GPU(s), %zu device node(s), %zu library mount(s), %zu binar%s%s\n",
               files->gpus.size(), files->gpus.size() + files->control_nodes.size(),
               files->libraries.size(), files->binaries.size(), files->binaries.size() == 1 ? "y" : "ies",
               o.ldcache_hook.empty() ? ", no ldcache hook" : "");
  if (a.output.empty() || a.output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  // /etc/cdi and /var/run/cdi may not exist yet on a host without the toolkit.
  if (auto slash = a.output.rfind('/'); slash != std::string::npos && slash > 0) {
    Status st = MakeDirs(a.output.substr(0, slash), 0755);
    if (!st.ok()) return Fail(st);
  }
  Status st = WriteFileAtomic(a.output, text, 0644);
  if (!st.ok()) return Fail(st);
  std::fprintf(stderr, "wrote %s\n", a.output.c_str());
  return 0;
}

int RunInject(const InjectArgs& a) {
  auto cfg = a.config.empty() ? Config::LoadDefault() : Config::Load(a.config);
  if (!cfg.ok()) return Fail(cfg.status());
  Config::Gpu g = cfg->gpu;
  if (!a.mode.empty()) {
    if (a.mode == "auto") g.mode = GpuMode::kAuto;
    else if (a.mode == "cdi") g.mode = GpuMode::kCdi;
    else if (a.mode == "legacy") g.mode = GpuMode::kLegacy;
    else if (a.mode == "off") g.mode = GpuMode::kOff;
    else {
      std::fprintf(stderr, "ctrsnap gpu inject: --mode must be auto, cdi, legacy or off\n");
      return 2;
    }
  }
  if (!a.cdi_dirs.empty()) g.cdi_spec_dirs = a.cdi_dirs;
  gpu::GpuEnv env;
  env.runtime = a.runtime.empty() ? cfg->runtime : a.runtime;
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe)
  env.search_path = path ? path : "";
  auto text = ReadFileToString(a.spec);
  if (!text.ok()) return Fail(text.status());
  nlohmann::json spec = nlohmann::json::parse(*text, nullptr, false);
  if (spec.is_discarded()) return Fail(Status::InvalidArgument(a.spec + ": malformed JSON"));
  auto r = gpu::InjectGpu(&spec, g, env);
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    std::cout << nlohmann::json({{"injection", r->ToJson()}, {"spec", spec}}).dump(2) << "\n";
  } else {
    std::fprintf(stderr, "mechanism: %s (mode %s)\n", std::string(gpu::GpuMechanismName(r->mechanism)).c_str(),
                 std::string(GpuModeName(r->mode)).c_str());
    for (const auto& d : r->cdi_devices) std::fprintf(stderr, "cdi device: %s\n", d.c_str());
    if (!r->hook_path.empty()) {
      std::fprintf(stderr, "nvidia hook: %s%s\n", r->hook_path.c_str(), r->hook_added ? " (added)" : "");
    }
    for (const auto& n : r->notes) std::fprintf(stderr, "note: %s\n", n.c_str());
    if (!a.write) std::cout << spec.dump(2) << "\n";
  }
  if (a.write) {
    Status st = WriteFileAtomic(a.spec, spec.dump(), 0644);
    if (!st.ok()) return Fail(st);
  }
  return 0;
}

int RunLdcacheHook(const HookArgs& a) {
  auto state = ReadFdToString(STDIN_FILENO);
  if (!state.ok()) return Fail(state.status().WithContext("read OCI state from stdin"));
  auto rootfs = gpu::RootfsFromState(*state);
  if (!rootfs.ok()) return Fail(rootfs.status());
  Status st = gpu::UpdateContainerLdCache(*rootfs, a.folders, a.ldconfig);
  if (!st.ok()) return Fail(st);
  return 0;
}

}  // namespace

void AddGpuCommand(CLI::App& root, Context& ctx) {
  CLI::App* gpu = root.add_subcommand("gpu", "GPU passthrough: CDI spec generation and debugging");
  gpu->require_subcommand(1);

  auto gen = std::make_shared<GenerateArgs>();
  CLI::App* g = gpu->add_subcommand(
      "cdi-generate", "Write a CDI spec (nvidia.com/gpu) for this host's NVIDIA devices and driver files");
  g->add_option("-o,--output", gen->output, "File to write (default: standard output)");
  g->add_option("--root", gen->root, "Host root to search (default /)");
  g->add_option("--format", gen->format, "json or yaml (default: from --output's extension, else yaml)")
      ->check(CLI::IsMember({"json", "yaml"}));
  g->add_option("--lib-dir", gen->lib_dirs, "Also take driver libraries from this directory (repeatable)");
  g->add_option("--bin-dir", gen->bin_dirs, "Also look for nvidia-smi & co. here (repeatable)");
  g->add_option("--ldcache-hook", gen->ldcache_hook,
                "ctrsnap binary for the createContainer ldcache hook: auto (this binary), none, or a path");
  g->add_option("--cdi-version", gen->version, "cdiVersion to write (0.5.0 or later)");
  g->callback([gen, &ctx] { ctx.exit_code = RunGenerate(*gen); });

  auto inj = std::make_shared<InjectArgs>();
  CLI::App* i = gpu->add_subcommand(
      "inject", "Apply ctrsnap-runtime's GPU injection to a config.json and print the result (debugging)");
  i->add_option("--spec", inj->spec, "The bundle's config.json")->required();
  i->add_option("--config", inj->config, "ctrsnap config.json (default: $CTRSNAP_CONFIG or /etc/ctrsnap/config.json)");
  i->add_option("--runtime", inj->runtime, "Real runtime to assume (default: the config's)");
  i->add_option("--mode", inj->mode, "Override gpu.mode: auto, cdi, legacy, off");
  i->add_option("--cdi-spec-dir", inj->cdi_dirs, "Override gpu.cdi_spec_dirs (repeatable, later wins)");
  i->add_flag("--write", inj->write, "Write the edited spec back to --spec");
  i->add_flag("--json", inj->json, "Print {injection, spec} as JSON");
  i->callback([inj, &ctx] { ctx.exit_code = RunInject(*inj); });

  auto hook = std::make_shared<HookArgs>();
  CLI::App* h = gpu->add_subcommand("hook", "OCI hooks of generated CDI specs (run by the OCI runtime)");
  h->require_subcommand(1);
  CLI::App* u = h->add_subcommand(
      "update-ldcache", "createContainer hook: add --folder dirs to the container's linker cache (state on stdin)");
  u->add_option("--folder", hook->folders, "Container library directory (repeatable)")->required();
  u->add_option("--ldconfig", hook->ldconfig, "Host ldconfig (static) to run chrooted (default /sbin/ldconfig)");
  u->callback([hook, &ctx] { ctx.exit_code = RunLdcacheHook(*hook); });
}

}  // namespace ctrsnap::cli
