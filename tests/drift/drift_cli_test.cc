// End-to-end: the ctrsnap binary's `drift` command on real directories, OCI
// layouts and (as root) a container state dir mounted with overlayfs.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "layers/drift/drift_test_util.h"
#include "layers/drift/inventory_store.h"
#include "layers/drift/oci_test_util.h"
#include "layers/drift/scan_root.h"

namespace ctrsnap::drift {
namespace {

using testing::AddDistInfo;
using testing::TempRoot;

// Names in DIR, space-separated, sorted.
Status ForEachEntryForTest(const std::string& dir, std::string* names) {
  std::vector<std::string> v;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") v.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(v.begin(), v.end());
  for (const auto& n : v) *names += n + " ";
  return Status::Ok();
}

struct CmdResult {
  int rc = -1;
  std::string out;
};

CmdResult Ctrsnap(const std::string& args, const std::string& env = "") {
  const char* bin = std::getenv("CTRSNAP_BIN_DIR");
  std::string cmd = env + " " + std::string(bin ? bin : "build/bin") + "/ctrsnap " + args +
                    " 2>/dev/null";
  CmdResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

const char kStatus[] =
    "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n\n"
    "Package: curl\nStatus: install ok installed\nVersion: 7.88.1-10+deb12u5\nArchitecture: amd64\n\n"
    "Package: tzdata\nStatus: install ok installed\nVersion: 2024a-0+deb12u1\nArchitecture: all\n";

void MakeOld(const TempRoot& r) {
  r.Write("var/lib/dpkg/status", kStatus);
  AddDistInfo(r, "usr/local/lib/python3.11/site-packages", "torch", "2.3.0");
  AddDistInfo(r, "usr/local/lib/python3.11/site-packages", "numpy", "1.26.4");
  r.Write("etc/app.conf", "lr=0.1\n");
}

TEST(DriftCliTest, TwoDirectoriesTableJsonAndFailOn) {
  TempRoot a, b;
  MakeOld(a);
  std::string status = kStatus;
  status.replace(status.find("7.88.1-10+deb12u5"), 17, "7.88.1-10+deb12u4");  // downgrade
  b.Write("var/lib/dpkg/status", status);
  AddDistInfo(b, "usr/local/lib/python3.11/site-packages", "torch", "2.4.0");  // upgrade
  AddDistInfo(b, "usr/local/lib/python3.11/site-packages", "pandas", "2.2.0");  // added; numpy removed
  b.Write("etc/app.conf", "lr=0.2\n");

  CmdResult same = Ctrsnap("drift " + a.path() + " " + a.path() + " --fail-on any");
  EXPECT_EQ(same.rc, 0) << same.out;
  EXPECT_NE(same.out.find("no changes"), std::string::npos);

  CmdResult table = Ctrsnap("drift " + a.path() + " dir:" + b.path());
  EXPECT_EQ(table.rc, 0);
  EXPECT_NE(table.out.find("downgraded  curl:amd64"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("7.88.1-10+deb12u5 -> 7.88.1-10+deb12u4"), std::string::npos);
  EXPECT_NE(table.out.find("upgraded    torch"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("removed     numpy"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("added       pandas"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("changed     /etc/app.conf"), std::string::npos) << table.out;

  CmdResult json = Ctrsnap("drift --json " + a.path() + " " + b.path());
  ASSERT_EQ(json.rc, 0);
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["counts"]["deb"]["downgraded"], 1);
  EXPECT_EQ(j["counts"]["python"]["upgraded"], 1);
  EXPECT_EQ(j["counts"]["python"]["added"], 1);
  EXPECT_EQ(j["counts"]["python"]["removed"], 1);
  EXPECT_EQ(j["counts"]["etc"]["changed"], 1);

  EXPECT_EQ(Ctrsnap("drift " + a.path() + " " + b.path() + " --fail-on downgrade,removed").rc, 1);
  EXPECT_EQ(Ctrsnap("drift " + a.path() + " " + b.path() + " --fail-on python:downgraded").rc, 0);
  EXPECT_EQ(Ctrsnap("drift " + a.path() + " " + b.path() + " --fail-on deb:downgraded").rc, 1);
  CmdResult failed = Ctrsnap("drift --json " + a.path() + " " + b.path() + " --fail-on removed");
  EXPECT_EQ(failed.rc, 1);
  EXPECT_EQ(nlohmann::json::parse(failed.out)["failed"], 1);
  EXPECT_EQ(Ctrsnap("drift " + a.path() + " " + b.path() + " --fail-on exploded").rc, 2);
  EXPECT_EQ(Ctrsnap("drift " + a.path() + " /nonexistent/dir").rc, 2);
  EXPECT_EQ(Ctrsnap("drift " + a.path()).rc, 2);  // usage: B missing
  CmdResult only = Ctrsnap("drift --only python --fail-on any " + a.path() + " " + b.path());
  EXPECT_EQ(only.rc, 1);
  EXPECT_EQ(only.out.find("curl"), std::string::npos) << only.out;
  EXPECT_NE(only.out.find("torch"), std::string::npos) << only.out;
  EXPECT_EQ(Ctrsnap("drift --only cuda --fail-on any " + a.path() + " " + b.path()).rc, 0);
  EXPECT_EQ(Ctrsnap("drift --help").rc, 0);
  EXPECT_EQ(Ctrsnap("drift --no-etc --json " + a.path() + " " + b.path())
                .out.find("/etc/app.conf"),
            std::string::npos);
}

TEST(DriftCliTest, SnapshotWithInventoryAgainstBaseImageWithout) {
  TempRoot layout, root;
  MakeOld(root);
  // Base image: no inventory; computed from its layer.
  testing::WriteImage(layout.path(),
                      {{testing::File("var/lib/dpkg/status", kStatus),
                        testing::File("etc/app.conf", "lr=0.1\n")}},
                      {{"Env", {"PATH=/usr/bin", "WANDB_API_KEY=k1"}}}, "base");
  // Snapshot: inventory attached the way the snapshot writer does it.
  root.Write("var/lib/dpkg/status", std::string(kStatus) + "\nPackage: git\nStatus: install ok "
                                                           "installed\nVersion: 1:2.39.2-1.1\n"
                                                           "Architecture: amd64\n");
  auto inv = ScanRootPath(root.path());
  ASSERT_TRUE(inv.ok());
  auto snap = testing::WriteImage(layout.path(), {{testing::File("marker", "1")}},
                                  {{"Env", {"PATH=/usr/bin", "WANDB_API_KEY=k2"}}}, "snap",
                                  InventoryAnnotations(*inv));
  ASSERT_TRUE(AttachInventory(layout.path(), snap, *inv).ok());

  CmdResult r = Ctrsnap("drift --json " + layout.path() + ":base oci:" + layout.path() + ":snap");
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  bool git = false, key = false;
  for (const auto& c : j["changes"]) {
    if (c["name"] == "git") git = c["kind"] == "added" && c["new"] == "1:2.39.2-1.1";
    if (c["name"] == "Env:WANDB_API_KEY") key = c["kind"] == "changed" && c.value("secret", false);
  }
  EXPECT_TRUE(git) << r.out;
  EXPECT_TRUE(key) << r.out;
  EXPECT_EQ(r.out.find("k2"), std::string::npos);
  EXPECT_EQ(j["counts"]["python"]["added"], 2);  // torch, numpy only in the snapshot
}

TEST(DriftCliTest, LiveContainerThroughOverlayMount) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting overlayfs needs root";
  TempRoot lower, state_root;
  MakeOld(lower);
  std::string state = state_root.Abs("c1");
  FsMeta meta;
  meta.lowerdirs = {lower.path()};
  meta.generations = {{1, "setup", true, 1, 2, ""}, {2, "", false, 3, 0, ""}};
  ASSERT_TRUE(MakeDirs(state).ok());
  ASSERT_TRUE(meta.Save(state).ok());
  std::string g1 = layout::UpperDir(state, 1), g2 = layout::UpperDir(state, 2);
  // gen 1 upgrades torch (new dist-info, old one whited out) and adds pandas.
  AddDistInfo(state_root, "c1/gen/1/upper/usr/local/lib/python3.11/site-packages", "torch", "2.4.0");
  AddDistInfo(state_root, "c1/gen/1/upper/usr/local/lib/python3.11/site-packages", "pandas", "2.2.0");
  std::string site1 = g1 + "/usr/local/lib/python3.11/site-packages";
  ASSERT_EQ(::mknod((site1 + "/torch-2.3.0.dist-info").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
  // gen 2 (live) removes numpy and replaces /etc with an opaque directory.
  ASSERT_TRUE(MakeDirs(g2 + "/usr/local/lib/python3.11/site-packages").ok());
  ASSERT_EQ(::mknod((g2 + "/usr/local/lib/python3.11/site-packages/numpy-1.26.4.dist-info").c_str(),
                    S_IFCHR | 0, makedev(0, 0)),
            0);
  state_root.Write("c1/gen/2/upper/etc/new.conf", "x\n");
  ASSERT_EQ(::setxattr((g2 + "/etc").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);

  CmdResult r = Ctrsnap("drift --json dir:" + lower.path() + " c1", "CTRSNAP_ROOT=" + state_root.path());
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  std::map<std::string, std::string> kinds;
  for (const auto& c : j["changes"]) kinds[c["name"].get<std::string>()] = c["kind"];
  EXPECT_EQ(kinds["torch"], "upgraded") << r.out;
  EXPECT_EQ(kinds["pandas"], "added");
  EXPECT_EQ(kinds["numpy"], "removed");
  EXPECT_EQ(kinds["/etc/app.conf"], "removed");
  EXPECT_EQ(kinds["/etc/new.conf"], "added");
  EXPECT_EQ(kinds.count("bash"), 0u);  // unchanged lower content
  EXPECT_EQ(Ctrsnap("drift --fail-on any dir:" + lower.path() + " c1",
                    "CTRSNAP_ROOT=" + state_root.path() + " TMPDIR=" + state_root.path())
                .rc,
            1);
  // The temporary overlay mount and its directory are gone.
  auto mounts = ReadFileToString("/proc/self/mountinfo");
  ASSERT_TRUE(mounts.ok());
  EXPECT_EQ(mounts->find(state_root.path() + "/ctrsnap-drift-"), std::string::npos);
  std::string leftover;
  (void)ForEachEntryForTest(state_root.path(), &leftover);
  EXPECT_EQ(leftover, "c1 ") << leftover;
}

// Snapshots record their inventory; drift names them by container and
// sequence, by tag, or as written with -o, and compares without a rescan.
TEST(DriftCliTest, SnapshotsByNameUseTheirRecordedInventory) {
  if (::geteuid() != 0) GTEST_SKIP() << "recording an inventory mounts overlayfs: needs root";
  TempRoot lower, state_root;
  MakeOld(lower);
  std::string state = state_root.Abs("c2");
  FsMeta meta;
  meta.lowerdirs = {lower.path()};
  meta.generations = {{1, "", false, 1, 0, ""}};
  ASSERT_TRUE(MakeDirs(layout::UpperDir(state, 1)).ok());
  ASSERT_TRUE(MakeDirs(layout::WorkDir(state, 1)).ok());
  ASSERT_TRUE(meta.Save(state).ok());
  std::string env = "CTRSNAP_ROOT=" + state_root.path() + " CTRSNAP_CONFIG=/nonexistent TMPDIR=" +
                    state_root.path();

  // Snapshot 1: torch upgraded.
  std::string site = "usr/local/lib/python3.11/site-packages";
  AddDistInfo(state_root, "c2/gen/1/upper/" + site, "torch", "2.4.0");
  ASSERT_EQ(::mknod((layout::UpperDir(state, 1) + "/" + site + "/torch-2.3.0.dist-info").c_str(),
                    S_IFCHR | 0, makedev(0, 0)),
            0);
  std::string out1 = state_root.Abs("out1"), out2 = state_root.Abs("out2");
  CmdResult s1 = Ctrsnap("snapshot --state " + state + " -t test/train:snap-1 -o " + out1 +
                         " --no-progress --json", env);
  ASSERT_EQ(s1.rc, 0) << s1.out;
  auto j1 = nlohmann::json::parse(s1.out);
  EXPECT_EQ(j1["inventory"]["counts"]["python"], 2) << s1.out;

  // Snapshot 2: numpy removed.
  auto m = FsMeta::Load(state);
  ASSERT_TRUE(m.ok());
  std::string live = layout::UpperDir(state, m->live().id);
  ASSERT_TRUE(MakeDirs(live + "/" + site).ok());
  ASSERT_EQ(::mknod((live + "/" + site + "/numpy-1.26.4.dist-info").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
  CmdResult s2 = Ctrsnap("snapshot --state " + state + " -t test/train:snap-2 -o " + out2 +
                         " --no-progress --json", env);
  ASSERT_EQ(s2.rc, 0) << s2.out;

  auto kinds = [&](const std::string& a, const std::string& b) {
    CmdResult r = Ctrsnap("drift --json " + a + " " + b, env);
    EXPECT_EQ(r.rc, 0) << a << " " << b << ": " << r.out;
    std::map<std::string, std::string> k;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_object()) return k;
    for (const auto& c : j["changes"]) k[c["name"].get<std::string>()] = c["kind"];
    EXPECT_EQ(j.dump().find("no recorded inventory"), std::string::npos) << a << " " << b;
    return k;
  };
  auto by_seq = kinds("c2@1", "c2@latest");
  EXPECT_EQ(by_seq["numpy"], "removed");
  EXPECT_EQ(by_seq.count("torch"), 0u);
  EXPECT_EQ(kinds("test/train:snap-1", "test/train:snap-2"), by_seq);
  EXPECT_EQ(kinds(out1, out2), by_seq);
  auto from_base = kinds("c2@base", "c2@1");
  EXPECT_EQ(from_base["torch"], "upgraded");
  EXPECT_EQ(from_base.count("numpy"), 0u);
  // A sequence that does not exist is an error that says what does.
  EXPECT_EQ(Ctrsnap("drift c2@7 c2@1", env).rc, 2);
}

}  // namespace
}  // namespace ctrsnap::drift
