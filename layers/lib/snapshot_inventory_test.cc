// Each snapshot records the software inventory of its tree (issue: drift):
// annotations on the manifest, the document as an artifact in the store and
// in every output, so `ctrsnap drift` on two images needs no container.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "layers/drift/diff.h"
#include "layers/drift/inventory_store.h"
#include "layers/lib/oci_layout.h"
#include "layers/lib/snapshot.h"
#include "layers/lib/test_tree.h"

namespace ctrsnap::layers {
namespace {

using nlohmann::json;
using testing::MakeDir;
using testing::TempDir;
using testing::WriteFile;

constexpr char kSite[] = "/usr/lib/python3/dist-packages";

void DistInfo(const std::string& root, const std::string& name, const std::string& version) {
  std::string dir = root + kSite + "/" + name + "-" + version + ".dist-info";
  ASSERT_TRUE(MakeDirs(dir).ok());
  WriteFile(dir + "/METADATA", "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n\n");
  WriteFile(dir + "/RECORD", name + "/__init__.py,,\n");
}

std::string DpkgEntry(const std::string& name, const std::string& version) {
  return "Package: " + name + "\nStatus: install ok installed\nArchitecture: amd64\nVersion: " +
         version + "\n\n";
}

// A kernel overlayfs whiteout (what ctrsnap-fs writes for a deletion).
void Whiteout(const std::string& path) {
  ASSERT_EQ(::mknod(path.c_str(), S_IFCHR | 0000, makedev(0, 0)), 0) << path;
}

class SnapshotInventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the inventory scan mounts a read-only overlay: needs root";
    state = dir.Sub("state");
    lower = dir.Sub("lower");
    MakeDir(lower);
    ASSERT_TRUE(MakeDirs(lower + "/var/lib/dpkg").ok());
    WriteFile(lower + "/var/lib/dpkg/status",
              DpkgEntry("libc6", "2.36-9") + DpkgEntry("python3", "3.11.2-1"));
    DistInfo(lower, "numpy", "1.24.2");
    DistInfo(lower, "six", "1.16.0");
    MakeDir(state);
    ASSERT_TRUE(MakeDirs(layout::UpperDir(state, 1)).ok());
    ASSERT_TRUE(MakeDirs(layout::WorkDir(state, 1)).ok());
    FsMeta m;
    m.lowerdirs = {lower};
    m.generations.push_back({1, "", false, 1, 0, ""});
    ASSERT_TRUE(m.Save(state).ok());
  }

  std::string Upper() {
    auto m = FsMeta::Load(state);
    return layout::UpperDir(state, m->live().id);
  }

  Result<SnapshotResult> Snap(const std::string& tag) {
    SnapshotOptions o;
    o.state_dir = state;
    o.filter = &keep;
    o.compression = Compression::kGzip;
    o.tag = tag;
    o.tmp_dir = dir.path();
    return TakeSnapshot(o);
  }

  TempDir dir;
  std::string state, lower;
  KeepAllFilter keep;
};

const drift::Change* Find(const std::vector<drift::Change>& changes, const std::string& name) {
  auto it = std::find_if(changes.begin(), changes.end(),
                         [&](const drift::Change& c) { return c.name == name; });
  return it == changes.end() ? nullptr : &*it;
}

