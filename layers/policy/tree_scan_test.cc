// Scanning trees: the quality corpus, OCI layouts, container uppers, symlink
// safety, and the report formats.
#include "layers/policy/tree_scan.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/file_util.h"
#include "layers/policy/report_format.h"
#include "layers/policy/value_checks.h"

namespace ctrsnap::policy {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ctrsnap-policy-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)RemoveTree(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void Write(const std::string& path, std::string_view data) {
  ASSERT_TRUE(MakeDirs(path.substr(0, path.rfind('/'))).ok());
  std::ofstream(path, std::ios::binary) << data;
}

std::unique_ptr<PolicyFilter> DefaultFilter(std::vector<std::string> excludes = {}) {
  PolicyOptions o;
  o.extra_excludes = std::move(excludes);
  auto f = MakePolicyFilter(o);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return std::move(*f);
}

std::set<std::string> FlaggedPaths(const ScanReport& r) {
  std::set<std::string> out;
  for (const auto& f : r.findings) {
    if (f.finding.kind == kKindSecret || f.finding.kind == kKindCredentialPath) {
      out.insert(f.finding.path);
    }
  }
  return out;
}

// The shared corpus: every secret file found, at most 2 clean files flagged.
TEST(QualityTest, SharedSecretsCorpus) {
  // CTRSNAP_SOURCE_DIR from the environment; the build's source dir otherwise
  // (ctest's ENVIRONMENT list does not always reach gtest-discovered tests).
  const char* src = std::getenv("CTRSNAP_SOURCE_DIR");
  std::string corpus = std::string(src ? src : CTRSNAP_TEST_SOURCE_DIR) + "/../shared/corpus/secrets";
  struct stat st;
  if (::stat((corpus + "/labels.json").c_str(), &st) != 0) GTEST_SKIP() << "no corpus at " << corpus;
  auto filter = DefaultFilter({"/labels.json"});
  auto report = ScanDirectory(*filter, corpus);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::set<std::string> flagged = FlaggedPaths(*report);
  EXPECT_EQ(flagged.count("/labels.json"), 0u);
  auto labels = nlohmann::json::parse(*ReadFileToString(corpus + "/labels.json"));
  size_t secret_files = 0, found = 0, clean_files = 0, false_pos = 0;
  for (const auto& f : labels["files"]) {
    std::string path = "/" + f["path"].get<std::string>();
    bool hit = flagged.count(path) > 0;
    if (f["secret"].get<bool>()) {
      ++secret_files;
      found += hit ? 1 : 0;
      EXPECT_TRUE(hit) << "missed secret file " << path;
    } else {
      ++clean_files;
      false_pos += hit ? 1 : 0;
      EXPECT_FALSE(hit) << "clean file flagged: " << path;
    }
  }
  // No masked value may equal a labelled secret value.
  for (const auto& f : labels["files"]) {
    for (const auto& v : f["values"]) {
      for (const auto& x : report->findings) EXPECT_NE(x.finding.masked, v.get<std::string>());
    }
  }
  std::printf("secrets corpus: %zu/%zu secret files found, %zu/%zu clean files flagged\n", found,
              secret_files, false_pos, clean_files);
  EXPECT_EQ(found, secret_files);
  EXPECT_LE(false_pos, 2u);
}

TEST(TreeScanTest, SymlinksAreNeverFollowed) {
  TempDir outside, root;
  Write(outside.path() + "/secret.txt", "GITHUB_TOKEN=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\n");
  Write(root.path() + "/app/ok.txt", "hello\n");
  ASSERT_EQ(::symlink((outside.path() + "/secret.txt").c_str(), (root.path() + "/app/link.txt").c_str()), 0);
  ASSERT_EQ(::symlink(outside.path().c_str(), (root.path() + "/app/dirlink").c_str()), 0);
  auto report = ScanDirectory(*DefaultFilter(), root.path());
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->FoundSecret());
  EXPECT_EQ(report->files, 1u);
}

TEST(TreeScanTest, ExcludedFilesAreNotRead) {
  TempDir root;
  Write(root.path() + "/labels.json", "{\"values\": [\"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\"]}\n");
  EXPECT_TRUE(ScanDirectory(*DefaultFilter(), root.path())->FoundSecret());
  EXPECT_FALSE(ScanDirectory(*DefaultFilter({"/labels.json"}), root.path())->FoundSecret());
}

TEST(TreeScanTest, ContainerUpperSkipsWhiteouts) {
  TempDir state;
  std::string upper = state.path() + "/gen/1/upper";
  Write(upper + "/root/.git-credentials", "https://u: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@github.com\n");
  Write(upper + "/app/.wh.old.txt", "");
  Write(state.path() + "/fs.json",
        R"({"version":1,"lowerdirs":["/nonexistent"],"generations":[{"id":1,"label":"setup","sealed":false,"created_unix_ns":1,"sealed_unix_ns":0,"exported_in":""}]})");
  auto report = ScanContainerState(*DefaultFilter(), state.path());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->FoundSecret());
  for (const auto& f : report->findings) {
    EXPECT_EQ(f.source, "gen 1");
    EXPECT_EQ(f.finding.path.find(".wh."), std::string::npos);
  }
}

