#include "layers/policy/policy_filter.h"

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <cstring>
#include <cerrno>
#include <set>

#include "common/file_util.h"
#include "layers/policy/value_checks.h"

namespace ctrsnap::policy {
namespace {

int Severity(FilterAction a) {
  switch (a) {
    case FilterAction::kKeep: return 0;
    case FilterAction::kKeepReport: return 1;
    case FilterAction::kDrop: return 2;
    case FilterAction::kFail: return 3;
  }
  return 0;
}

void Escalate(FilterDecision* d, FilterAction a) {
  if (Severity(a) > Severity(d->action)) d->action = a;
}

// Escapes glob metacharacters in a literal path taken from the environment.
std::string GlobEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == '\\' || c == '!' || c == '#') out.push_back('\\');
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

struct EnvDir {
  const char* var;
  const char* rule;
  std::vector<const char*> suffixes;  // appended to the directory; "/" = the directory itself
};

// Where the container's env moves a cache or credential.
const std::vector<EnvDir>& EnvDirs() {
  static const std::vector<EnvDir> k = {
      {"PIP_CACHE_DIR", "cache.pip", {"/"}},
      {"UV_CACHE_DIR", "cache.pip", {"/"}},
      {"PIPENV_CACHE_DIR", "cache.pip", {"/"}},
      {"POETRY_CACHE_DIR", "cache.pip", {"/cache/", "/artifacts/"}},
      {"npm_config_cache", "cache.npm", {"/_cacache/", "/_logs/"}},
      {"NPM_CONFIG_CACHE", "cache.npm", {"/_cacache/", "/_logs/"}},
      {"YARN_CACHE_FOLDER", "cache.npm", {"/"}},
      {"GOCACHE", "cache.go-build", {"/"}},
      {"GOMODCACHE", "large.go-modules", {"/"}},
      {"GOPATH", "large.go-modules", {"/pkg/mod/"}},
      {"CARGO_HOME", "cache.cargo", {"/registry/cache/", "/registry/src/", "/git/db/"}},
      {"CARGO_HOME", "path.package-registry", {"/credentials", "/credentials.toml"}},
      {"GRADLE_USER_HOME", "cache.jvm-dotnet-php", {"/caches/", "/daemon/"}},
      {"GRADLE_USER_HOME", "large.jvm-repos", {"/wrapper/dists/"}},
      {"CCACHE_DIR", "cache.compiler", {"/"}},
      {"SCCACHE_DIR", "cache.compiler", {"/"}},
      {"TRITON_CACHE_DIR", "cache.jit-fonts", {"/"}},
      {"CONDA_PKGS_DIRS", "cache.conda-pkgs", {"/*"}},
      {"HF_HOME", "large.huggingface", {"/hub/", "/datasets/"}},
      {"HF_HOME", "path.huggingface-token", {"/token", "/stored_tokens"}},
      {"HF_HUB_CACHE", "large.huggingface", {"/"}},
      {"HUGGINGFACE_HUB_CACHE", "large.huggingface", {"/"}},
      {"TRANSFORMERS_CACHE", "large.huggingface", {"/"}},
      {"HF_DATASETS_CACHE", "large.huggingface", {"/"}},
      {"TORCH_HOME", "large.torch-hub", {"/hub/"}},
      {"TORCH_HOME", "cache.jit-fonts", {"/kernels/"}},
      {"KERAS_HOME", "large.ml-models", {"/models/", "/datasets/"}},
      {"DOCKER_CONFIG", "path.credential-configs", {"/config.json"}},
      {"AWS_SHARED_CREDENTIALS_FILE", "path.aws-credentials", {""}},
      {"AWS_CONFIG_FILE", "path.credential-configs", {""}},
      {"KUBECONFIG", "path.credential-configs", {""}},
      {"HISTFILE", "cache.shell-history", {""}},
      {"PGPASSFILE", "path.database-clients", {""}},
  };
  return k;
}

void ApplyEnv(const std::vector<std::string>& env, std::vector<PathRule>* rules) {
  auto find = [&](std::string_view id) -> PathRule* {
    for (PathRule& r : *rules) {
      if (r.id == id) return &r;
    }
    return nullptr;
  };
  for (const std::string& kv : env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string name = kv.substr(0, eq);
    std::string value = kv.substr(eq + 1);
    // Some variables hold lists (KUBECONFIG=a:b, CONDA_PKGS_DIRS=a,b).
    std::vector<std::string> dirs;
    size_t start = 0;
    while (start <= value.size()) {
      size_t sep = value.find_first_of(":,", start);
      if (sep == std::string::npos) sep = value.size();
      std::string d = value.substr(start, sep - start);
      if (!d.empty() && d[0] == '/' && d != "/") dirs.push_back(d);
      start = sep + 1;
    }
    if (name == "XDG_CACHE_HOME") {
      for (const std::string& d : dirs) {
        for (PathRule& r : *rules) {
          std::vector<std::string> add;
          for (const std::string& g : r.globs) {
            if (g.rfind("~/.cache/", 0) == 0) add.push_back(GlobEscape(d) + g.substr(8));
          }
          r.globs.insert(r.globs.end(), add.begin(), add.end());
        }
      }
      continue;
    }
    for (const EnvDir& e : EnvDirs()) {
      if (name != e.var) continue;
      PathRule* r = find(e.rule);
      if (r == nullptr) continue;
      for (const std::string& d : dirs) {
        for (const char* suffix : e.suffixes) {
          std::string g = GlobEscape(d);
          if (std::string_view(suffix) == "/") {
            g += "/";
          } else {
            g += suffix;
          }
          r->globs.push_back(g);
        }
      }
    }
  }
}

}  // namespace

