// CallerCommCache: the command name (/proc/PID/comm) of FUSE callers.
//
// Reading procfs for every operation would cost a few microseconds each; a
// short-lived cache (entries expire after TTL, so a reused pid is picked up
// within TTL) makes the common case a hash lookup. Bounded: the cache is
// cleared when it holds max_entries pids. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ctrsnap {

class CallerCommCache {
 public:
  explicit CallerCommCache(std::chrono::milliseconds ttl = std::chrono::milliseconds(1000),
                           size_t max_entries = 4096)
      : ttl_(ttl), max_entries_(max_entries) {}

  // The comm of PID, or "" when the process is gone or PID <= 0.
  std::string Lookup(int32_t pid);

 private:
  struct Item {
    std::string comm;
    std::chrono::steady_clock::time_point expires;
  };
  const std::chrono::milliseconds ttl_;
  const size_t max_entries_;
  std::mutex mu_;
  std::unordered_map<int32_t, Item> items_;  // GUARDED_BY(mu_)
};

// Reads /proc/PID/comm without the trailing newline; "" when unreadable.
std::string ReadProcComm(int32_t pid);

}  // namespace ctrsnap
