#include "layers/drift/inventory_store.h"

#include "common/fs_meta.h"
#include "common/state_layout.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include "layers/drift/drift_source.h"
#include "layers/drift/drift_test_util.h"
#include "layers/drift/image_unpack.h"
#include "layers/drift/oci_layout.h"
#include "layers/drift/oci_test_util.h"
#include "layers/drift/scan_root.h"

namespace ctrsnap::drift {
namespace {

using testing::Dir;
using testing::File;
using testing::Link;
using testing::TarEntry;
using testing::TempRoot;
using testing::WriteImage;

const Item* Find(const Inventory& inv, std::string_view eco, std::string_view name) {
  for (const auto& it : inv.items) {
    if (it.ecosystem == eco && it.name == name) return &it;
  }
  return nullptr;
}

std::vector<TarEntry> BaseLayer() {
  return {
      Dir("etc/"),
      File("etc/os-release", "ID=debian\n"),
      File("etc/old.conf", "x\n"),
      File("var/lib/dpkg/status", "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n\n"
       "Package: curl\nStatus: install ok installed\nVersion: 7.88.1-10\nArchitecture: amd64\n"),
      File("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n"),
      Dir("opt/cache/"),
      File("opt/cache/big.bin", std::string(100000, 'z')),
      File("usr/lib/x86_64-linux-gnu/libcudnn.so.8.9.7", std::string(5000, 'E')),
      Link("lib", "/usr/lib"),
  };
}

std::string RunShell(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

TEST(ImageUnpackTest, WhiteoutsOpaqueDirsAndEmptyPayloads) {
  TempRoot layout, dest;
  std::vector<TarEntry> top = {
      File("etc/.wh.old.conf", ""),
      File("opt/cache/.wh..wh..opq", ""),
      File("opt/cache/new.txt", "n"),
      File("var/lib/dpkg/status", "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b3\nArchitecture: amd64\n"),
      File("lib/.wh.escape", ""),        // through the /lib symlink: must not touch the host
      File("../evil", "x"),              // ".." is refused
  };
  WriteImage(layout.path(), {BaseLayer(), top}, {{"Cmd", {"sh"}}}, "v1");
  auto img = ResolveImage(layout.path(), "v1");
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  auto stats = UnpackImageLayers(layout.path(), img->manifest_json, dest.path());
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  struct stat st;
  EXPECT_NE(::lstat(dest.Abs("etc/old.conf").c_str(), &st), 0);
  EXPECT_EQ(::lstat(dest.Abs("etc/os-release").c_str(), &st), 0);
  EXPECT_NE(::lstat(dest.Abs("opt/cache/big.bin").c_str(), &st), 0);  // opaque dir
  EXPECT_EQ(::lstat(dest.Abs("opt/cache/new.txt").c_str(), &st), 0);
  ASSERT_EQ(::lstat(dest.Abs("usr/lib/x86_64-linux-gnu/libcudnn.so.8.9.7").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);  // names only outside scanned files
  EXPECT_NE(::lstat(dest.Abs("../evil").c_str(), &st), 0);
  auto inv = ScanRootPath(dest.path());
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(Find(*inv, kEcoDeb, "bash")->version, "5.2.15-2+b3");
  EXPECT_EQ(Find(*inv, kEcoDeb, "curl"), nullptr);  // the upper status replaced the file
  EXPECT_EQ(Find(*inv, kEcoPython, "six")->version, "1.16.0");
  EXPECT_EQ(Find(*inv, kEcoCuda, "libcudnn")->version, "8.9.7");
}

TEST(ImageUnpackTest, TamperedLayerIsRefused) {
  TempRoot layout, dest;
  WriteImage(layout.path(), {BaseLayer()}, {}, "v1");
  auto img = ResolveImage(layout.path(), "v1");
  ASSERT_TRUE(img.ok());
  std::string digest = img->manifest_json["layers"][0]["digest"];
  std::string blob = BlobPath(layout.path(), digest);
  auto data = ReadFileToString(blob);
  ASSERT_TRUE(data.ok());
  (*data)[data->size() / 2] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(blob, *data).ok());
  auto stats = UnpackImageLayers(layout.path(), img->manifest_json, dest.path());
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Code::kCorrupt);
}

TEST(InventoryStoreTest, AttachAndLoadRoundTrip) {
  TempRoot layout, root;
  oci::Descriptor image = WriteImage(layout.path(), {BaseLayer()}, {{"Env", {"A=1"}}}, "snap1");
  root.Write("var/lib/dpkg/status",
             "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n");
  auto inv = ScanRootPath(root.path());
  ASSERT_TRUE(inv.ok());
  auto art = AttachInventory(layout.path(), image, *inv);
  ASSERT_TRUE(art.ok()) << art.status().ToString();
  EXPECT_EQ(art->artifact_type, kInventoryArtifactType);

  // The artifact manifest follows image-spec 1.1's artifact guidance.
  auto text = ReadBlob(layout.path(), art->digest);
  ASSERT_TRUE(text.ok());
  auto m = nlohmann::json::parse(*text);
  EXPECT_EQ(m["artifactType"], kInventoryArtifactType);
  EXPECT_EQ(m["config"]["mediaType"], oci::kMediaTypeEmptyJson);
  EXPECT_EQ(m["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  EXPECT_EQ(m["config"]["size"], 2);
  EXPECT_EQ(m["subject"]["digest"], image.digest);
  EXPECT_EQ(m["layers"][0]["digest"], inv->Digest());

  for (const std::string& ref : {std::string("snap1"), image.digest, std::string()}) {
    auto back = LoadInventory(layout.path(), ref);
    ASSERT_TRUE(back.ok()) << ref << ": " << back.status().ToString();
    EXPECT_EQ(back->ToJson(), inv->ToJson());
  }
  // Attaching again replaces, never duplicates.
  ASSERT_TRUE(AttachInventory(layout.path(), image, *inv).ok());
  auto index = ReadIndex(layout.path());
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)["manifests"].size(), 2u);

  // Standard tools accept the layout (when installed).
  int rc = 0;
  std::string out = RunShell("command -v skopeo", &rc);
  if (rc == 0) {
    out = RunShell("skopeo inspect --raw oci:" + layout.path() + ":snap1", &rc);
    EXPECT_EQ(rc, 0) << out;
  }
  out = RunShell("command -v umoci", &rc);
  if (rc == 0) {
    out = RunShell("umoci stat --image " + layout.path() + ":snap1", &rc);
    EXPECT_EQ(rc, 0) << out;
  }
}

TEST(InventoryStoreTest, FoundThroughManifestAnnotationAlone) {
  TempRoot layout, root;
  root.Write("var/lib/dpkg/status",
             "Package: zsh\nStatus: install ok installed\nVersion: 5.9-4\nArchitecture: amd64\n");
  auto inv = ScanRootPath(root.path());
  ASSERT_TRUE(inv.ok());
  // The snapshot writer's order: annotations first, then the manifest.
  auto annotations = InventoryAnnotations(*inv);
  EXPECT_LT(annotations[kAnnotationInventorySummary].size(), 1024u);
  ASSERT_TRUE(WriteBlob(layout.path(), kInventoryArtifactType, inv->ToJson()).ok() ||
              (MakeDirs(layout.Abs("blobs/sha256")).ok() &&
               WriteBlob(layout.path(), kInventoryArtifactType, inv->ToJson()).ok()));
  WriteImage(layout.path(), {BaseLayer()}, {}, "annotated", annotations);
  auto back = LoadInventory(layout.path(), "annotated");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(Find(*back, kEcoDeb, "zsh")->version, "5.9-4");
}

TEST(InventoryStoreTest, ErrorsAreValues) {
  TempRoot layout;
  WriteImage(layout.path(), {BaseLayer()}, {}, "a");
  EXPECT_EQ(LoadInventory(layout.path(), "a").status().code(), Code::kNotFound);
  EXPECT_EQ(LoadInventory(layout.path(), "nope").status().code(), Code::kNotFound);
  EXPECT_FALSE(LoadInventory(layout.path(), "sha256:../../etc/passwd").ok());
  WriteImage(layout.path(), {BaseLayer()}, {}, "b");
  EXPECT_EQ(ResolveImage(layout.path(), "").status().code(), Code::kInvalidArgument);  // two images
  oci::Descriptor bad;
  bad.digest = "sha256:zz";
  EXPECT_FALSE(AttachInventory(layout.path(), bad, Inventory()).ok());
  ASSERT_TRUE(WriteFileAtomic(layout.Abs("index.json"), "{broken").ok());
  EXPECT_EQ(LoadInventory(layout.path(), "a").status().code(), Code::kCorrupt);
}

TEST(DriftSourceTest, LayoutWithoutInventoryIsComputedFromLayers) {
  TempRoot layout;
  WriteImage(layout.path(), {BaseLayer()},
             {{"Env", {"PATH=/bin", "AWS_SECRET_ACCESS_KEY=abc"}}, {"User", "1000"}}, "base");
  auto spec = ParseSourceSpec("oci:" + layout.path() + ":base", "/nonexistent");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->kind, SourceKind::kLayout);
  EXPECT_EQ(spec->ref, "base");
  SourceOptions opts;
  opts.tmp_dir = "/tmp";
  auto inv = InventoryOf(*spec, opts);
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(Find(*inv, kEcoDeb, "curl")->version, "7.88.1-10");
  EXPECT_TRUE(Find(*inv, kEcoConfig, "Env:AWS_SECRET_ACCESS_KEY")->secret);
  EXPECT_EQ(Find(*inv, kEcoConfig, "User")->version, "1000");
  EXPECT_EQ(inv->ToJson().find("\"abc\""), std::string::npos);
}

TEST(DriftSourceTest, SpecForms) {
  TempRoot layout, root;
  WriteImage(layout.path(), {BaseLayer()}, {}, "x");
  auto s = ParseSourceSpec(layout.path() + ":x", "/nonexistent");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, SourceKind::kLayout);
  s = ParseSourceSpec(layout.path(), "/nonexistent");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, SourceKind::kLayout);
  EXPECT_EQ(s->ref, "");
  s = ParseSourceSpec(root.path(), "/nonexistent");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, SourceKind::kRootDir);
  s = ParseSourceSpec("dir:" + layout.path(), "/nonexistent");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, SourceKind::kRootDir);
  root.Write("c1/fs.json", "{}");
  s = ParseSourceSpec("c1", root.path());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, SourceKind::kContainer);
  EXPECT_FALSE(ParseSourceSpec("../c1", root.path()).ok());
  EXPECT_FALSE(ParseSourceSpec("nothing-here", root.path()).ok());
}

}  // namespace
}  // namespace ctrsnap::drift

