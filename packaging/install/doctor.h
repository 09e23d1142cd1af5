// ctrsnap doctor: checks of the host, each OK/WARN/FAIL with what is wrong
// and the command that fixes it. Every path a check reads comes from
// DoctorOptions, so tests point the checks at files of their own; the probes
// that need the kernel (openat2, fsopen, FICLONE, xattrs) run for real.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"

namespace ctrsnap::install {

enum class CheckLevel { kOk, kNote, kWarn, kFail };
std::string_view CheckLevelName(CheckLevel level);  // OK, NOTE, WARN, FAIL

struct CheckResult {
  std::string name;     // e.g. "fuse", "engine docker"
  CheckLevel level = CheckLevel::kOk;
  std::string message;  // what was found
  std::string fix;      // the command that fixes it; empty when none is needed
};

struct DoctorOptions {
  std::string proc_filesystems = "/proc/filesystems";
  std::string dev_fuse = "/dev/fuse";
  std::string modules_dir;  // default: /lib/modules/$(uname -r)
  std::string config_path;  // shown in messages
  Config config;            // as loaded from config_path
  std::string config_error;  // non-empty: config_path did not load
  std::string bin_dir;       // where ctrsnap-fs/-hook/-runtime are looked for first
  std::string path_env;      // PATH for look-ups; empty: the process's PATH
  std::string docker_config = "/etc/docker/daemon.json";
  std::string containerd_config = "/etc/containerd/config.toml";
  std::string containers_conf = "/etc/containers/containers.conf";
  std::string containers_conf_d = "/etc/containers/containers.conf.d";
  std::string crio_conf_d = "/etc/crio/crio.conf.d";
  uint64_t min_free_bytes = 5ULL << 30;
};

// Each check on its own (tests call them directly).
CheckResult CheckConfig(const DoctorOptions& o);
CheckResult CheckFuse(const DoctorOptions& o);
CheckResult CheckOverlay(const DoctorOptions& o);
CheckResult CheckOpenat2();
CheckResult CheckMountApi();
CheckResult CheckRuntime(const DoctorOptions& o);
std::vector<CheckResult> CheckBinaries(const DoctorOptions& o);
std::vector<CheckResult> CheckEngines(const DoctorOptions& o);
std::vector<CheckResult> CheckStateDir(const DoctorOptions& o);  // fs type, space, xattr, reflink
CheckResult CheckGpu(const DoctorOptions& o);
CheckResult EngineDiffNote();

std::vector<CheckResult> RunDoctor(const DoctorOptions& o);
bool AnyFailed(const std::vector<CheckResult>& results);
std::string FormatTable(const std::vector<CheckResult>& results);
std::string FormatJson(const std::vector<CheckResult>& results);

// The filesystem type's name for a statfs f_type ("ext4", "tmpfs", "nfs", ...).
std::string FsTypeName(int64_t f_type);

}  // namespace ctrsnap::install
