#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "layers/policy/policy.h"
#include "layers/policy/policy_filter.h"

namespace ctrsnap::policy {
namespace {

FilterEntry File(std::string path, uint64_t size = 100) {
  return FilterEntry{std::move(path), S_IFREG | 0644, 0, 0, size};
}

std::unique_ptr<PolicyFilter> Make(const Policy& p, PolicyOptions opts = {}) {
  auto f = PolicyFilter::Create(p, opts);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? std::move(*f) : nullptr;
}

// rule id of the first path finding, "" when kept silently.
std::string RuleFor(const PolicyFilter& f, const std::string& path) {
  FilterDecision d = f.EvaluatePath(File(path));
  return d.findings.empty() ? "" : d.findings[0].rule;
}

TEST(PolicyFileTest, ParseErrorsNameFileLineAndColumn) {
  Policy p = DefaultPolicy();
  Status st = MergePolicyText("{\n  \"exclude\": [\"a\",\n  ]\n}\n", "/etc/p.json", &p);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/etc/p.json:3:3"), std::string::npos) << st.message();

  st = MergePolicyText("{\n  \"exclude\": [],\n  \"exlcude\": []\n}\n", "p.json", &p);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("p.json:3:3: unknown key \"exlcude\""), std::string::npos) << st.message();

