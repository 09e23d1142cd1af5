// Restarting an engine's systemd unit after its configuration changed.
#pragma once

#include <string>

#include "common/status.h"

namespace ctrsnap::install {

// True when systemd is PID 1 (SYSTEMD_DIR, normally /run/systemd/system, exists).
bool SystemdRunning(const std::string& systemd_dir = "/run/systemd/system");

// `systemctl restart UNIT`; an error says why (no systemd, systemctl's message).
Status RestartService(const std::string& unit,
                      const std::string& systemd_dir = "/run/systemd/system");

// The path of the running program's directory (from /proc/self/exe).
std::string SelfDir();

}  // namespace ctrsnap::install
