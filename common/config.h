// Config: /etc/ctrsnap/config.json (or $CTRSNAP_CONFIG), read once at start.
// Every key is optional; a missing file means all defaults. Unknown keys are
// an error (a typo must not silently change behaviour), reported with the
// file and the key.
//
//   {
//     "runtime": "runc",                 // real OCI runtime: name on PATH or absolute path
//     "state_root": "/var/lib/ctrsnap",  // $CTRSNAP_ROOT overrides
//     "fs_binary": "",                   // ctrsnap-fs; default: beside this binary, then PATH
//     "hook_binary": "",                 // ctrsnap-hook; same default
//     "log_level": "info",
//     "retention": { "keep_exited": 10, "max_bytes": 10737418240 },
//     "gpu": { "mode": "auto", "legacy_hook": "nvidia-container-runtime-hook",
//              "cdi_spec_dirs": ["/etc/cdi", "/var/run/cdi"] },
//     "snapshot": { "compression": "", "tag_template": "{repo}:snap-{date}-{seq}" }
//   }
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace ctrsnap {

enum class GpuMode { kAuto, kCdi, kLegacy, kOff };

struct Config {
  std::string runtime = "runc";
  std::string state_root;  // filled from $CTRSNAP_ROOT or the default when empty
  std::string fs_binary;
  std::string hook_binary;
  std::string log_level = "info";
  // ctrsnap-fs -o writeback_cache=on|off for the containers it starts.
  bool fs_writeback_cache = true;
  struct Retention {
    uint64_t keep_exited = 10;
    uint64_t max_bytes = 10ULL << 30;
  } retention;
  struct Gpu {
    GpuMode mode = GpuMode::kAuto;
    std::string legacy_hook = "nvidia-container-runtime-hook";
    std::vector<std::string> cdi_spec_dirs = {"/etc/cdi", "/var/run/cdi"};
  } gpu;
  struct Snapshot {
    std::string compression;  // "" = what the destination accepts
    std::string tag_template = "{repo}:snap-{date}-{seq}";
  } snapshot;

  // Parses TEXT; SOURCE names the file in error messages.
  static Result<Config> Parse(std::string_view text, const std::string& source);
  // Loads PATH; a missing file gives the defaults. Applies $CTRSNAP_ROOT.
  static Result<Config> Load(const std::string& path);
  // Loads $CTRSNAP_CONFIG or /etc/ctrsnap/config.json.
  static Result<Config> LoadDefault();

  std::string ToJson() const;
};

std::string_view GpuModeName(GpuMode mode);

}  // namespace ctrsnap
