// Detector: all secret rules compiled once, scanning byte buffers.
//
// One Vectorscan pass over the buffer finds candidates for every rule; each
// candidate is confirmed on its own line (or, for key blocks, the next 16 KiB)
// with RE2 or a hand check, which also extracts the value. gzip buffers are
// inflated (bounded) and scanned; base64 credential fields and base64 PEM
// blocks are decoded and scanned again (bounded depth). Every engine used is
// linear-time: contents are attacker-controlled.
//
// Thread-safety: Scan() may be called concurrently (scratch space comes from
// a locked pool).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct hs_database;
struct hs_scratch;

namespace ctrsnap::policy {

struct Detection {
  std::string rule;         // "secret.github-pat"
  uint64_t line = 0;        // 1-based line of the value (the outer line for decoded values)
  std::string masked;       // MaskValue(value): never the whole value
  std::string fingerprint;  // sha256 hex of the value, for allow-lists
  std::string reason;       // "GitHub personal access token (classic), checksum valid"
};

struct DetectorOptions {
  std::set<std::string> disabled_rules;  // full ids: "secret.jwt"
  uint64_t max_inflate_bytes = 64ull << 20;  // gzip output bound per file
  int max_decode_depth = 2;                  // base64 / gzip nesting bound
};

struct ScanOutput {
  std::vector<Detection> detections;
  std::vector<std::string> limits;  // "gzip output truncated at 64 MiB", ...
};

struct RuleInfo {
  std::string id;  // "secret.github-pat"
  std::string description;
};

class Detector {
 public:
  static Result<std::unique_ptr<Detector>> Create(const DetectorOptions& options);
  ~Detector();
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  // PATH (container path; may be empty) selects path-restricted rules such as
  // the .netrc password line.
  ScanOutput Scan(std::string_view data, std::string_view path) const;
  // What of PATH Scan() depends on: two paths with the same signature give
  // the same output for the same data.
  std::string PathSignature(std::string_view path) const;

  static std::vector<RuleInfo> Catalog();

  struct Compiled;  // one rule: its definition, RE2, path glob (detector.cc)

 private:
  Detector() = default;
  void ScanInto(std::string_view data, std::string_view path, int depth, ScanOutput* out) const;
  // Per rule, whether it applies to PATH (not disabled, its path glob matches).
  void EnabledFor(std::string_view path, std::vector<char>* enabled, bool* code_file) const;
  hs_scratch* AcquireScratch() const;
  void ReleaseScratch(hs_scratch* s) const;

  DetectorOptions options_;
  std::vector<std::unique_ptr<Compiled>> rules_;
  hs_database* db_ = nullptr;
  hs_scratch* proto_scratch_ = nullptr;
  mutable std::mutex pool_mu_;
  mutable std::vector<hs_scratch*> pool_;  // GUARDED_BY(pool_mu_)
};

}  // namespace ctrsnap::policy
