// ctrsnap scan PATH|CONTAINER|IMAGE-LAYOUT: the stripping policy's findings
// for a directory, a ctrsnap container's changes, or an OCI image layout.
// Exit status: 0 nothing found, 1 a secret or credential file found, 2 error.
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/file_util.h"
#include "common/state_layout.h"
#include "layers/cli/commands.h"
#include "layers/policy/policy_filter.h"
#include "layers/policy/report_format.h"
#include "layers/policy/tree_scan.h"

namespace ctrsnap::cli {
namespace {

struct ScanArgs {
  std::string target;
  bool json = false;
  bool sarif = false;
  bool all = false;
  bool aggressive = false;
  std::string policy_file;
  std::string system_policy = layout::kDefaultPolicyPath;
  std::vector<std::string> excludes;
  std::vector<std::string> includes;
};

constexpr int kExitFound = 1;
constexpr int kExitError = 2;

bool IsDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool Exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

int RunScan(const ScanArgs& args) {
  policy::PolicyOptions opts;
  opts.system_policy_path = args.system_policy;
  opts.snapshot_policy_path = args.policy_file;
  opts.extra_excludes = args.excludes;
  opts.extra_includes = args.includes;
  if (args.aggressive) opts.aggressive = true;

  enum { kDir, kLayout, kContainer } kind;
  std::string where = args.target;
  const std::string state = JoinPath(StateRoot(), args.target);
  if (IsDir(args.target) && Exists(JoinPath(args.target, "oci-layout"))) {
    kind = kLayout;
  } else if (IsDir(args.target)) {
    kind = kDir;
    // The scanned root's own users: their homes get the home rules too.
    auto passwd = ReadFileToString(JoinPath(args.target, "etc/passwd"));
    struct stat st;
    if (passwd.ok() && ::lstat(JoinPath(args.target, "etc/passwd").c_str(), &st) == 0 &&
        S_ISREG(st.st_mode)) {
      opts.passwd_text = *passwd;
    }
  } else if (args.target.find('/') == std::string::npos && Exists(layout::FsMetaPath(state))) {
    kind = kContainer;
    where = state;
  } else {
    std::fprintf(stderr,
                 "ctrsnap scan: %s: not a directory, an OCI layout, or a container under %s\n",
                 args.target.c_str(), StateRoot().c_str());
    return kExitError;
  }
  auto filter = policy::MakePolicyFilter(opts);
  if (!filter.ok()) {
    std::fprintf(stderr, "ctrsnap scan: %s\n", filter.status().ToString().c_str());
    return kExitError;
  }
  Result<policy::ScanReport> report =
      kind == kLayout   ? policy::ScanOciLayout(**filter, where)
      : kind == kDir    ? policy::ScanDirectory(**filter, where)
                        : policy::ScanContainerState(**filter, where);
  if (!report.ok()) {
    std::fprintf(stderr, "ctrsnap scan: %s\n", report.status().ToString().c_str());
    return kExitError;
  }
  std::string out = args.sarif  ? policy::FormatSarif(*report, args.all)
                    : args.json ? policy::FormatJsonLines(*report, args.all)
                                : policy::FormatTable(*report, args.all);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return report->FoundSecret() ? kExitFound : 0;
}

}  // namespace

void AddScanCommand(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<ScanArgs>();
  CLI::App* cmd = root.add_subcommand(
      "scan",
      "Report secrets, credential files and caches the stripping policy finds in a directory "
      "(a root filesystem), a container's changes (its id under $CTRSNAP_ROOT) or an OCI image "
      "layout. Exit status 1 when a secret or credential file is found");
  cmd->add_option("TARGET", args->target, "directory, container id, or OCI layout directory")
      ->required();
  cmd->add_flag("--json", args->json, "one JSON object per finding and line");
  cmd->add_flag("--sarif", args->sarif, "SARIF 2.1.0 for CI systems");
  cmd->add_flag("--all", args->all, "also list caches, large downloads and excluded files");
  cmd->add_flag("--aggressive", args->aggressive, "drop large downloads (tier B) too");
  cmd->add_option("--policy", args->policy_file, "policy file merged over the others");
  cmd->add_option("--system-policy", args->system_policy,
                  "system policy file (default /etc/ctrsnap/policy.json; \"\" for none)");
  cmd->add_option("--exclude", args->excludes, "gitignore glob of paths to leave out (repeatable)");
  cmd->add_option("--include", args->includes, "gitignore glob of paths always kept (repeatable)");
  cmd->callback([args, &ctx] { ctx.exit_code = RunScan(*args); });
}

}  // namespace ctrsnap::cli