std::vector<std::string> HomesFromPasswd(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    // name:pw:uid:gid:gecos:home:shell
    size_t pos = 0;
    for (int field = 0; field < 5 && pos != std::string_view::npos; ++field) {
      pos = line.find(':', pos);
      if (pos != std::string_view::npos) ++pos;
    }
    if (pos == std::string_view::npos) continue;
    size_t end = line.find(':', pos);
    std::string home(line.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    while (home.size() > 1 && home.back() == '/') home.pop_back();
    if (home.empty() || home[0] != '/' || home == "/" || home == "/nonexistent" ||
        home == "/dev/null" || home.find("..") != std::string::npos) {
      continue;
    }
    if (std::find(out.begin(), out.end(), home) == out.end()) out.push_back(home);
  }
  return out;
}

std::vector<std::string> ExpandHomes(const std::string& glob, const std::vector<std::string>& homes) {
  if (glob.rfind("~/", 0) != 0) return {glob};
  std::vector<std::string> out;
  for (const std::string& h : homes) out.push_back(h + glob.substr(1));
  return out;
}

bool SecretLookingEnvName(std::string_view name) {
  std::string n(name);
  for (char& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // Names that look secret but hold public or non-secret values.
  static constexpr std::string_view kNotSecret[] = {"GPG_KEY", "PYTHON_GPG_KEY", "KEY_ID"};
  for (std::string_view s : kNotSecret) {
    if (n == s) return false;
  }
  for (std::string_view suffix : {"_FILE", "_PATH", "_DIR", "_ID", "_URL_FILE", "_PUBLIC_KEY",
                                  "_KEYRING", "_KEY_ID", "_KEYSERVER"}) {
    if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return false;
    }
  }
  for (std::string_view sub : {"SECRET", "PASSWORD", "PASSWD", "TOKEN", "CREDENTIAL", "APIKEY",
                               "API_KEY", "PRIVATE_KEY", "ACCESS_KEY"}) {
    if (n.find(sub) != std::string::npos) return true;
  }
  for (std::string_view suffix : {"_KEY", "_PAT", "_AUTH", "_PWD", "_PASS", "_DSN"}) {
    if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return true;
    }
  }
  return false;
}