TEST_F(SnapshotInventoryTest, EachSnapshotCarriesItsInventoryAndTwoSnapshotsDiff) {
  WriteFile(Upper() + "/hello", "world");
  auto first = Snap("test:snap-1");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->inventory_note.empty()) << first->inventory_note;
  ASSERT_FALSE(first->inventory_summary.empty());
  const auto& ann = first->image.annotations;
  ASSERT_TRUE(ann.count(drift::kAnnotationInventoryDigest));
  ASSERT_TRUE(ann.count(drift::kAnnotationInventorySummary));
  EXPECT_NE(ann.at(drift::kAnnotationInventorySummary).find("\"deb\":2"), std::string::npos)
      << ann.at(drift::kAnnotationInventorySummary);

  // The second generation: numpy upgraded, six removed (whiteout), libc6 downgraded.
  std::string up = Upper();
  ASSERT_TRUE(MakeDirs(up + kSite).ok());
  DistInfo(up, "numpy", "2.0.1");
  Whiteout(up + kSite + "/numpy-1.24.2.dist-info");
  Whiteout(up + kSite + "/six-1.16.0.dist-info");
  ASSERT_TRUE(MakeDirs(up + "/var/lib/dpkg").ok());
  WriteFile(up + "/var/lib/dpkg/status", DpkgEntry("libc6", "2.31-13") + DpkgEntry("python3", "3.11.2-1"));
  auto second = Snap("test:snap-2");
  ASSERT_TRUE(second.ok()) << second.status().ToString();

  // Both inventories are found in the snapshot store by manifest digest, as
  // referrers listed in index.json.
  std::string store = SnapshotStoreRoot(state);
  auto a = drift::LoadInventory(store, first->image.manifest_desc.digest);
  auto b = drift::LoadInventory(store, second->image.manifest_desc.digest);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto index = json::parse(*ReadFileToString(store + "/index.json"));
  int artifacts = 0;
  for (const auto& e : index["manifests"]) {
    artifacts += e.value("artifactType", "") == drift::kInventoryArtifactType;
  }
  EXPECT_EQ(artifacts, 2);

  auto changes = drift::Diff(*a, *b);
  const auto* numpy = Find(changes, "numpy");
  ASSERT_NE(numpy, nullptr);
  EXPECT_EQ(numpy->kind, drift::ChangeKind::kUpgraded);
  EXPECT_EQ(numpy->new_version, "2.0.1");
  const auto* six = Find(changes, "six");
  ASSERT_NE(six, nullptr);
  EXPECT_EQ(six->kind, drift::ChangeKind::kRemoved);
  const auto* libc = Find(changes, "libc6");
  ASSERT_NE(libc, nullptr);
  EXPECT_EQ(libc->kind, drift::ChangeKind::kDowngraded);
  EXPECT_EQ(Find(changes, "python3"), nullptr);  // unchanged
}

TEST_F(SnapshotInventoryTest, OutputsCarryTheInventory) {
  WriteFile(Upper() + "/hello", "world");
  auto r = Snap("test:snap-1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->image.referrers.size(), 1u);
  auto store = OpenSnapshotStore(state);
  ASSERT_TRUE(store.ok());

  // An OCI layout lists the artifact beside the image.
  std::string out = dir.Sub("out");
  ASSERT_TRUE(WriteOciLayout(*store, r->image, "test:snap-1", out).ok());
  auto inv = drift::LoadInventory(out, "test:snap-1");
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->Digest(), r->image.annotations.at(drift::kAnnotationInventoryDigest));

  // The archive lists the image alone (engines load every listed manifest)
  // but carries the blob the manifest's annotation names.
  std::string tar = dir.Sub("out.tar");
  ASSERT_TRUE(WriteDualArchive(*store, r->image, "test:snap-1", tar).ok());
  auto bytes = ReadFileToString(tar);
  ASSERT_TRUE(bytes.ok());
  bool has_blob = false;
  std::string inv_hex = r->image.annotations.at(drift::kAnnotationInventoryDigest).substr(7);
  for (const auto& item : testing::ReadTar(*bytes)) {
    if (item.path == "blobs/sha256/" + inv_hex) has_blob = true;
    if (item.path == "index.json") {
      EXPECT_EQ(json::parse(item.data)["manifests"].size(), 1u) << item.data;
    }
  }
  EXPECT_TRUE(has_blob);
}

TEST_F(SnapshotInventoryTest, CanBeTurnedOff) {
  WriteFile(Upper() + "/hello", "world");
  SnapshotOptions o;
  o.state_dir = state;
  o.filter = &keep;
  o.record_inventory = false;
  auto r = TakeSnapshot(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->image.annotations.count(drift::kAnnotationInventoryDigest));
  EXPECT_TRUE(r->image.referrers.empty());
}

}  // namespace
}  // namespace ctrsnap::layers
