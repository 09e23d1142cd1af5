#include "layers/drift/diff.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "layers/drift/drift_test_util.h"
#include "layers/drift/scan_root.h"

namespace ctrsnap::drift {
namespace {

using testing::AddDistInfo;
using testing::TempRoot;

const Change* FindChange(const std::vector<Change>& cs, std::string_view eco, std::string_view name) {
  for (const auto& c : cs) {
    if (c.ecosystem == eco && c.name == name) return &c;
  }
  return nullptr;
}

Inventory MustScan(const TempRoot& r) {
  auto inv = ScanRootPath(r.path());
  EXPECT_TRUE(inv.ok()) << inv.status().ToString();
  return inv.ok() ? std::move(*inv) : Inventory();
}

// Rewrites one paragraph's Version in a dpkg status text; removes it when
// NEW_VERSION is empty.
std::string EditPackage(const std::string& status, const std::string& pkg,
                        const std::string& new_version) {
  size_t p = status.find("Package: " + pkg + "\n");
  EXPECT_NE(p, std::string::npos) << pkg;
  if (p == std::string::npos) return status;
  size_t end = status.find("\n\n", p);
  end = end == std::string::npos ? status.size() : end + 2;
  std::string para = status.substr(p, end - p);
  if (new_version.empty()) return status.substr(0, p) + status.substr(end);
  size_t v = para.find("\nVersion: ");
  size_t ve = para.find('\n', v + 1);
  para = para.substr(0, v) + "\nVersion: " + new_version + para.substr(ve);
  return status.substr(0, p) + para + status.substr(end);
}

TEST(DiffTest, EveryKindOfDebianChangeOnTheHostDatabase) {
  auto host = ReadFileToString("/var/lib/dpkg/status");
  if (!host.ok()) GTEST_SKIP() << "no /var/lib/dpkg/status on this host";
  TempRoot a, b;
  a.Write("var/lib/dpkg/status", *host);
  std::string edited = *host;
  // Real packages of every Debian 12 install: upgrade, downgrade (epoch and ~), remove, add.
  edited = EditPackage(edited, "libc6", "9:2.99-1");
  edited = EditPackage(edited, "base-files", "12.4+deb12u0~rc1");
  edited = EditPackage(edited, "dpkg", "");
  edited += "\nPackage: new-tool\nStatus: install ok installed\nVersion: 1.0~rc1-1\n"
            "Architecture: amd64\n\n";
  b.Write("var/lib/dpkg/status", edited);
  auto changes = Diff(MustScan(a), MustScan(b));
  size_t deb = 0;
  for (const auto& c : changes) deb += c.ecosystem == kEcoDeb;
  EXPECT_EQ(deb, 4u);
  const Change* libc = FindChange(changes, kEcoDeb, "libc6");
  ASSERT_NE(libc, nullptr);
  EXPECT_EQ(libc->kind, ChangeKind::kUpgraded);
  EXPECT_EQ(libc->new_version, "9:2.99-1");
  const Change* bf = FindChange(changes, kEcoDeb, "base-files");
  ASSERT_NE(bf, nullptr);
  EXPECT_EQ(bf->kind, ChangeKind::kDowngraded);  // 12.4+deb12u0~rc1 < 12.4+deb12uN
  EXPECT_EQ(FindChange(changes, kEcoDeb, "dpkg")->kind, ChangeKind::kRemoved);
  EXPECT_EQ(FindChange(changes, kEcoDeb, "new-tool")->kind, ChangeKind::kAdded);
  EXPECT_EQ(FindChange(changes, kEcoDeb, "new-tool")->new_version, "1.0~rc1-1");
}

TEST(DiffTest, PythonCondaNpmCudaEtcAndConfig) {
  TempRoot a, b;
  std::string site = "usr/local/lib/python3.11/site-packages";
  AddDistInfo(a, site, "torch", "2.3.0+cu121");
  AddDistInfo(b, site, "torch", "2.3.1+cu121");
  AddDistInfo(a, site, "numpy", "2.0.0");
  AddDistInfo(b, site, "numpy", "2.0.0rc2");
  AddDistInfo(a, site, "six", "1.16.0");
  AddDistInfo(b, site, "rich", "13.7.0");
  AddDistInfo(a, site, "PyYAML", "6.0");
  AddDistInfo(b, site, "pyyaml", "6.0.0");  // same version, other spelling
  a.Write("opt/conda/conda-meta/python-3.11.5-h0.json",
          R"({"name":"python","version":"3.11.5","build":"h0_0","channel":"main"})");
  b.Write("opt/conda/conda-meta/python-3.11.5-h1.json",
          R"({"name":"python","version":"3.11.5","build":"h1_1","channel":"main"})");
  a.Write("app/node_modules/lodash/package.json", R"({"name":"lodash","version":"4.17.21"})");
  b.Write("app/node_modules/lodash/package.json", R"({"name":"lodash","version":"4.17.20"})");
  a.Write("usr/lib/x86_64-linux-gnu/libcudnn.so.8.9.7", "");
  b.Write("usr/lib/x86_64-linux-gnu/libcudnn.so.9.0.0", "");
  a.Write("etc/ssh/sshd_config", "PermitRootLogin no\n");
  b.Write("etc/ssh/sshd_config", "PermitRootLogin yes\n");
  a.Write("etc/motd", "hi\n", 0644);
  b.Write("etc/motd", "hi\n", 0600);
  Inventory ia = MustScan(a), ib = MustScan(b);
  ASSERT_TRUE(AddImageConfig(R"({"config":{"Env":["API_KEY=one","LANG=C"],"Cmd":["a"]}})", ia).ok());
  ASSERT_TRUE(AddImageConfig(R"({"config":{"Env":["API_KEY=two","LANG=C.UTF-8"],"Cmd":["b"]}})", ib).ok());
  auto cs = Diff(ia, ib);
  EXPECT_EQ(FindChange(cs, kEcoPython, "torch")->kind, ChangeKind::kUpgraded);
  EXPECT_EQ(FindChange(cs, kEcoPython, "numpy")->kind, ChangeKind::kDowngraded);
  EXPECT_EQ(FindChange(cs, kEcoPython, "six")->kind, ChangeKind::kRemoved);
  EXPECT_EQ(FindChange(cs, kEcoPython, "rich")->kind, ChangeKind::kAdded);
  const Change* yaml = FindChange(cs, kEcoPython, "pyyaml");
  ASSERT_NE(yaml, nullptr);
  EXPECT_EQ(yaml->kind, ChangeKind::kChanged);
  EXPECT_EQ(yaml->detail, "version 6.0 -> 6.0.0");
  const Change* py = FindChange(cs, kEcoConda, "python");
  ASSERT_NE(py, nullptr);
  EXPECT_EQ(py->kind, ChangeKind::kChanged);
  EXPECT_EQ(py->detail, "build h0_0 -> h1_1");
  EXPECT_EQ(FindChange(cs, kEcoNpm, "lodash")->kind, ChangeKind::kDowngraded);
  EXPECT_EQ(FindChange(cs, kEcoCuda, "libcudnn")->kind, ChangeKind::kUpgraded);
  EXPECT_EQ(FindChange(cs, kEcoEtc, "/etc/ssh/sshd_config")->detail, "content");
  EXPECT_EQ(FindChange(cs, kEcoEtc, "/etc/motd")->detail, "mode 0644 -> 0600");
  const Change* key = FindChange(cs, kEcoConfig, "Env:API_KEY");
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(key->secret);
  EXPECT_EQ(FindChange(cs, kEcoConfig, "Env:LANG")->detail, "C -> C.UTF-8");
  EXPECT_EQ(FindChange(cs, kEcoConfig, "Cmd")->kind, ChangeKind::kChanged);

  std::string table = FormatTable(cs, ia, ib);
  std::string json = FormatJson(cs, ia, ib, 0);
  for (const std::string& out : {table, json}) {
    EXPECT_EQ(out.find("one"), std::string::npos);  // secret values never printed
    EXPECT_EQ(out.find(Sha256Digest("two")), std::string::npos);
  }
  EXPECT_NE(table.find("downgraded  numpy"), std::string::npos) << table;
  EXPECT_NE(table.find("2.0.0 -> 2.0.0rc2"), std::string::npos) << table;
  EXPECT_NE(table.find("changed (value hidden)"), std::string::npos) << table;
  auto j = nlohmann::json::parse(json);
  EXPECT_EQ(j["counts"]["python"]["upgraded"], 1);
  EXPECT_EQ(j["counts"]["cuda"]["upgraded"], 1);

  // Identical inventories: nothing.
  EXPECT_TRUE(Diff(ia, ia).empty());
}

TEST(DiffTest, FailRules) {
  std::vector<Change> cs(2);
  cs[0].kind = ChangeKind::kDowngraded;
  cs[0].ecosystem = kEcoPython;
  cs[1].kind = ChangeKind::kAdded;
  cs[1].ecosystem = kEcoDeb;
  auto rule = [](const char* s) {
    auto r = ParseFailRule(s);
    EXPECT_TRUE(r.ok()) << s;
    return r.ok() ? *r : FailRule();
  };
  EXPECT_EQ(Matching(cs, {rule("downgrade")}).size(), 1u);
  EXPECT_EQ(Matching(cs, {rule("removed")}).size(), 0u);
  EXPECT_EQ(Matching(cs, {rule("deb:downgraded")}).size(), 0u);
  EXPECT_EQ(Matching(cs, {rule("python:downgraded"), rule("added")}).size(), 2u);
  EXPECT_EQ(Matching(cs, {rule("any")}).size(), 2u);
  EXPECT_FALSE(ParseFailRule("exploded").ok());
}

}  // namespace
}  // namespace ctrsnap::drift
