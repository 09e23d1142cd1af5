// The stripping policy: built-in path rules (caches by tier, credential files)
// merged with user policy files, in this order (later wins):
//   built-in defaults < /etc/ctrsnap/policy.json < the container's
//   `ctrsnap.policy` annotation file < `--policy FILE` of one snapshot.
//
// Policy file format (JSON; unknown keys are errors, every error names the
// file and line:column):
//   {
//     "include":  ["/app/.cache/models/"],     // gitignore globs: always kept by path
//     "exclude":  ["*.bak", "!/app/keep.bak"], // gitignore globs: dropped ("excluded")
//     "rules":    {"cache.pip": false, "secret.jwt": false},  // on/off by id
//     "allow":    [{"path": "/app/tests/**", "rule": "secret.generic-secret-assignment",
//                   "fingerprint": "<sha256 hex of the value>"}],  // all given fields must match
//     "actions":  {"secret": "drop", "credential-path": "keep-and-report",
//                  "cache": "drop", "large-download": "keep-and-report", "excluded": "drop"},
//     "aggressive": false,                      // tier B (large downloads) dropped too
//     "limits":   {"max_file_bytes": 67108864, "max_inflate_bytes": 67108864}
//   }
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/line_column.h"
#include "common/file_filter.h"
#include "common/status.h"

namespace ctrsnap::policy {

// Finding kinds, as in FilterFinding::kind.
inline constexpr char kKindCache[] = "cache";
inline constexpr char kKindLargeDownload[] = "large-download";
inline constexpr char kKindCredentialPath[] = "credential-path";
inline constexpr char kKindSecret[] = "secret";
inline constexpr char kKindExcluded[] = "excluded";
inline constexpr char kKindKeep[] = "keep";             // tier C: never dropped
inline constexpr char kKindScanLimit[] = "scan-limit";  // content only partly scanned

// One built-in path rule. GLOBS are gitignore patterns; "~/" at their start
// stands for every home directory (expanded by ExpandHomes).
struct PathRule {
  std::string id;    // "cache.pip", "large.huggingface", "keep.debconf", "path.aws-credentials"
  std::string kind;  // kKindCache (tier A), kKindLargeDownload (B), kKindKeep (C), kKindCredentialPath
  std::vector<std::string> globs;
  std::vector<std::string> except;  // globs the rule never covers (apt lists' lock, .env.example)
  std::string reason;
  // Core dumps: the path only nominates the file; dropped only if it is an
  // ELF file with e_type == ET_CORE.
  bool elf_core_only = false;
  // Config files that may or may not hold a credential (~/.docker/config.json
  // with only credsStore, ~/.aws/config with a region): the path alone decides
  // nothing; the content scan drops them when it finds a secret.
  bool content_decides = false;
};

struct AllowEntry {
  std::string path;         // gitignore glob; empty = any
  std::string rule;         // rule id; empty = any
  std::string fingerprint;  // sha256 hex of the value; empty = any
};

struct Policy {
  std::vector<PathRule> path_rules;  // built-in, before home/env expansion
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::map<std::string, bool> rules;  // id -> enabled (absent = default on)
  std::vector<AllowEntry> allow;
  std::map<std::string, FilterAction> actions;  // kind -> action
  bool aggressive = false;
  uint64_t max_file_bytes = 64ull << 20;
  uint64_t max_inflate_bytes = 64ull << 20;
  std::vector<std::string> sources;  // files merged in, in order

  bool RuleEnabled(const std::string& id) const {
    auto it = rules.find(id);
    return it == rules.end() || it->second;
  }
  FilterAction ActionFor(const std::string& kind) const;
};

std::vector<PathRule> DefaultPathRules();
Policy DefaultPolicy();

// Parses one policy file's TEXT (NAME is used in error messages) and merges
// it into *POLICY: lists are appended, maps and scalars overridden.
Status MergePolicyText(std::string_view text, const std::string& name, Policy* policy);
// Same, reading FILE.
Status MergePolicyFile(const std::string& file, Policy* policy);

// "drop" | "keep-and-report" | "fail" (also "keep", "report").
Result<FilterAction> ParseAction(std::string_view s);
std::string_view ActionName(FilterAction a);

nlohmann::json PolicyToJson(const Policy& policy);

// LineColumn (byte offset -> "LINE:COLUMN") is common/line_column.h's.

}  // namespace ctrsnap::policy