Result<Policy> LoadPolicy(const PolicyOptions& opts) {
  Policy p = DefaultPolicy();
  if (!opts.system_policy_path.empty()) {
    struct stat st;
    if (::stat(opts.system_policy_path.c_str(), &st) == 0) {
      RETURN_IF_ERROR(MergePolicyFile(opts.system_policy_path, &p));
    } else if (errno != ENOENT) {
      return Status::FromErrno(errno, "stat", opts.system_policy_path);
    }
  }
  if (!opts.container_policy_path.empty()) {
    RETURN_IF_ERROR(MergePolicyFile(opts.container_policy_path, &p));
  }
  if (!opts.snapshot_policy_path.empty()) {
    RETURN_IF_ERROR(MergePolicyFile(opts.snapshot_policy_path, &p));
  }
  for (const std::string& g : opts.extra_includes) {
    RETURN_IF_ERROR(GlobPattern::Parse(g).status().WithContext("include"));
    p.include.push_back(g);
  }
  for (const std::string& g : opts.extra_excludes) {
    RETURN_IF_ERROR(GlobPattern::Parse(g).status().WithContext("exclude"));
    p.exclude.push_back(g);
  }
  if (opts.aggressive) p.aggressive = *opts.aggressive;
  // A credential file found by its path is a secret too: --on-secret covers both.
  if (opts.on_secret) {
    p.actions[kKindSecret] = *opts.on_secret;
    p.actions[kKindCredentialPath] = *opts.on_secret;
  }
  return p;
}

Result<std::unique_ptr<PolicyFilter>> MakePolicyFilter(const PolicyOptions& opts) {
  ASSIGN_OR_RETURN(Policy p, LoadPolicy(opts));
  return PolicyFilter::Create(std::move(p), opts);
}

Result<std::unique_ptr<PolicyFilter>> PolicyFilter::Create(Policy policy, const PolicyOptions& opts) {
  std::unique_ptr<PolicyFilter> f(new PolicyFilter());
  f->policy_ = std::move(policy);
  f->homes_ = {"/root", "/home/*"};
  for (const std::string& h : HomesFromPasswd(opts.passwd_text)) {
    if (h != "/root" && std::find(f->homes_.begin(), f->homes_.end(), h) == f->homes_.end()) {
      f->homes_.push_back(GlobEscape(h));
    }
  }
  ApplyEnv(opts.env, &f->policy_.path_rules);
  for (const PathRule& r : f->policy_.path_rules) {
    if (!f->policy_.RuleEnabled(r.id)) continue;
    CompiledRule c{&r, {}, {}};
    for (const std::string& g : r.globs) {
      for (const std::string& e : ExpandHomes(g, f->homes_)) {
        RETURN_IF_ERROR(c.globs.Add(e).WithContext("rule " + r.id));
      }
    }
    for (const std::string& g : r.except) {
      for (const std::string& e : ExpandHomes(g, f->homes_)) {
        RETURN_IF_ERROR(c.except.Add(e).WithContext("rule " + r.id));
      }
    }
    f->compiled_.push_back(std::move(c));
  }
  for (const std::string& g : f->policy_.include) RETURN_IF_ERROR(f->include_.Add(g));
  for (const std::string& g : f->policy_.exclude) RETURN_IF_ERROR(f->exclude_.Add(g));
  for (const AllowEntry& a : f->policy_.allow) {
    std::optional<GlobPattern> g;
    if (!a.path.empty()) {
      ASSIGN_OR_RETURN(GlobPattern parsed, GlobPattern::Parse(a.path));
      g = std::move(parsed);
    }
    f->allow_.emplace_back(std::move(g), &a);
  }
  DetectorOptions dopts;
  for (const auto& [id, on] : f->policy_.rules) {
    if (!on) dopts.disabled_rules.insert(id);
  }
  dopts.max_inflate_bytes = f->policy_.max_inflate_bytes;
  ASSIGN_OR_RETURN(f->detector_, Detector::Create(dopts));
  f->secret_action_ = f->policy_.ActionFor(kKindSecret);
  return f;
}

bool PolicyFilter::Allowed(const std::string& path, const std::string& rule,
                           const std::string& fp) const {
  for (const auto& [glob, a] : allow_) {
    if (glob && !glob->Matches(path, false)) continue;
    if (!a->rule.empty() && a->rule != rule) continue;
    if (!a->fingerprint.empty() && a->fingerprint != fp) continue;
    return true;
  }
  return false;
}

