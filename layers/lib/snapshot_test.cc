#include "layers/lib/snapshot.h"

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "layers/lib/digest.h"
#include "layers/lib/oci_layout.h"
#include "layers/lib/test_tree.h"

namespace ctrsnap::layers {
namespace {

using nlohmann::json;
using testing::MakeDir;
using testing::TempDir;
using testing::WriteFile;

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state = dir.Sub("state");
    lower = dir.Sub("lower");
    MakeDir(lower);
    MakeDir(lower + "/etc");
    WriteFile(lower + "/etc/os-release", "ID=test\n");
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

  Result<SnapshotResult> Snap(bool squash = false) {
    SnapshotOptions o;
    o.state_dir = state;
    o.filter = &keep;
    o.compression = Compression::kGzip;
    o.squash = squash;
    o.tag = "test:snap";
    return TakeSnapshot(o);
  }

  TempDir dir;
  std::string state, lower;
  KeepAllFilter keep;
};

TEST_F(SnapshotTest, FirstSnapshotSitsOnLowerDirBaseAndMarksGenerations) {
  WriteFile(Upper() + "/hello", "world");
  auto r = Snap();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->sealed_online);
  EXPECT_EQ(r->record.sequence, 1u);
  EXPECT_EQ(r->record.generations, std::vector<uint64_t>{1});
  EXPECT_EQ(r->image.layers.size(), 2u);  // lower dir + snapshot
  EXPECT_EQ(r->image.DiffIds().size(), 2u);
  EXPECT_EQ(r->image.config["history"].size(), 2u);
  auto meta = FsMeta::Load(state);
  ASSERT_TRUE(meta.ok());
  ASSERT_EQ(meta->generations.size(), 2u);
  EXPECT_TRUE(meta->generations[0].sealed);
  EXPECT_EQ(meta->generations[0].exported_in, r->record.layer.digest);
  EXPECT_FALSE(meta->generations[1].sealed);
  // Nothing new: a clear error, no empty snapshot.
  auto again = Snap();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kNotFound);
}

TEST_F(SnapshotTest, SecondSnapshotAddsOneSmallLayerOnTheFirst) {
  WriteFile(Upper() + "/big", std::string(3 << 20, 'x'));
  auto r1 = Snap();
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  WriteFile(Upper() + "/small", "tiny change");
  auto r2 = Snap();
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->record.sequence, 2u);
  EXPECT_EQ(r2->record.parent_manifest, r1->record.manifest_digest);
  EXPECT_EQ(r2->image.layers.size(), 3u);
  EXPECT_EQ(r2->image.layers[1].digest, r1->record.layer.digest);
  EXPECT_LE(r2->record.tar_bytes, 20480u);  // the 3 MiB file is not exported again
  EXPECT_EQ(r2->image.annotations.at(kLabelSequence), "2");
  EXPECT_EQ(r2->image.config["config"]["Labels"][kLabelParent], r1->record.manifest_digest);
  auto recs = LoadSnapshotRecords(state);
  ASSERT_TRUE(recs.ok());
  EXPECT_EQ(recs->size(), 2u);
  // --squash: one layer with both generations on top of the base.
  WriteFile(Upper() + "/third", "3");
  auto r3 = Snap(true);
  ASSERT_TRUE(r3.ok()) << r3.status().ToString();
  EXPECT_EQ(r3->image.layers.size(), 2u);
  EXPECT_EQ(r3->record.generations, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_GT(r3->record.tar_bytes, 3u << 20);
}

TEST_F(SnapshotTest, WritesOciLayoutAndDualArchive) {
  WriteFile(Upper() + "/hello", "world");
  auto r = Snap();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto store = OpenSnapshotStore(state);
  ASSERT_TRUE(store.ok());
  std::string out = dir.Sub("layout");
  ASSERT_TRUE(WriteOciLayout(*store, r->image, "test:snap", out).ok());
  auto index = json::parse(*ReadFileToString(out + "/index.json"));
  EXPECT_EQ(index["manifests"][0]["digest"], r->record.manifest_digest);
  EXPECT_EQ(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "test:snap");
  for (const auto& l : r->image.layers) {
    auto data = ReadFileToString(out + "/blobs/sha256/" + DigestHex(l.digest));
    ASSERT_TRUE(data.ok());
    EXPECT_EQ(Sha256Digest(*data), l.digest);
  }
  // Replacing an existing layout works and leaves no temp dir.
  ASSERT_TRUE(WriteOciLayout(*store, r->image, "test:snap2", out).ok());
  EXPECT_FALSE(ReadFileToString(out + ".tmp-" + std::to_string(::getpid()) + "/index.json").ok());

  std::string tar = dir.Sub("image.tar");
  ASSERT_TRUE(WriteDualArchive(*store, r->image, "test:snap", tar).ok());
  auto items = testing::ReadTar(*ReadFileToString(tar));
  std::map<std::string, std::string> files;
  for (const auto& t : items) files[t.path] = t.data;
  ASSERT_TRUE(files.count("manifest.json"));
  auto m = json::parse(files["manifest.json"]);
  EXPECT_EQ(m[0]["RepoTags"][0], "test:snap");
  EXPECT_EQ(m[0]["Layers"].size(), 2u);
  for (const auto& l : m[0]["Layers"]) EXPECT_TRUE(files.count(l.get<std::string>())) << l;
  EXPECT_TRUE(files.count(m[0]["Config"].get<std::string>()));
  EXPECT_TRUE(files.count("oci-layout"));
  EXPECT_TRUE(files.count("index.json"));

  // Both outputs read back as the same image.
  auto other = BlobStore::Open(dir.Sub("other"));
  ASSERT_TRUE(other.ok());
  auto from_tar = ImportDockerArchive(tar, *other);
  ASSERT_TRUE(from_tar.ok()) << from_tar.status().ToString();
  EXPECT_EQ(from_tar->DiffIds(), r->image.DiffIds());
  ASSERT_EQ(from_tar->layers.size(), 2u);
  EXPECT_EQ(from_tar->layers[1].digest, r->image.layers[1].digest);
  EXPECT_EQ(from_tar->layers[1].media_type, oci::kMediaTypeLayerGzip);
  auto from_layout = ImportOciLayout(out, "test:snap2", *other);
  ASSERT_TRUE(from_layout.ok()) << from_layout.status().ToString();
  EXPECT_EQ(from_layout->manifest_desc.digest, r->image.manifest_desc.digest);
  EXPECT_FALSE(ImportOciLayout(out, "nope", *other).ok());
}

TEST_F(SnapshotTest, CorruptFsJsonIsAClearError) {
  ASSERT_TRUE(WriteFileAtomic(layout::FsMetaPath(state), "{not json").ok());
  auto r = Snap();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("fs.json"), std::string::npos);
}

TEST_F(SnapshotTest, EnvIsAddedOnlyByName) {
  WriteFile(Upper() + "/f", "x");
  SnapshotOptions o;
  o.state_dir = state;
  o.filter = &keep;
  o.add_env = {"MODEL=llama"};
  auto r = TakeSnapshot(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->image.config["config"]["Env"], json::array({"MODEL=llama"}));
}

}  // namespace
}  // namespace ctrsnap::layers
