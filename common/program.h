// What every binary prints for --version.
#pragma once

#include <cstdio>

#include "common/version.h"

namespace ctrsnap {

inline void PrintVersion(const char* program) {
  std::printf("%s version %s\n", program, CTRSNAP_VERSION);
}

}  // namespace ctrsnap
