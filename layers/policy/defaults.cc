// The built-in path rules (see ../shared/docs/strip-defaults.md for where
// each entry comes from). "~/" stands for every home directory.
// Directories themselves are always kept (with owner and mode): a rule drops
// what is inside them.
#include "layers/policy/policy.h"

namespace ctrsnap::policy {

std::vector<PathRule> DefaultPathRules() {
  const char* A = kKindCache;
  const char* B = kKindLargeDownload;
  const char* C = kKindKeep;
  const char* P = kKindCredentialPath;
  return {
      // ---- Tier A: pure caches, regenerated automatically.
      {"cache.apt-lists", A, {"/var/lib/apt/lists/*"}, {"/var/lib/apt/lists/lock", "/var/lib/apt/lists/partial/"},
       "apt package lists (apt-get update recreates them; hadolint DL3009)"},
      {"cache.apt-archives", A, {"/var/cache/apt/*.bin", "/var/cache/apt/archives/*.deb"}, {},
       "apt package cache (DL3009)"},
      {"cache.apk", A, {"/var/cache/apk/"}, {}, "apk cache (DL3019)"},
      {"cache.dnf-yum-zypp", A, {"/var/cache/dnf/", "/var/cache/yum/", "/var/cache/zypp/"}, {},
       "dnf/yum/zypper caches (DL3032/DL3036/DL3040)"},
      {"cache.logs", A, {"/var/log/**"}, {}, "log files: build noise that may hold secrets (directories kept)"},
      {"cache.tmp", A, {"/tmp/*", "/var/tmp/*"}, {}, "scratch space"},
      {"cache.pip", A, {"~/.cache/pip/", "~/.cache/uv/", "~/.cache/pypoetry/cache/",
                        "~/.cache/pypoetry/artifacts/", "~/.cache/pipenv/", "~/.cache/pre-commit/"},
       {}, "Python package caches (DL3042)"},
      {"cache.python-bytecode", A, {"**/__pycache__/", "**/.pytest_cache/", "**/.mypy_cache/",
                                    "**/.ruff_cache/", "**/.hypothesis/"},
       {}, "regenerated Python bytecode and tool caches"},
      {"cache.conda-pkgs", A, {"/opt/conda/pkgs/*", "~/.conda/pkgs/*", "~/miniconda3/pkgs/*",
                               "~/anaconda3/pkgs/*"},
       {}, "conda package tarballs (conda clean -afy)"},
      {"cache.npm", A, {"~/.npm/_cacache/", "~/.npm/_logs/", "~/.cache/yarn/", "~/.yarn/berry/cache/",
                        "~/.cache/node-gyp/", "~/.local/share/pnpm/store/", "~/.pnpm-store/"},
       {}, "npm/yarn/pnpm download caches (DL3060)"},
      {"cache.go-build", A, {"~/.cache/go-build/", "~/.cache/golangci-lint/"}, {}, "Go build cache"},
      {"cache.compiler", A, {"~/.ccache/", "~/.cache/ccache/", "~/.cache/sccache/", "~/.cache/bazel/"},
       {}, "compiler caches"},
      {"cache.cargo", A, {"~/.cargo/registry/cache/", "~/.cargo/registry/src/", "~/.cargo/git/db/"}, {},
       "crate downloads"},
      {"cache.jvm-dotnet-php", A, {"~/.gradle/caches/", "~/.gradle/daemon/", "~/.local/share/NuGet/v3-cache/",
                                   "~/.local/share/NuGet/http-cache/", "/tmp/NuGetScratch/",
                                   "~/.cache/composer/", "~/.composer/cache/", "~/.cache/coursier/"},
       {}, "build-tool caches (Gradle, NuGet, Composer, Coursier)"},
      {"cache.jit-fonts", A, {"~/.cache/matplotlib/", "~/.cache/fontconfig/", "~/.cache/jedi/",
                              "~/.triton/cache/", "~/.nv/ComputeCache/", "~/.cache/torch_extensions/",
                              "~/.cache/torch/kernels/"},
       {}, "regenerated JIT, kernel and font caches"},
      {"cache.ipynb-checkpoints", A, {"**/.ipynb_checkpoints/"}, {},
       "Jupyter autosaves: duplicate notebooks that may hold secrets"},
      {"cache.core-dump", A, {"core", "core.[0-9]*", "*.core"}, {}, "ELF core dump", true},
      {"cache.editor-junk", A, {"*.swp", "*.swo", "*~", ".DS_Store", "~/.viminfo", "~/.lesshst", "~/.wget-hsts"},
       {}, "editor swap files and junk"},
      // ---- Tier B: large but functional downloads (only with --aggressive).
      {"large.huggingface", B, {"~/.cache/huggingface/hub/", "~/.cache/huggingface/datasets/"}, {},
       "Hugging Face model/dataset cache (re-downloadable)"},
      {"large.torch-hub", B, {"~/.cache/torch/hub/"}, {}, "torch.hub models and checkpoints"},
      {"large.ml-models", B, {"~/.cache/paddle/", "~/.paddleocr/", "~/.paddlex/", "~/.keras/models/",
                              "~/.keras/datasets/", "~/.cache/whisper/", "~/.cache/clip/", "~/.u2net/"},
       {}, "downloaded ML models"},
      {"large.go-modules", B, {"~/go/pkg/mod/"}, {}, "Go module cache (GOMODCACHE)"},
      {"large.jvm-repos", B, {"~/.m2/repository/", "~/.gradle/wrapper/dists/", "~/.ivy2/cache/", "~/.sbt/"},
       {}, "Maven/Gradle/Ivy/sbt repositories"},
      {"large.nuget-gems", B, {"~/.nuget/packages/", "/usr/local/bundle/cache/", "**/gems/*/cache/*.gem"},
       {}, "NuGet packages and gem caches"},
      {"large.vscode-server", B, {"~/.vscode-server/"}, {}, "VS Code server download"},
      {"large.tox-nox", B, {"**/.tox/", "**/.nox/"}, {}, "tox/nox virtualenvs"},
      // ---- Tier C: look like caches, never dropped.
      {"keep.system-caches", C, {"/var/cache/debconf/", "/var/cache/ldconfig/", "/etc/ld.so.cache"}, {},
       "system configuration databases, not caches"},
      {"keep.runtime-assets", C, {"**/.yarn/cache/", "~/.cache/ms-playwright/", "~/.cache/puppeteer/",
                                  "~/.cache/Cypress/", "**/pypoetry/virtualenvs/", "**/node_modules/",
                                  "**/site-packages/", "**/nltk_data/"},
       {"~/.yarn/berry/cache/"}, "needed at runtime (browser binaries, installed packages, PnP caches)"},
      // ---- Shell and REPL histories: dropped like caches (they hold typed
      // tokens and passwords that detectors may miss); secrets found in them
      // are reported as secrets.
      {"cache.shell-history", A, {"~/.bash_history", "~/.zsh_history", "~/.local/share/fish/fish_history",
                                  "~/.python_history", "~/.node_repl_history", "~/.psql_history",
                                  "~/.mysql_history", "~/.sqlite_history", "~/.rediscli_history",
                                  "~/.ipython/profile_default/history.sqlite", "~/.ash_history",
                                  "~/.sh_history"},
       {}, "shell and REPL histories (commands with tokens and passwords)"},
      // ---- Credential files by path: the file is a credential.
      {"path.aws-credentials", P, {"~/.aws/credentials"}, {}, "AWS CLI credentials"},
      {"path.ssh-private-key", P, {"~/.ssh/id_*", "/etc/ssh/ssh_host_*_key"}, {"*.pub"}, "SSH private key"},
      {"path.netrc", P, {"~/.netrc", "~/_netrc"}, {}, "netrc passwords"},
      {"path.git-credentials", P, {"~/.git-credentials", "~/.config/git/credentials"}, {},
       "git credential store"},
      {"path.package-registry", P, {"~/.cargo/credentials", "~/.cargo/credentials.toml", "~/.gem/credentials",
                                    "~/.composer/auth.json", "~/.config/composer/auth.json"},
       {}, "package registry credentials"},
      {"path.cloud-cli", P, {"~/.config/gcloud/credentials.db", "~/.config/gcloud/access_tokens.db",
                             "~/.config/gcloud/legacy_credentials/",
                             "~/.config/gcloud/application_default_credentials.json", "~/.azure/*token*",
                             "~/.azure/msal_*", "~/.terraform.d/credentials.tfrc.json", "~/.vault-token"},
       {}, "cloud CLI tokens"},
      {"path.private-keyring", P, {"~/.gnupg/private-keys-v1.d/", "~/.gnupg/secring.gpg",
                                   "~/.config/sops/age/keys.txt"},
       {}, "private keyrings"},
      {"path.huggingface-token", P, {"~/.cache/huggingface/token", "~/.cache/huggingface/stored_tokens",
                                     "~/.huggingface/token"},
       {}, "Hugging Face token"},
      {"path.jupyter-runtime", P, {"~/.local/share/jupyter/runtime/kernel-*.json",
                                   "~/.local/share/jupyter/runtime/jpserver-*.json"},
       {}, "Jupyter kernel HMAC keys"},
      {"path.database-clients", P, {"~/.pgpass"}, {}, "PostgreSQL password file"},
      // ---- Config files that may hold credentials: dropped when their content
      // has a secret (see PathRule::content_decides).
      {"path.credential-configs", P, {"~/.aws/config", "~/.docker/config.json", "~/.kube/config", "~/.npmrc",
                                      "~/.yarnrc.yml", "~/.pypirc", "pip.conf", "~/.config/pip/pip.conf",
                                      "~/.config/gh/hosts.yml", "~/.nuget/NuGet/NuGet.Config",
                                      "~/.config/doctl/config.yaml", "~/.databrickscfg", "~/.boto", "~/.s3cfg",
                                      "~/.config/rclone/rclone.conf", "~/.my.cnf", "~/.m2/settings*.xml",
                                      "~/.gradle/gradle.properties", "~/.condarc", "~/.bundle/config",
                                      "~/.config/configstore/*.json", ".env", ".env.*"},
       {".env.example", ".env.sample", ".env.template", ".env.dist", ".env.defaults"},
       "configuration that often holds credentials: dropped when a secret is found in it", false, true},
  };
}

Policy DefaultPolicy() {
  Policy p;
  p.path_rules = DefaultPathRules();
  return p;
}

}  // namespace ctrsnap::policy