namespace ctrsnap::drift {
namespace {

TEST(DriftSourceTest, ContainerLowerdirOrderAndEscaping) {
  testing::TempRoot root;
  std::string state = root.Abs("c:1");
  FsMeta meta;
  meta.lowerdirs = {"/images/a,b", "/images/base"};
  meta.generations = {{1, "setup", true, 1, 2, ""}, {2, "", true, 3, 4, ""}, {3, "", false, 5, 0, ""}};
  ASSERT_TRUE(MakeDirs(state).ok());
  ASSERT_TRUE(meta.Save(state).ok());
  for (int g : {1, 3}) ASSERT_TRUE(MakeDirs(layout::UpperDir(state, g)).ok());  // gen 2's is gone
  auto opt = ContainerLowerdirOption(state);
  ASSERT_TRUE(opt.ok()) << opt.status().ToString();
  std::string esc = root.path() + "/c\\:1";
  EXPECT_EQ(*opt, esc + "/gen/3/upper:" + esc + "/gen/1/upper:/images/a\\,b:/images/base");
  ASSERT_TRUE(WriteFileAtomic(layout::FsMetaPath(state), "{\"version\":1}").ok());
  EXPECT_FALSE(ContainerLowerdirOption(state).ok());
}

}  // namespace
}  // namespace ctrsnap::drift