  st = MergePolicyText("{\"actions\": {\"secret\": \"explode\"}}", "p.json", &p);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unknown action"), std::string::npos);
  st = MergePolicyText("{\"actions\": {\"bogus\": \"drop\"}}", "p.json", &p);
  EXPECT_FALSE(st.ok());
  st = MergePolicyText("{\"rules\": {\"cache.pip\": \"no\"}}", "p.json", &p);
  EXPECT_FALSE(st.ok());
  st = MergePolicyText("{\"allow\": [{\"fingerprint\": \"abc\"}]}", "p.json", &p);
  EXPECT_FALSE(st.ok());
  st = MergePolicyText("{\"allow\": [{\"paht\": \"/x\"}]}", "p.json", &p);
  EXPECT_FALSE(st.ok());
  st = MergePolicyText("{\"exclude\": [\"!\"]}", "p.json", &p);
  EXPECT_FALSE(st.ok());
  st = MergePolicyText("[]", "p.json", &p);
  EXPECT_FALSE(st.ok());
  st = MergePolicyText("{\"limits\": {\"max_file_bytes\": -1}}", "p.json", &p);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(LineColumn("ab\ncd", 4), "2:2");
}

TEST(PolicyFileTest, MergeOrderLaterWins) {
  Policy p = DefaultPolicy();
  ASSERT_TRUE(MergePolicyText(R"({"exclude": ["*.bak"], "rules": {"cache.pip": false},
      "actions": {"secret": "keep-and-report"}, "aggressive": true})", "system", &p).ok());
  ASSERT_TRUE(MergePolicyText(R"({"exclude": ["!keep.bak"], "rules": {"cache.pip": true},
      "actions": {"secret": "fail"}})", "container", &p).ok());
  EXPECT_EQ(p.exclude, (std::vector<std::string>{"*.bak", "!keep.bak"}));
  EXPECT_TRUE(p.RuleEnabled("cache.pip"));
  EXPECT_EQ(p.ActionFor(kKindSecret), FilterAction::kFail);
  EXPECT_TRUE(p.aggressive);
  EXPECT_EQ(p.sources, (std::vector<std::string>{"system", "container"}));
  auto f = Make(p);
  EXPECT_EQ(RuleFor(*f, "/app/x.bak"), "user.exclude");
  EXPECT_EQ(RuleFor(*f, "/app/keep.bak"), "");
}

// Every default rule, with a path it must cover: tests each entry of the
// researched list (../shared/docs/strip-defaults.md).
TEST(DefaultsTest, EachRuleCoversItsPaths) {
  Policy p = DefaultPolicy();
  auto f = Make(p);
  struct {
    const char* path;
    const char* rule;  // "" = kept without a finding
  } cases[] = {
      {"/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", "cache.apt-lists"},
      {"/var/lib/apt/lists/lock", ""},
      {"/var/lib/apt/lists/partial/x", ""},
      {"/var/cache/apt/pkgcache.bin", "cache.apt-archives"},
      {"/var/cache/apt/archives/curl_7.88_amd64.deb", "cache.apt-archives"},
      {"/var/cache/apk/APKINDEX.tar.gz", "cache.apk"},
      {"/var/cache/dnf/repodata.xml", "cache.dnf-yum-zypp"},
      {"/var/log/dpkg.log", "cache.logs"},
      {"/var/log/apt/history.log", "cache.logs"},
      {"/tmp/build.o", "cache.tmp"},
      {"/var/tmp/x", "cache.tmp"},
      {"/root/.cache/pip/http/a/b", "cache.pip"},
      {"/home/dev/.cache/uv/wheels/x.whl", "cache.pip"},
      {"/root/.cache/pypoetry/artifacts/x.tar.gz", "cache.pip"},
      {"/root/.cache/pypoetry/virtualenvs/app/bin/python", ""},
      {"/app/pkg/__pycache__/m.cpython-311.pyc", "cache.python-bytecode"},
      {"/app/.pytest_cache/v/cache/lastfailed", "cache.python-bytecode"},
      {"/usr/lib/python3/dist-packages/m.pyc", ""},  // .pyc outside __pycache__: tier C
      {"/opt/conda/pkgs/numpy-1.26.tar.bz2", "cache.conda-pkgs"},
      {"/root/.npm/_cacache/index-v5/x", "cache.npm"},
      {"/root/.npm/_logs/debug.log", "cache.npm"},
      {"/home/dev/.cache/yarn/v6/x", "cache.npm"},
      {"/root/.local/share/pnpm/store/v3/x", "cache.npm"},
      {"/root/.cache/go-build/ab/cd", "cache.go-build"},
      {"/root/.ccache/x", "cache.compiler"},
      {"/root/.cargo/registry/cache/x.crate", "cache.cargo"},
      {"/root/.cargo/bin/rg", ""},
      {"/root/.gradle/caches/modules-2/x.jar", "cache.jvm-dotnet-php"},
      {"/root/.cache/matplotlib/fontlist.json", "cache.jit-fonts"},
      {"/root/.triton/cache/x", "cache.jit-fonts"},
      {"/app/.ipynb_checkpoints/nb-checkpoint.ipynb", "cache.ipynb-checkpoints"},
      {"/app/.main.py.swp", "cache.editor-junk"},
      {"/root/.viminfo", "cache.editor-junk"},
      {"/root/.cache/huggingface/hub/models--x/blob", "large.huggingface"},
      {"/root/.cache/torch/hub/checkpoints/r.pth", "large.torch-hub"},
      {"/root/.keras/models/x.h5", "large.ml-models"},
      {"/root/go/pkg/mod/github.com/x@v1/a.go", "large.go-modules"},
      {"/root/.m2/repository/org/x.jar", "large.jvm-repos"},
      {"/root/.vscode-server/bin/x", "large.vscode-server"},
      {"/app/.tox/py311/bin/python", "large.tox-nox"},
      {"/root/.bash_history.bak", ""},
      {"/root/.nuget/packages/newtonsoft.json/13.0.1/x.nupkg", "large.nuget-gems"},
      {"/var/cache/debconf/config.dat", ""},
      {"/etc/ld.so.cache", ""},
      {"/app/.yarn/cache/lodash.zip", ""},
      {"/root/.cache/ms-playwright/chromium/chrome", ""},
      {"/app/node_modules/.cache/x", ""},
      {"/root/.aws/credentials", "path.aws-credentials"},
      {"/root/.ssh/id_ed25519", "path.ssh-private-key"},
      {"/root/.ssh/id_ed25519.pub", ""},
      {"/root/.ssh/known_hosts", ""},
      {"/home/dev/.docker/config.json", ""},
      {"/root/.kube/config", ""},
      {"/root/.netrc", "path.netrc"},
      {"/root/.git-credentials", "path.git-credentials"},
      {"/root/.npmrc", ""},
      {"/root/.pypirc", ""},
      {"/root/.config/gh/hosts.yml", ""},
      {"/root/.cargo/credentials.toml", "path.package-registry"},
      {"/root/.config/gcloud/application_default_credentials.json", "path.cloud-cli"},
      {"/root/.vault-token", "path.cloud-cli"},
      {"/root/.gnupg/private-keys-v1.d/AB.key", "path.private-keyring"},
      {"/root/.cache/huggingface/token", "path.huggingface-token"},
      {"/root/.local/share/jupyter/runtime/kernel-1.json", "path.jupyter-runtime"},
      {"/root/.pgpass", "path.database-clients"},
      {"/root/.aws/config", ""},
      {"/app/.env", ""},
      {"/app/.env.production", ""},
      {"/app/.env.example", ""},
      {"/root/.bash_history", "cache.shell-history"},
      {"/root/.local/share/fish/fish_history", "cache.shell-history"},
      {"/root/.python_history", "cache.shell-history"},
      {"/app/README.md", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(RuleFor(*f, c.path), c.rule) << c.path;
  // Every built-in rule id is exercised above or is a documented extra.
  for (const PathRule& r : p.path_rules) {
    bool seen = r.kind == kKindKeep || r.elf_core_only || r.content_decides;
    for (const auto& c : cases) seen = seen || r.id == c.rule;
    EXPECT_TRUE(seen) << r.id << " has no test path";
  }
}

TEST(DefaultsTest, TiersAndActions) {
  Policy p = DefaultPolicy();
  auto f = Make(p);
  FilterDecision d = f->EvaluatePath(File("/root/.cache/huggingface/hub/m", 5 << 20));
  ASSERT_EQ(d.findings.size(), 1u);
  EXPECT_EQ(d.action, FilterAction::kKeepReport);  // tier B: reported with its size
  EXPECT_EQ(d.findings[0].bytes, 5u << 20);
  PolicyOptions aggressive;
  aggressive.aggressive = true;
  auto p2 = LoadPolicy(aggressive);
  ASSERT_TRUE(p2.ok());
  auto fa = Make(*p2);
  EXPECT_EQ(fa->EvaluatePath(File("/root/.cache/huggingface/hub/m")).action, FilterAction::kDrop);
  EXPECT_EQ(f->EvaluatePath(File("/root/.cache/pip/x")).action, FilterAction::kDrop);
  // Directories are always kept.
  FilterEntry dir{"/root/.cache/pip", S_IFDIR | 0755, 0, 0, 0};
  EXPECT_EQ(f->EvaluatePath(dir).action, FilterAction::kKeep);
}

TEST(DefaultsTest, CoreDumpsOnlyWhenElfCore) {
  auto f = Make(DefaultPolicy());
  EXPECT_EQ(RuleFor(*f, "/app/core"), "");  // decided by content
  std::string core(64, '\0');
  core.replace(0, 4, "\x7f" "ELF");
  core[4] = 2;   // ELFCLASS64
  core[5] = 1;   // little endian
  core[16] = 4;  // ET_CORE
  EXPECT_EQ(f->EvaluateBuffer(File("/app/core"), core).decision.action, FilterAction::kDrop);
  core[16] = 3;  // ET_DYN: a program named core
  EXPECT_EQ(f->EvaluateBuffer(File("/app/core"), core).decision.action, FilterAction::kKeep);
}

TEST(PolicyFilterTest, HonoursContainerEnvAndPasswdHomes) {
  PolicyOptions o;
  o.env = {"PIP_CACHE_DIR=/opt/pipcache", "XDG_CACHE_HOME=/data/cache", "HF_HOME=/models/hf",
           "npm_config_cache=/npmc", "GOCACHE=/gocache", "CARGO_HOME=/usr/local/cargo",
           "GRADLE_USER_HOME=/gradle", "TORCH_HOME=/th", "PATH=/usr/bin"};
  o.passwd_text = "root:x:0:0:root:/root:/bin/bash\nsvc:x:999:999::/srv/svc:/bin/sh\nbad line\n";
  auto p = LoadPolicy(o);
  ASSERT_TRUE(p.ok());
  auto f = Make(*p, o);
  EXPECT_EQ(RuleFor(*f, "/opt/pipcache/http/x"), "cache.pip");
  EXPECT_EQ(RuleFor(*f, "/data/cache/pip/x"), "cache.pip");
  EXPECT_EQ(RuleFor(*f, "/data/cache/go-build/x"), "cache.go-build");
  EXPECT_EQ(RuleFor(*f, "/models/hf/hub/x"), "large.huggingface");
  EXPECT_EQ(RuleFor(*f, "/models/hf/token"), "path.huggingface-token");
  EXPECT_EQ(RuleFor(*f, "/npmc/_cacache/x"), "cache.npm");
  EXPECT_EQ(RuleFor(*f, "/gocache/x"), "cache.go-build");
  EXPECT_EQ(RuleFor(*f, "/usr/local/cargo/registry/cache/x"), "cache.cargo");
  EXPECT_EQ(RuleFor(*f, "/gradle/caches/x"), "cache.jvm-dotnet-php");
  EXPECT_EQ(RuleFor(*f, "/th/hub/x"), "large.torch-hub");
  EXPECT_EQ(RuleFor(*f, "/srv/svc/.cache/pip/x"), "cache.pip");
  EXPECT_EQ(RuleFor(*f, "/srv/svc/.aws/credentials"), "path.aws-credentials");
  EXPECT_EQ(RuleFor(*f, "/srv/other/.cache/pip/x"), "");
  EXPECT_EQ(HomesFromPasswd("a:x:1:1::/:/bin/sh\nb:x:2:2::/nonexistent:/x\nc:x:3:3::/h/c/:/x\n"),
            (std::vector<std::string>{"/h/c"}));
}

TEST(PolicyFilterTest, IncludeRulesOffAllowListAndActions) {
  Policy p = DefaultPolicy();
  ASSERT_TRUE(MergePolicyText(R"({
    "include": ["/root/.cache/pip/keep-me"],
    "rules": {"cache.shell-history": false, "secret.jwt": false},
    "allow": [{"path": "/app/tests/**", "rule": "secret.aws-access-key-id"}],
    "actions": {"secret": "keep-and-report", "cache": "keep-and-report"}
  })", "p.json", &p).ok());
  auto f = Make(p);
  EXPECT_EQ(RuleFor(*f, "/root/.cache/pip/keep-me"), "");
  EXPECT_EQ(RuleFor(*f, "/root/.bash_history"), "");
  EXPECT_EQ(f->EvaluatePath(File("/root/.cache/pip/x")).action, FilterAction::kKeepReport);
  const std::string key = "id = AKIAQ3EGUPDW7NKXLB5Z\n";
  EXPECT_TRUE(f->EvaluateBuffer(File("/app/tests/t.py"), key).decision.findings.empty());
  ContentResult r = f->EvaluateBuffer(File("/app/main.py"), key);
  ASSERT_EQ(r.decision.findings.size(), 1u);
  EXPECT_EQ(r.decision.action, FilterAction::kKeepReport);
  // Allow by fingerprint: exactly this value, anywhere.
  Policy p2 = DefaultPolicy();
  ASSERT_TRUE(MergePolicyText("{\"allow\": [{\"fingerprint\": \"" + r.fingerprints[0] + "\"}]}",
                              "p2.json", &p2).ok());
  auto f2 = Make(p2);
  EXPECT_TRUE(f2->EvaluateBuffer(File("/app/main.py"), key).decision.findings.empty());
  EXPECT_FALSE(f2->EvaluateBuffer(File("/app/main.py"), "id = AKIAQ3EGUPDW7NKXLB5Q\n").decision.findings.empty());
}

TEST(PolicyFilterTest, OnSecretFail) {
  PolicyOptions o;
  o.on_secret = FilterAction::kFail;
  auto f = MakePolicyFilter(o);
  ASSERT_TRUE(f.ok());
  auto d = (*f)->EvaluateBuffer(File("/app/x"), "id = AKIAQ3EGUPDW7NKXLB5Z\n").decision;
  EXPECT_EQ(d.action, FilterAction::kFail);
}

TEST(PolicyFilterTest, FilterEnvByNameAndByValue) {
  auto f = MakePolicyFilter({});
  ASSERT_TRUE(f.ok());
  std::vector<std::string> env = {
      "PATH=/usr/local/bin:/usr/bin",
      "SERVICE_API_KEY=correcthorse",             // by name only
      "DB_PASSWORD=s3cr3t-Pa55",                  // by name
      "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",  // public key fingerprint
      "PIP_NO_CACHE_DIR=1",
      "EMPTY_TOKEN=",
      "CONFIG=postgres://app:Zq8vN3xT2pLw@db/app",  // by value
      "SSL_KEY_FILE=/etc/ssl/key.pem",
  };
  auto findings = (*f)->FilterEnv(&env);
  EXPECT_EQ(env, (std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin",
                                           "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
                                           "PIP_NO_CACHE_DIR=1", "EMPTY_TOKEN=",
                                           "SSL_KEY_FILE=/etc/ssl/key.pem"}));
  ASSERT_EQ(findings.size(), 3u);
  EXPECT_EQ(findings[0].path, "env:SERVICE_API_KEY");
  EXPECT_EQ(findings[0].rule, "env.secret-name");
  EXPECT_EQ(findings[2].path, "env:CONFIG");
  EXPECT_EQ(findings[2].rule, "secret.db-connection-string");
  for (const auto& x : findings) {
    EXPECT_EQ(x.action, FilterAction::kDrop);
    EXPECT_EQ(x.masked.find("Zq8vN3xT2pLw"), std::string::npos);
  }
  EXPECT_TRUE(SecretLookingEnvName("AWS_SECRET_ACCESS_KEY"));
  EXPECT_TRUE(SecretLookingEnvName("npm_token"));
  EXPECT_FALSE(SecretLookingEnvName("HOME"));
  EXPECT_FALSE(SecretLookingEnvName("GOOGLE_APPLICATION_CREDENTIALS_FILE"));
}

// Names of one hard-linked file are scanned once (a hard-link bomb made the
// exporter scan the same MiB once per name), yet each name gets its own
// findings, and the path still decides allow rules and path-glob detectors.
TEST(PolicyFilterTest, HardLinkedFileIsScannedOncePerPathSignature) {
  Policy p = DefaultPolicy();
  ASSERT_TRUE(MergePolicyText(R"({"allow": [{"path": "/app/tests/**", "rule": "secret.aws-access-key-id"}]})",
                              "p.json", &p).ok());
  auto f = Make(p);
  char tmpl[] = "/tmp/policy-link-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  const std::string key = "id = AKIAQ3EGUPDW7NKXLB5Z\n";
  ASSERT_EQ(::write(fd, key.data(), key.size()), static_cast<ssize_t>(key.size()));
  auto linked = [&](std::string path) {
    FilterEntry e = File(std::move(path), key.size());
    e.link_dev = 1;
    e.link_ino = 42;
    return e;
  };
  ContentResult a = f->EvaluateFd(linked("/app/a.py"), fd);
  ASSERT_EQ(a.decision.findings.size(), 1u);
  EXPECT_EQ(a.decision.findings[0].path, "/app/a.py");
  // The memo answers for the other names, even from a file that now reads
  // empty (it is not read again); each finding names its own path.
  ASSERT_EQ(::ftruncate(fd, 0), 0);
  ContentResult b = f->EvaluateFd(linked("/app/b.py"), fd);
  ASSERT_EQ(b.decision.findings.size(), 1u);
  EXPECT_EQ(b.decision.findings[0].path, "/app/b.py");
  EXPECT_EQ(b.fingerprints, a.fingerprints);
  EXPECT_TRUE(f->EvaluateFd(linked("/app/tests/c.py"), fd).decision.findings.empty());
  // Without link identity every name is read and scanned.
  EXPECT_TRUE(f->EvaluateFd(File("/app/d.py", key.size()), fd).decision.findings.empty());
  ::close(fd);
  ::unlink(tmpl);
}

TEST(PolicyFilterTest, ConcurrentEvaluationsAgree) {
  auto f = MakePolicyFilter({});
  ASSERT_TRUE(f.ok());
  const std::string text = "a\nid = AKIAQ3EGUPDW7NKXLB5Z\npassword = \"Zq8vN3xT2pLw!\"\n";
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto r = (*f)->EvaluateBuffer(File("/app/c.py"), text);
        if (r.decision.findings.size() != 2) ++mismatches;
        if ((*f)->EvaluatePath(File("/root/.cache/pip/x")).findings.size() != 1) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(PolicyFilterTest, PolicyJsonRoundTripsTheDefaults) {
  Policy p = DefaultPolicy();
  nlohmann::json j = PolicyToJson(p);
  EXPECT_EQ(j["path_rules"].size(), p.path_rules.size());
  EXPECT_EQ(j["actions"]["secret"], "drop");
  EXPECT_EQ(j["actions"]["large-download"], "keep-and-report");
}

}  // namespace
}  // namespace ctrsnap::policy