// A one-layer OCI layout written with libarchive.
std::string WriteLayer(const std::map<std::string, std::string>& files, bool gzip) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* ud, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(ud)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const auto& [name, data] : files) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0600);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

TEST(TreeScanTest, OciLayoutLayersAndConfigEnv) {
  TempDir dir;
  const std::string& d = dir.path();
  std::string layer = WriteLayer({{"./root/.aws/credentials",
                                   "[default]\naws_access_key_id = AKIAQ3EGUPDW7NKXLB5Z\n"},
                                  {"./app/main.py", "print('hi')\n"},
                                  {"./app/.wh.gone", ""}},
                                 true);
  std::string config = R"({"config":{"Env":["PATH=/usr/bin","DB_PASSWORD=Zq8vN3xT2pLw"]},"rootfs":{"type":"layers","diff_ids":[]}})";
  auto blob = [&](const std::string& data) {
    std::string hex = Fingerprint(data);
    Write(d + "/blobs/sha256/" + hex, data);
    return "sha256:" + hex;
  };
  std::string layer_digest = blob(layer), config_digest = blob(config);
  std::string manifest = R"({"schemaVersion":2,"config":{"digest":")" + config_digest +
                         R"(","size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
                         layer_digest + R"(","size":1}]})";
  std::string manifest_digest = blob(manifest);
  Write(d + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  Write(d + "/index.json", R"({"schemaVersion":2,"manifests":[{"digest":")" + manifest_digest + R"(","size":1}]})");
  auto report = ScanOciLayout(*DefaultFilter(), d);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::set<std::string> rules;
  for (const auto& f : report->findings) rules.insert(f.finding.rule + " " + f.finding.path);
  EXPECT_TRUE(rules.count("path.aws-credentials /root/.aws/credentials"));
  EXPECT_TRUE(rules.count("secret.aws-access-key-id /root/.aws/credentials"));
  EXPECT_TRUE(rules.count("env.secret-name env:DB_PASSWORD") ||
              rules.count("secret.generic-secret-assignment env:DB_PASSWORD"));
  EXPECT_EQ(report->files, 2u);

  // A corrupt index is an error, not a crash.
  Write(d + "/index.json", "{\"manifests\": [{\"digest\": \"sha256:../../etc/passwd\"}]}");
  EXPECT_FALSE(ScanOciLayout(*DefaultFilter(), d).ok());
}

TEST(ReportFormatTest, JsonLinesAndSarif) {
  ScanReport r;
  ScanFinding f;
  f.finding = FilterFinding{"secret.github-pat", "secret", "/app/deploy.sh", 3, "ghp_iI...nJOw",
                            "GitHub personal access token", 120, FilterAction::kDrop};
  f.fingerprint = std::string(64, 'a');
  r.findings.push_back(f);
  ScanFinding cache;
  cache.finding = FilterFinding{"cache.pip", "cache", "/root/.cache/pip/x", 0, "", "pip cache", 10,
                                FilterAction::kDrop};
  r.findings.push_back(cache);
  std::string jl = FormatJsonLines(r, false);
  auto j = nlohmann::json::parse(jl.substr(0, jl.find('\n')));
  EXPECT_EQ(j["path"], "/app/deploy.sh");
  EXPECT_EQ(j["rule"], "secret.github-pat");
  EXPECT_EQ(j["line"], 3);
  EXPECT_EQ(j["masked"], "ghp_iI...nJOw");
  EXPECT_EQ(std::count(jl.begin(), jl.end(), '\n'), 1);  // caches only with --all
  std::string all = FormatJsonLines(r, true);
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 2);
  auto s = nlohmann::json::parse(FormatSarif(r, false));
  EXPECT_EQ(s["version"], "2.1.0");
  const auto& res = s["runs"][0]["results"][0];
  EXPECT_EQ(res["ruleId"], "secret.github-pat");
  EXPECT_EQ(res["level"], "error");
  EXPECT_EQ(res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "app/deploy.sh");
  EXPECT_EQ(res["locations"][0]["physicalLocation"]["region"]["startLine"], 3);
  EXPECT_EQ(s["runs"][0]["tool"]["driver"]["rules"][0]["id"], "secret.github-pat");
  std::string table = FormatTable(r, false);
  EXPECT_NE(table.find("/app/deploy.sh:3"), std::string::npos);
}

}  // namespace
}  // namespace ctrsnap::policy
