// ctrsnap snapshot CONTAINER|--state DIR: seal, export the new generations
// as one layer, deliver the image. The work is in layers/lib (TakeSnapshot)
// and layers/engines (Deliver); this file maps flags onto them.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/env.h"
#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "hooks/gpu/gpu_exclusions.h"
#include "layers/cli/commands.h"
#include "layers/cli/snapshot_summary.h"
#include "layers/engines/deliver.h"
#include "layers/engines/engine.h"
#include "layers/lib/container_state.h"
#include "layers/lib/snapshot.h"
#if CTRSNAP_HAVE_POLICY
#include "layers/policy/policy_filter.h"
#endif

namespace ctrsnap::cli {
namespace {

using nlohmann::json;

struct SnapshotFlags {
  std::string container;
  std::string state;
  std::string tag;
  std::vector<std::string> outputs;
  std::string load;
  std::string push;
  std::string compression;
  int compression_level = 0;
  std::string base_image;
  std::string engine;
  std::string policy;
  std::vector<std::string> env;
  std::vector<std::string> excludes;
  bool squash = false;
  bool full = false;
  bool allow_secrets = false;
  bool aggressive = false;
  std::string on_secret;
  bool include_setup = false;
  bool json = false;
  bool no_progress = false;
  bool no_inventory = false;
};

struct Target {
  std::string state;
  std::string engine;  // engine running the container, if known
  layers::ContainerMetaView meta;
  std::optional<engines::ContainerInfo> info;
};

Result<Target> ResolveTarget(const SnapshotFlags& f, const Config& config) {
  Target t;
  if (!f.state.empty()) {
    t.state = f.state;
  } else if (f.container.empty()) {
    return Status::InvalidArgument("name a CONTAINER or give --state DIR");
  } else {
    auto st = layers::ResolveStateDir(config.state_root, f.container);
    if (st.ok()) {
      t.state = *st;
    } else if (st.status().code() != Code::kNotFound) {
      return st.status();
    } else {
      // Not a ctrsnap id: maybe an engine's container name.
      std::vector<std::string> engines = f.engine.empty()
                                             ? std::vector<std::string>{"docker", "podman"}
                                             : std::vector<std::string>{f.engine};
      for (const auto& name : engines) {
        auto engine = engines::NewEngine(name);
        if (!engine.ok()) return engine.status();
        auto info = (*engine)->InspectContainer(f.container);
        if (!info.ok()) continue;
        auto by_id = layers::ResolveStateDir(config.state_root, info->id);
        if (!by_id.ok()) {
          return Status::NotFound(name + " container " + f.container + " (" +
                                  info->id.substr(0, 12) + ") is not run by ctrsnap: no state in " +
                                  config.state_root);
        }
        t.state = *by_id;
        t.engine = name;
        t.info = *info;
        break;
      }
      if (t.state.empty()) return st.status();
    }
  }
  ASSIGN_OR_RETURN(t.meta, layers::LoadContainerMeta(t.state));
  if (t.engine.empty()) t.engine = f.engine;
  if (t.engine.empty()) {
    if (t.meta.engine == "docker" || t.meta.engine == "podman" || t.meta.engine == "containerd") {
      t.engine = t.meta.engine;
    } else if (t.meta.engine == "cri") {
      t.engine = "containerd";
    }
  }
  if (!t.info && !t.engine.empty() && t.meta.present && !t.meta.id.empty()) {
    auto engine = engines::NewEngine(t.engine);
    if (engine.ok()) {
      auto info = (*engine)->InspectContainer(t.meta.id);
      if (info.ok()) t.info = *info;
    }
  }
  return t;
}

std::string Repo(const std::string& ref) {
  std::string r = ref.substr(0, ref.find('@'));
  auto slash = r.rfind('/');
  auto colon = r.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) r.resize(colon);
  return r;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

std::string DefaultTag(const std::string& tmpl, const std::string& base_ref,
                       const std::string& id, uint64_t seq) {
  std::string short_id = id.substr(0, 12);
  std::string repo = base_ref.empty() ? "ctrsnap/" + short_id : Repo(base_ref);
  std::time_t now = std::time(nullptr);
  struct tm tm {};
  ::gmtime_r(&now, &tm);
  char date[16];
  std::strftime(date, sizeof(date), "%Y%m%d", &tm);
  std::string tag = Replace(tmpl, "{repo}", repo);
  tag = Replace(tag, "{date}", date);
  tag = Replace(tag, "{seq}", std::to_string(seq));
  return Replace(tag, "{id}", short_id);
}

// Bytes the next snapshot will roughly read: the unexported upper dirs.
uint64_t EstimateBytes(const std::string& state, bool squash) {
  auto meta = FsMeta::Load(state);
  auto records = layers::LoadSnapshotRecords(state);
  if (!meta.ok() || !records.ok()) return 0;
  auto exported = layers::ExportedGenerations(*meta, *records);
  uint64_t total = 0;
  for (const auto& g : meta->generations) {
    if (squash || !exported.count(g.id)) total += layers::DiskUsage(layout::UpperDir(state, g.id));
  }
  return total;
}

class Progress {
 public:
  Progress(bool enabled, uint64_t total) : enabled_(enabled), total_(total) {}
  ~Progress() {
    if (shown_) std::fputs("\r\033[K", stderr);
  }
  void Update(uint64_t bytes) {
    if (!enabled_) return;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (secs < 1.0) return;
    shown_ = true;
    int width = 30;
    double frac = total_ > 0 ? std::min(1.0, static_cast<double>(bytes) / static_cast<double>(total_)) : 0;
    int fill = static_cast<int>(frac * width);
    std::fprintf(stderr, "\rsnapshot [%.*s%*s] %s  %.0f MB/s", fill,
                 "##############################", width - fill, "", HumanBytes(bytes).c_str(),
                 static_cast<double>(bytes) / 1e6 / secs);
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  uint64_t total_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

Status Run(const SnapshotFlags& f, bool* printed) {
  ASSIGN_OR_RETURN(Config config, Config::LoadDefault());
  ASSIGN_OR_RETURN(Target t, ResolveTarget(f, config));
  ASSIGN_OR_RETURN(auto records, layers::LoadSnapshotRecords(t.state));

  engines::DeliveryTargets targets{f.outputs, f.load, f.push, ""};
  if (targets.outputs.empty() && targets.load.empty() && targets.push.empty() && !t.engine.empty()) {
    targets.load = t.engine;  // default: back into the engine that runs the container
  }
  if (!targets.load.empty()) RETURN_IF_ERROR(engines::NewEngine(targets.load).status());

  std::string comp_name = !f.compression.empty() ? f.compression : config.snapshot.compression;
  if (comp_name.empty()) {
    // A local docker load is fastest uncompressed (docker would only
    // decompress it again); anything that may travel gets gzip, which every
    // engine and registry reads.
    bool local_docker_only = targets.load == "docker" && targets.outputs.empty() && targets.push.empty();
    comp_name = local_docker_only ? "none" : "gzip";
  }
  ASSIGN_OR_RETURN(layers::Compression compression, layers::ParseCompression(comp_name));
  if (compression == layers::Compression::kZstd && targets.load == "docker") {
    return Status::InvalidArgument("docker (before 23) cannot load zstd layers: use --compression gzip");
  }

  layers::SnapshotOptions o;
  o.state_dir = t.state;
  o.container_id = t.meta.id.empty() ? (t.info ? t.info->id : "") : t.meta.id;
  o.compression = compression;
  o.compressor.level = f.compression_level;
  o.squash = f.squash;
  o.include_setup = f.include_setup;
  o.record_inventory = !f.no_inventory;
  o.tmp_dir = GetEnvOr("TMPDIR", "/var/tmp");

  // Base image: only read for the first snapshot (or --squash).
  std::string base_ref = t.meta.image;
  if (base_ref.empty() && t.info) base_ref = t.info->image_ref;
  std::string scratch = layout::SnapshotsDir(t.state);
  RETURN_IF_ERROR(MakeDirs(scratch, 0700));
  std::string base_tmp;
  bool need_base = records.empty() || f.squash;
  if (!f.base_image.empty()) base_ref = f.base_image;
  if (need_base && !base_ref.empty()) {
    o.base.name = base_ref;
    if (base_ref.rfind("oci:", 0) == 0) {
      std::string spec = base_ref.substr(4);
      auto colon = spec.find(':');
      o.base.oci_layout = spec.substr(0, colon);
      if (colon != std::string::npos) o.base.oci_ref = spec.substr(colon + 1);
    } else if (base_ref.rfind("docker-archive:", 0) == 0) {
      o.base.docker_archive = base_ref.substr(15);
    } else if (!t.engine.empty()) {
      ASSIGN_OR_RETURN(auto engine, engines::NewEngine(t.engine));
      if (t.info) o.base.digest = t.info->image_id;
      auto without = engines::NeedsAllBlobs(targets) ? Result<layers::Image>(Status::Unsupported(""))
                                                     : engine->BaseWithoutBlobs(base_ref);
      if (without.ok()) {
        o.base.image = *without;
      } else {
        base_tmp = scratch + "/base-" + std::to_string(::getpid()) + ".tar";
        RETURN_IF_ERROR(engine->ExportImage(base_ref, base_tmp));
        o.base.docker_archive = base_tmp;
      }
    } else {
      return Status::InvalidArgument("base image " + base_ref +
                                     " needs an engine (--engine) or an oci:DIR / docker-archive:FILE form");
    }
  }

  // Bind mounts and volumes stay out; a git checkout among them versions the image.
  o.excluded_paths = t.meta.mounts;
  o.excluded_paths.insert(o.excluded_paths.end(), f.excludes.begin(), f.excludes.end());
  if (t.info) {
    for (const auto& m : t.info->mounts) {
      o.excluded_paths.push_back(m.destination);
      if (o.annotations.count(oci::kAnnotationRevision) || m.source.empty()) continue;
      if (auto git = layers::ReadGitInfo(m.source)) {
        o.annotations[oci::kAnnotationRevision] = git->revision;
        if (!git->source.empty()) o.annotations[oci::kAnnotationSource] = git->source;
      }
    }
  }
  // GPU containers: the driver's bind mounts and device nodes stay out, and the
  // host's GPU request (NVIDIA_*, CDI-set variables) never enters the image.
  ASSIGN_OR_RETURN(gpu::GpuExclusions gpu, gpu::LoadGpuExclusions(t.state));
  o.excluded_paths.insert(o.excluded_paths.end(), gpu.paths.begin(), gpu.paths.end());
  std::vector<std::string> runtime_env = t.meta.env;
  if (runtime_env.empty() && t.info) runtime_env = t.info->env;
  for (const auto& name : f.env) {
    if (gpu.ExcludesEnv(name)) {
      return Status::InvalidArgument("--env " + name +
                                     ": a GPU request of this host (set for the GPU runtime); an "
                                     "image carrying it breaks on other hosts, so it is never copied");
    }
    bool found = false;
    for (const auto& kv : runtime_env) {
      if (kv.substr(0, kv.find('=')) == name) {
        o.add_env.push_back(kv);
        found = true;
      }
    }
    if (!found) return Status::NotFound("--env " + name + ": the container has no such variable");
  }

  // Policy: the stripping rules, relaxed by --full / --allow-secrets.
  KeepAllFilter keep_all;
  const FileFilter* policy = &keep_all;
#if CTRSNAP_HAVE_POLICY
  policy::PolicyOptions popts;
  popts.system_policy_path = layout::kDefaultPolicyPath;
  popts.snapshot_policy_path = f.policy;
  popts.container_policy_path = t.meta.policy_path;
  if (f.aggressive) popts.aggressive = true;
  if (f.on_secret == "fail") popts.on_secret = FilterAction::kFail;
  if (f.on_secret == "report") popts.on_secret = FilterAction::kKeepReport;
  if (f.on_secret == "drop") popts.on_secret = FilterAction::kDrop;
  popts.env = runtime_env;
  ASSIGN_OR_RETURN(auto policy_filter, policy::MakePolicyFilter(popts));
  policy = policy_filter.get();
#else
  if (!f.policy.empty()) return Status::Unsupported("--policy: built without the policy engine");
#endif
  layers::OverrideFilter filter(policy, f.full, f.allow_secrets);
  o.filter = &filter;

  uint64_t seq = records.empty() ? 1 : records.back().sequence + 1;
  std::string id = o.container_id.empty() ? t.state.substr(t.state.rfind('/') + 1) : o.container_id;
  o.tag = f.tag.empty() ? DefaultTag(config.snapshot.tag_template, o.base.name.empty() && !records.empty()
                                                                         ? records.back().base_name
                                                                         : base_ref,
                                     id, seq)
                        : f.tag;
  if (o.tag.rfind("oci:", 0) == 0 || o.tag.rfind("docker-archive:", 0) == 0 ||
      o.tag.find("lowerdir") == 0) {
    o.tag = DefaultTag(config.snapshot.tag_template, "", id, seq);
  }

  Progress progress(!f.json && !f.no_progress && ::isatty(2), EstimateBytes(t.state, f.squash));
  o.progress = [&progress](uint64_t n) { progress.Update(n); };
  auto res = layers::TakeSnapshot(o);
  if (!base_tmp.empty()) ::unlink(base_tmp.c_str());
  if (!res.ok()) return res.status();

  ASSIGN_OR_RETURN(auto store, layers::OpenSnapshotStore(t.state));
  if (engines::NeedsAllBlobs(targets)) {
    RETURN_IF_ERROR(engines::FetchMissingBlobs(store, res->image, t.engine,
                                               res->record.base_name, scratch));
  }
  if (!records.empty() && !f.squash) targets.docker_parent = records.back().tag;
  auto t_deliver = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(auto delivered, engines::Deliver(store, res->image, o.tag, targets, scratch));
  double deliver_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_deliver).count();
  PrintSnapshotSummary(*res, t.state, delivered, deliver_s, f.json);
  *printed = true;
  return Status::Ok();
}

}  // namespace

void AddSnapshotCommand(CLI::App& root, Context& ctx) {
  auto f = std::make_shared<SnapshotFlags>();
  CLI::App* cmd = root.add_subcommand(
      "snapshot", "Seal a container's writes and publish them as a new, clean image layer");
  cmd->add_option("container", f->container, "container id, unique id prefix, or docker/podman name");
  cmd->add_option("--state", f->state, "a ctrsnap-fs state directory (instead of CONTAINER)");
  cmd->add_option("-t,--tag", f->tag, "image name (default {repo}:snap-{date}-{seq})");
  cmd->add_option("-o,--output", f->outputs, "write an OCI layout DIR, or FILE.tar (loads in every engine)");
  cmd->add_option("--load", f->load, "load into docker, containerd or podman")
      ->check(CLI::IsMember({"docker", "containerd", "podman"}));
  cmd->add_option("--push", f->push, "push to REGISTRY/REPO:TAG with skopeo");
  cmd->add_option("--compression", f->compression, "gzip, zstd or none (default gzip)")
      ->check(CLI::IsMember({"gzip", "zstd", "none"}));
  cmd->add_option("--compression-level", f->compression_level, "compressor level (default 1: fast)")
      ->check(CLI::Range(1, 22));
  cmd->add_option("--base-image", f->base_image, "base for the first snapshot: REF, oci:DIR[:REF], docker-archive:FILE");
  cmd->add_option("--engine", f->engine, "engine of the container (default: from container.json)")
      ->check(CLI::IsMember({"docker", "containerd", "podman"}));
  cmd->add_option("--policy", f->policy, "policy file merged over the defaults");
  cmd->add_option("--env", f->env, "copy this run-time environment variable into the image");
  cmd->add_option("--exclude", f->excludes, "leave this container path out (like a volume)");
  cmd->add_flag("--squash", f->squash, "one layer with everything since the base image");
  cmd->add_flag("--full", f->full, "keep what the policy would strip (not secrets)");
  cmd->add_flag("--allow-secrets", f->allow_secrets, "keep secrets too (reported)");
  cmd->add_flag("--aggressive", f->aggressive,
                "also drop large downloads (model hubs, dataset caches), always reported");
  cmd->add_option("--on-secret", f->on_secret, "drop (default), report, or fail the snapshot")
      ->check(CLI::IsMember({"drop", "report", "fail"}));
  cmd->add_flag("--include-setup", f->include_setup, "export the runtime's setup generation too");
  cmd->add_flag("--json", f->json, "print the result as JSON");
  cmd->add_flag("--no-progress", f->no_progress, "no progress bar");
  cmd->add_flag("--no-inventory", f->no_inventory,
                "do not record the software inventory (`ctrsnap drift` then scans the layers)");
  cmd->callback([f, &ctx] {
    bool printed = false;
    Status st = Run(*f, &printed);
    if (!st.ok()) {
      if (f->json) {
        std::printf("%s\n", json{{"ok", false}, {"error", st.ToString()}}.dump().c_str());
      } else {
        std::fprintf(stderr, "ctrsnap snapshot: %s\n", st.ToString().c_str());
      }
      ctx.exit_code = st.code() == Code::kInvalidArgument ? 2 : 1;
      return;
    }
    ctx.exit_code = 0;
  });
}

}  // namespace ctrsnap::cli
