// ctrsnap policy show: the effective stripping policy (built-in defaults
// merged with policy files) and the secret rules.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/state_layout.h"
#include "layers/cli/commands.h"
#include "layers/policy/detector.h"
#include "layers/policy/policy_filter.h"

namespace ctrsnap::cli {
namespace {

struct PolicyArgs {
  bool json = false;
  bool aggressive = false;
  std::string policy_file;
  std::string system_policy = layout::kDefaultPolicyPath;
  std::vector<std::string> env;
};

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

int RunShow(const PolicyArgs& args) {
  policy::PolicyOptions opts;
  opts.system_policy_path = args.system_policy;
  opts.snapshot_policy_path = args.policy_file;
  opts.env = args.env;
  if (args.aggressive) opts.aggressive = true;
  auto filter = policy::MakePolicyFilter(opts);  // validates and applies the env
  if (!filter.ok()) {
    std::fprintf(stderr, "ctrsnap policy show: %s\n", filter.status().ToString().c_str());
    return 2;
  }
  const policy::Policy& p = (*filter)->policy();
  std::vector<policy::RuleInfo> secret_rules = policy::Detector::Catalog();
  if (args.json) {
    nlohmann::json j = policy::PolicyToJson(p);
    j["homes"] = (*filter)->homes();
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& r : secret_rules) {
      rules.push_back({{"id", r.id}, {"description", r.description}, {"enabled", p.RuleEnabled(r.id)}});
    }
    j["secret_rules"] = std::move(rules);
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("Policy sources: defaults%s%s\n", p.sources.empty() ? "" : ", ", Join(p.sources).c_str());
  std::printf("Homes: %s\n", Join((*filter)->homes()).c_str());
  std::printf("Aggressive (drop tier B): %s\n\n", p.aggressive ? "yes" : "no");
  struct Section {
    const char* kind;
    const char* title;
  };
  for (Section s : {Section{policy::kKindCache, "Tier A: caches (dropped)"},
                    Section{policy::kKindLargeDownload, "Tier B: large downloads (reported; dropped with --aggressive)"},
                    Section{policy::kKindKeep, "Tier C: look-alikes (never dropped)"},
                    Section{policy::kKindCredentialPath, "Credential files by path"}}) {
    std::printf("%s  [action: %s]\n", s.title, std::string(policy::ActionName(p.ActionFor(s.kind))).c_str());
    for (const policy::PathRule& r : p.path_rules) {
      if (r.kind != s.kind) continue;
      std::printf("  %-26s %s%s\n", r.id.c_str(), p.RuleEnabled(r.id) ? "" : "(off) ", r.reason.c_str());
      std::printf("  %-26s %s%s%s\n", "", Join(r.globs).c_str(), r.except.empty() ? "" : "  except ",
                  Join(r.except).c_str());
    }
    std::printf("\n");
  }
  std::printf("Secret rules (%zu)  [action: %s]\n", secret_rules.size(),
              std::string(policy::ActionName(p.ActionFor(policy::kKindSecret))).c_str());
  for (const auto& r : secret_rules) {
    std::printf("  %-40s %s%s\n", r.id.c_str(), p.RuleEnabled(r.id) ? "" : "(off) ", r.description.c_str());
  }
  if (!p.include.empty()) std::printf("\nInclude: %s\n", Join(p.include).c_str());
  if (!p.exclude.empty()) std::printf("Exclude: %s\n", Join(p.exclude).c_str());
  if (!p.allow.empty()) std::printf("Allow-list entries: %zu\n", p.allow.size());
  return 0;
}

}  // namespace

void AddPolicyCommand(CLI::App& root, Context& ctx) {
  CLI::App* policy = root.add_subcommand("policy", "Inspect the stripping policy");
  policy->require_subcommand(1);
  auto args = std::make_shared<PolicyArgs>();
  CLI::App* show = policy->add_subcommand(
      "show", "Print the effective policy: cache tiers, credential paths, secret rules");
  show->add_flag("--json", args->json, "print JSON");
  show->add_flag("--aggressive", args->aggressive, "as with --aggressive");
  show->add_option("--policy", args->policy_file, "policy file merged over the others");
  show->add_option("--system-policy", args->system_policy,
                   "system policy file (default /etc/ctrsnap/policy.json; \"\" for none)");
  show->add_option("--env", args->env, "a container env entry NAME=value (repeatable)");
  show->callback([args, &ctx] { ctx.exit_code = RunShow(*args); });
}

}  // namespace ctrsnap::cli