FilterDecision PolicyFilter::EvaluatePath(const FilterEntry& e) const {
  FilterDecision d;
  if (S_ISDIR(e.mode)) return d;  // directories are always kept
  if (!include_.empty() && include_.Matches(e.path, false)) return d;
  auto add = [&](std::string rule, std::string kind, std::string reason, FilterAction a) {
    if (Allowed(e.path, rule, "")) return;
    FilterFinding f;
    f.rule = std::move(rule);
    f.kind = std::move(kind);
    f.path = e.path;
    f.reason = std::move(reason);
    f.bytes = e.size;
    f.action = a;
    Escalate(&d, a);
    d.findings.push_back(std::move(f));
  };
  const std::vector<std::string_view> comps = SplitGlobPath(e.path);
  if (exclude_.MatchesComponents(comps, false)) {
    add("user.exclude", kKindExcluded, "matches an exclude glob of the policy",
        policy_.ActionFor(kKindExcluded));
    return d;
  }
  // One pass over the rules; the first match of the most important kind
  // decides: credential paths, then tier C (keep), tier A, tier B.
  static constexpr const char* kOrder[] = {kKindCredentialPath, kKindKeep, kKindCache,
                                           kKindLargeDownload};
  const CompiledRule* best = nullptr;
  int best_rank = 4;
  for (const CompiledRule& c : compiled_) {
    if (c.rule->elf_core_only || c.rule->content_decides) continue;  // EvaluateContent decides
    int rank = 0;
    while (rank < 4 && c.rule->kind != kOrder[rank]) ++rank;
    if (rank >= best_rank) continue;
    if (!c.globs.MatchesComponents(comps, false) || c.except.MatchesComponents(comps, false)) {
      continue;
    }
    best = &c;
    best_rank = rank;
    if (rank == 0) break;
  }
  if (best == nullptr || best->rule->kind == kKindKeep) return d;
  add(best->rule->id, best->rule->kind, best->rule->reason, policy_.ActionFor(best->rule->kind));
  return d;
}

