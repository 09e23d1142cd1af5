// PolicyFilter: the policy engine behind ctrsnap::FileFilter.
//
// Usage (the layer writer, `ctrsnap snapshot`):
//   PolicyOptions opts;
//   opts.snapshot_policy_path = flags.policy;        // --policy FILE, may be empty
//   opts.container_policy_path = annotation;         // "ctrsnap.policy", may be empty
//   opts.env = image_config_env;                     // honours PIP_CACHE_DIR, HF_HOME, ...
//   opts.passwd_text = contents of the root's /etc/passwd (optional: adds homes)
//   opts.aggressive = flags.aggressive;
//   if (flags.on_secret == "fail") opts.on_secret = FilterAction::kFail;
//   ASSIGN_OR_RETURN(auto filter, MakePolicyFilter(opts));   // unique_ptr<PolicyFilter>
//   filter->EvaluatePath(entry) / EvaluateContent(entry, fd) / FilterEnv(&env)
//
// Decisions: user include > user exclude > credential paths > tier C (keep)
// > tier A caches (drop) > tier B large downloads (report; drop if
// aggressive). Content: the secret detectors, minus disabled rules and the
// allow-list. The most severe action of all findings wins (fail > drop >
// keep-and-report > keep). Thread-safe after construction.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/file_filter.h"
#include "layers/policy/detector.h"
#include "layers/policy/glob.h"
#include "layers/policy/policy.h"

namespace ctrsnap::policy {

struct PolicyOptions {
  // Policy files merged over the defaults, in this order; empty = none.
  // A missing system file is not an error; the others must exist.
  std::string system_policy_path;     // usually layout::kDefaultPolicyPath
  std::string container_policy_path;  // from the container's "ctrsnap.policy" annotation
  std::string snapshot_policy_path;   // --policy FILE
  std::optional<bool> aggressive;     // --aggressive (overrides the files)
  std::optional<FilterAction> on_secret;  // --on-secret (overrides the files)
  std::vector<std::string> env;       // the container's Env, "NAME=value"
  std::string passwd_text;            // the scanned root's /etc/passwd, if any
  std::vector<std::string> extra_includes;  // more include/exclude globs (CLI)
  std::vector<std::string> extra_excludes;
};

// A content finding with its fingerprint (FilterFinding has none).
struct ContentResult {
  FilterDecision decision;
  std::vector<std::string> fingerprints;  // parallel to decision.findings
};

class PolicyFilter final : public FileFilter {
 public:
  static Result<std::unique_ptr<PolicyFilter>> Create(Policy policy, const PolicyOptions& opts);

  FilterDecision EvaluatePath(const FilterEntry& entry) const override;
  FilterDecision EvaluateContent(const FilterEntry& entry, int fd) const override;
  std::vector<FilterFinding> FilterEnv(std::vector<std::string>* env) const override;

  // Content decision for bytes already in memory (archive entries).
  ContentResult EvaluateBuffer(const FilterEntry& entry, std::string_view data) const;
  // Same as EvaluateContent, with fingerprints.
  ContentResult EvaluateFd(const FilterEntry& entry, int fd) const;

  const Policy& policy() const { return policy_; }
  // Home directories the rules were expanded for.
  const std::vector<std::string>& homes() const { return homes_; }

 private:
  struct CompiledRule {
    const PathRule* rule;
    GlobList globs;
    GlobList except;
  };
  PolicyFilter() = default;
  bool Allowed(const std::string& path, const std::string& rule, const std::string& fp) const;
  // The elf-core rule whose globs match E's path, or null.
  const CompiledRule* ElfCoreRuleFor(const FilterEntry& e) const;
  // EvaluateBuffer and EvaluateFd: DATA gives E's bytes (kept in its
  // argument if it must), called at most once and only when needed.
  ContentResult Evaluate(const FilterEntry& e,
                         const std::function<std::string_view(std::string*)>& data) const;
  // Findings for E from the detector's OUT (what EvaluateBuffer adds to it).
  ContentResult FromScan(const FilterEntry& e, ScanOutput out) const;
  // Memo of scans of hard-linked files (FilterEntry::link_ino): one scan per
  // file and detector path signature, however many names it has (a
  // container's hard-link bomb made the exporter scan 1 MiB 10,000 times).
  std::string ScanMemoKey(const FilterEntry& e) const;
  std::optional<ScanOutput> MemoizedScan(const std::string& key) const;
  void Memoize(const std::string& key, const ScanOutput& out) const;

  Policy policy_;
  std::vector<std::string> homes_;
  std::vector<CompiledRule> compiled_;
  GlobList include_, exclude_;
  std::vector<std::pair<std::optional<GlobPattern>, const AllowEntry*>> allow_;
  std::unique_ptr<Detector> detector_;
  FilterAction secret_action_ = FilterAction::kDrop;
  mutable std::mutex memo_mu_;
  mutable std::unordered_map<std::string, ScanOutput> scan_memo_;  // (memo_mu_)
};

// Loads defaults + the files in OPTS, then builds the filter.
Result<std::unique_ptr<PolicyFilter>> MakePolicyFilter(const PolicyOptions& opts);
// Defaults + files, without building a filter (for `ctrsnap policy show`).
Result<Policy> LoadPolicy(const PolicyOptions& opts);

// Home directories listed in /etc/passwd TEXT (deduplicated, "/" skipped).
std::vector<std::string> HomesFromPasswd(std::string_view text);
// Expands "~/x" into one glob per home ("/root/x", "/home/*/x", ...).
std::vector<std::string> ExpandHomes(const std::string& glob, const std::vector<std::string>& homes);
// True for environment variable names that usually hold secrets.
bool SecretLookingEnvName(std::string_view name);

}  // namespace ctrsnap::policy
