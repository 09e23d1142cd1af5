// Process environment look-ups with the project's defaults.
#pragma once

#include <cstdlib>
#include <string>

#include "common/state_layout.h"

namespace ctrsnap {

inline std::string GetEnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read-only use
  return (v != nullptr && *v != '\0') ? std::string(v) : fallback;
}
inline std::string StateRoot() { return GetEnvOr("CTRSNAP_ROOT", layout::kDefaultStateRoot); }
inline std::string ConfigPath() { return GetEnvOr("CTRSNAP_CONFIG", layout::kDefaultConfigPath); }

}  // namespace ctrsnap