namespace {

bool IsElfCore(std::string_view head) {
  if (head.size() < 18) return false;
  if (head.substr(0, 4) != std::string_view(ELFMAG, SELFMAG)) return false;
  uint16_t type = 0;
  std::memcpy(&type, head.data() + 16, 2);
  if (head[EI_DATA] == ELFDATA2MSB) type = static_cast<uint16_t>((type >> 8) | (type << 8));
  return type == ET_CORE;
}

// The first SIZE bytes of FD (fewer at its end or on a read error).
std::string ReadPrefix(int fd, uint64_t size) {
  std::string data(static_cast<size_t>(size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  return data;
}

}  // namespace

// Bounds the memo: a tree with more hard-linked files than this just scans
// again after it is cleared.
constexpr size_t kMaxScanMemo = 4096;

const PolicyFilter::CompiledRule* PolicyFilter::ElfCoreRuleFor(const FilterEntry& e) const {
  for (const CompiledRule& c : compiled_) {
    if (c.rule->elf_core_only && c.globs.Matches(e.path, false)) return &c;
  }
  return nullptr;
}

std::string PolicyFilter::ScanMemoKey(const FilterEntry& e) const {
  if (e.link_ino == 0) return "";
  return std::to_string(e.link_dev) + ":" + std::to_string(e.link_ino) + ":" + std::to_string(e.size) +
         ":" + detector_->PathSignature(e.path);
}

std::optional<ScanOutput> PolicyFilter::MemoizedScan(const std::string& key) const {
  if (key.empty()) return std::nullopt;
  std::lock_guard<std::mutex> l(memo_mu_);
  auto it = scan_memo_.find(key);
  if (it == scan_memo_.end()) return std::nullopt;
  return it->second;
}

void PolicyFilter::Memoize(const std::string& key, const ScanOutput& out) const {
  if (key.empty()) return;
  std::lock_guard<std::mutex> l(memo_mu_);
  if (scan_memo_.size() >= kMaxScanMemo) scan_memo_.clear();
  scan_memo_.emplace(key, out);
}

ContentResult PolicyFilter::Evaluate(
    const FilterEntry& e, const std::function<std::string_view(std::string*)>& data) const {
  const CompiledRule* elf = ElfCoreRuleFor(e);
  const std::string key = ScanMemoKey(e);
  // Another name of a hard-linked file already scanned: without a core-dump
  // rule for this path its data need not even be read.
  if (elf == nullptr) {
    if (std::optional<ScanOutput> memo = MemoizedScan(key)) return FromScan(e, std::move(*memo));
  }
  std::string storage;
  const std::string_view d = data(&storage);
  // Core dumps: nominated by name, confirmed by the ELF header.
  if (elf != nullptr && IsElfCore(d) && !Allowed(e.path, elf->rule->id, "")) {
    ContentResult r;
    FilterFinding f{elf->rule->id, kKindCache, e.path, 0, "", elf->rule->reason, e.size,
                    policy_.ActionFor(kKindCache)};
    Escalate(&r.decision, f.action);
    r.decision.findings.push_back(std::move(f));
    r.fingerprints.emplace_back();
    return r;
  }
  std::optional<ScanOutput> out = elf != nullptr ? MemoizedScan(key) : std::nullopt;
  if (!out) {
    out = detector_->Scan(d, e.path);
    Memoize(key, *out);
  }
  return FromScan(e, std::move(*out));
}

ContentResult PolicyFilter::EvaluateBuffer(const FilterEntry& e, std::string_view data) const {
  return Evaluate(e, [data](std::string*) { return data; });
}

ContentResult PolicyFilter::FromScan(const FilterEntry& e, ScanOutput out) const {
  ContentResult r;
  FilterDecision& d = r.decision;
  for (Detection& det : out.detections) {
    if (Allowed(e.path, det.rule, det.fingerprint)) continue;
    FilterFinding f;
    f.rule = det.rule;
    f.kind = kKindSecret;
    f.path = e.path;
    f.line = det.line;
    f.masked = det.masked;
    f.reason = det.reason;
    f.bytes = e.size;
    f.action = secret_action_;
    Escalate(&d, f.action);
    d.findings.push_back(std::move(f));
    r.fingerprints.push_back(std::move(det.fingerprint));
  }
  for (const std::string& limit : out.limits) {
    FilterFinding f{"limit.decompress", kKindScanLimit, e.path, 0, "", limit, e.size,
                    FilterAction::kKeepReport};
    Escalate(&d, f.action);
    d.findings.push_back(std::move(f));
    r.fingerprints.emplace_back();
  }
  return r;
}

ContentResult PolicyFilter::EvaluateFd(const FilterEntry& e, int fd) const {
  const uint64_t limit = policy_.max_file_bytes;
  ContentResult r = Evaluate(e, [&](std::string* storage) {
    *storage = ReadPrefix(fd, std::min<uint64_t>(e.size, limit));
    return std::string_view(*storage);
  });
  if (e.size > limit) {
    FilterFinding f{"limit.file-size", kKindScanLimit, e.path, 0, "",
                    "only the first " + std::to_string(limit) + " of " + std::to_string(e.size) +
                        " bytes were scanned (limits.max_file_bytes)",
                    e.size, FilterAction::kKeepReport};
    Escalate(&r.decision, f.action);
    r.decision.findings.push_back(std::move(f));
    r.fingerprints.emplace_back();
  }
  return r;
}

FilterDecision PolicyFilter::EvaluateContent(const FilterEntry& e, int fd) const {
  return EvaluateFd(e, fd).decision;
}

std::vector<FilterFinding> PolicyFilter::FilterEnv(std::vector<std::string>* env) const {
  std::vector<FilterFinding> findings;
  std::vector<std::string> kept;
  for (std::string& kv : *env) {
    size_t eq = kv.find('=');
    std::string name = kv.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : kv.substr(eq + 1);
    const std::string path = "env:" + name;
    FilterFinding f;
    f.kind = kKindSecret;
    f.path = path;
    f.action = FilterAction::kDrop;
    bool drop = false;
    if (!value.empty()) {
      ScanOutput out = detector_->Scan(kv, "");
      for (const Detection& det : out.detections) {
        if (Allowed(path, det.rule, det.fingerprint)) continue;
        f.rule = det.rule;
        f.masked = det.masked;
        f.reason = det.reason + " in the environment";
        drop = true;
        break;
      }
      if (!drop && SecretLookingEnvName(name) && !LooksLikePlaceholder(value) &&
          policy_.RuleEnabled("env.secret-name") && !Allowed(path, "env.secret-name", Fingerprint(value))) {
        f.rule = "env.secret-name";
        f.masked = MaskValue(value);
        f.reason = "environment variable with a secret-looking name";
        drop = true;
      }
    }
    if (drop) {
      findings.push_back(std::move(f));
    } else {
      kept.push_back(std::move(kv));
    }
  }
  *env = std::move(kept);
  return findings;
}

}  // namespace ctrsnap::policy
