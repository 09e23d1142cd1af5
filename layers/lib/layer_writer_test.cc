#include "layers/lib/layer_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "layers/lib/change_set.h"
#include "layers/lib/compressor.h"
#include "layers/lib/test_tree.h"

namespace ctrsnap::layers {
namespace {

using testing::MakeDir;
using testing::MakeOpaque;
using testing::MakeWhiteout;
using testing::SetXattr;
using testing::TarItem;
using testing::TempDir;
using testing::WriteFile;

// Drops paths named "secret.txt" by path and any file containing "AKIA" by content.
class TestFilter final : public FileFilter {
 public:
  FilterDecision EvaluatePath(const FilterEntry& e) const override {
    FilterDecision d;
    if (e.path.size() >= 10 && e.path.substr(e.path.size() - 10) == "secret.txt") {
      d.action = FilterAction::kDrop;
      d.findings.push_back({"path.test", "credential-path", e.path, 0, "", "test rule", e.size,
                            FilterAction::kDrop});
    }
    if (e.path == drop_path) {
      d.action = FilterAction::kDrop;
      d.findings.push_back({"path.drop", "excluded", e.path, 0, "", "asked", e.size,
                            FilterAction::kDrop});
    }
    return d;
  }
  FilterDecision EvaluateContent(const FilterEntry& e, int fd) const override {
    FilterDecision d;
    char buf[256];
    ssize_t n = ::pread(fd, buf, sizeof(buf), 0);
    if (n > 0 && std::string(buf, static_cast<size_t>(n)).find("AKIA") != std::string::npos) {
      d.action = fail_on_secret ? FilterAction::kFail : FilterAction::kDrop;
      d.findings.push_back({"secret.aws", "secret", e.path, 1, "AKIA...XYZ", "aws key", e.size,
                            d.action});
    }
    return d;
  }
  std::vector<FilterFinding> FilterEnv(std::vector<std::string>*) const override { return {}; }
  std::string drop_path;
  bool fail_on_secret = false;
};

class LayerWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lower = dir.Sub("lower");
    g1 = dir.Sub("g1");
    g2 = dir.Sub("g2");
    for (const auto& d : {lower, g1, g2}) MakeDir(d);
    // lower: the image
    MakeDir(lower + "/etc");
    WriteFile(lower + "/etc/passwd", "root:x:0:0\n");
    MakeDir(lower + "/bin");
    WriteFile(lower + "/bin/cat", "ELF", 0755);
    MakeDir(lower + "/dir");
    WriteFile(lower + "/dir/a", "a");
    MakeDir(lower + "/olddir");
    WriteFile(lower + "/olddir/f1", "f1");
    MakeDir(lower + "/olddir/sub");
    WriteFile(lower + "/olddir/sub/f2", "f2");
    WriteFile(lower + "/meta", "DATA");
    // generation 1 (older)
    WriteFile(g1 + "/new.txt", "new");
    MakeDir(g1 + "/dir");
    MakeOpaque(g1 + "/dir");
    WriteFile(g1 + "/dir/c", "c");
    MakeDir(g1 + "/etc");
    WriteFile(g1 + "/etc/hosts", "127.0.0.1 x\n");
    MakeDir(g1 + "/data");
    MakeDir(g1 + "/data/vol");
    WriteFile(g1 + "/data/vol/file", "volume data");
    WriteFile(g1 + "/gone.txt", "short-lived");
    // generation 2 (top)
    MakeDir(g2 + "/bin");
    MakeWhiteout(g2 + "/bin/cat");
    WriteFile(g2 + "/new2.txt", "new2");
    WriteFile(g2 + "/h1", "linked");
    ASSERT_EQ(::link((g2 + "/h1").c_str(), (g2 + "/h2").c_str()), 0);
    WriteFile(g2 + "/secret.txt", "pw");
    WriteFile(g2 + "/key.txt", "AKIAXYZ");
    ASSERT_EQ(::symlink("/etc/passwd", (g2 + "/link").c_str()), 0);
    MakeDir(g2 + "/newdir");
    SetXattr(g2 + "/newdir", "user.overlay.redirect", "/olddir");
    WriteFile(g2 + "/newdir/f3", "f3");
    MakeWhiteout(g2 + "/olddir");
    MakeWhiteout(g2 + "/gone.txt");
    WriteFile(g2 + "/meta", "");
    ::truncate((g2 + "/meta").c_str(), 4);
    SetXattr(g2 + "/meta", "user.overlay.metacopy", "");
    SetXattr(g2 + "/new2.txt", "user.comment", "kept");
    struct timespec ts[2] = {{1700000000, 123456789}, {1700000000, 123456789}};
    ::utimensat(AT_FDCWD, (g2 + "/new2.txt").c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }

  std::vector<TarItem> Write(Compression c, LayerStats* stats_out, std::string* raw = nullptr) {
    auto stack = OverlayStack::Open({g2, g1, lower});
    EXPECT_TRUE(stack.ok()) << stack.status().ToString();
    auto root = BuildChangeSet(*stack, {0, 1});
    EXPECT_TRUE(root.ok()) << root.status().ToString();
    StringSink sink;
    auto comp = NewCompressor(c, &sink, {});
    LayerWriterOptions o;
    o.filter = &filter;
    o.excluded_paths = {"/data/vol/"};
    auto stats = WriteLayer(*stack, **root, o, comp.get());
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    if (stats.ok()) *stats_out = *stats;
    if (raw) *raw = sink.data();
    return testing::ReadTar(sink.data());
  }

  static std::vector<std::string> Paths(const std::vector<TarItem>& items) {
    std::vector<std::string> out;
    for (const auto& t : items) out.push_back(t.path);
    return out;
  }
  static const TarItem* Find(const std::vector<TarItem>& items, const std::string& p) {
    for (const auto& t : items)
      if (t.path == p) return &t;
    return nullptr;
  }

  TempDir dir;
  std::string lower, g1, g2;
  TestFilter filter;
};

TEST_F(LayerWriterTest, MergesGenerationsInOciOrder) {
  LayerStats stats;
  auto items = Write(Compression::kNone, &stats);
  std::vector<std::string> expected = {
      ".wh.gone.txt", ".wh.olddir", "bin/", "bin/.wh.cat", "data/", "dir/",
      "dir/.wh..wh..opq", "dir/c", "etc/", "h1", "h2", "link", "meta", "new.txt", "new2.txt",
      "newdir/", "newdir/.wh..wh..opq", "newdir/f1", "newdir/f3", "newdir/sub/",
      "newdir/sub/f2"};
  EXPECT_EQ(Paths(items), expected);
  EXPECT_EQ(Find(items, "h2")->type, 'h');
  EXPECT_EQ(Find(items, "h2")->link, "h1");
  EXPECT_EQ(Find(items, "h1")->data, "linked");
  EXPECT_EQ(Find(items, "link")->link, "/etc/passwd");
  EXPECT_EQ(Find(items, "meta")->data, "DATA");
  EXPECT_EQ(Find(items, "newdir/sub/f2")->data, "f2");
  const TarItem* n2 = Find(items, "new2.txt");
  EXPECT_EQ(n2->mtime, 1700000000);
  EXPECT_EQ(n2->mtime_nsec, 123456789);
  EXPECT_EQ(n2->xattrs.at("user.comment"), "kept");
  EXPECT_EQ(Find(items, "newdir/")->xattrs.count("user.overlay.redirect"), 0u);
  EXPECT_EQ(stats.deleted, 3u);  // gone.txt, olddir, bin/cat
  EXPECT_EQ(stats.changed, 1u);  // meta existed in the lower
  EXPECT_EQ(stats.hardlinks, 1u);
  ASSERT_EQ(stats.findings.size(), 2u);  // key.txt (content), secret.txt (path)
  EXPECT_EQ(stats.findings[0].path, "/key.txt");
  EXPECT_EQ(stats.findings[1].path, "/secret.txt");
  ASSERT_EQ(stats.excluded.size(), 2u);
  EXPECT_EQ(stats.excluded[0], "/data/vol: bind mount or volume");
  EXPECT_EQ(stats.excluded[1], "/etc/hosts: injected by the container runtime");
}

TEST_F(LayerWriterTest, SameChangeSetGivesSameDiffIdWhateverCompression) {
  LayerStats a, b, c, d;
  std::string raw_a, raw_b, raw_c, raw_d;
  Write(Compression::kNone, &a, &raw_a);
  Write(Compression::kNone, &b, &raw_b);
  Write(Compression::kGzip, &c, &raw_c);
  Write(Compression::kZstd, &d, &raw_d);
  EXPECT_EQ(a.diff_id, b.diff_id);
  EXPECT_EQ(raw_a, raw_b);
  EXPECT_EQ(a.diff_id, c.diff_id);
  EXPECT_EQ(a.diff_id, d.diff_id);
  EXPECT_EQ(a.diff_id, Sha256Digest(raw_a));
  EXPECT_EQ(testing::Decompress(raw_c), raw_a);
  EXPECT_EQ(testing::Decompress(raw_d), raw_a);
}

TEST_F(LayerWriterTest, PromotesNextHardLinkWhenFirstIsDropped) {
  filter.drop_path = "/h1";
  LayerStats stats;
  auto items = Write(Compression::kNone, &stats);
  EXPECT_EQ(Find(items, "h1"), nullptr);
  ASSERT_NE(Find(items, "h2"), nullptr);
  EXPECT_EQ(Find(items, "h2")->type, 'f');
  EXPECT_EQ(Find(items, "h2")->data, "linked");
}

TEST_F(LayerWriterTest, FailActionAbortsTheLayer) {
  filter.fail_on_secret = true;
  auto stack = OverlayStack::Open({g2, g1, lower});
  ASSERT_TRUE(stack.ok());
  auto root = BuildChangeSet(*stack, {0, 1});
  ASSERT_TRUE(root.ok());
  StringSink sink;
  LayerWriterOptions o;
  o.filter = &filter;
  auto stats = WriteLayer(*stack, **root, o, &sink);
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.status().message().find("/key.txt"), std::string::npos);
  EXPECT_EQ(stats.status().message().find("AKIAXYZ"), std::string::npos);
}

TEST_F(LayerWriterTest, OnlyTopGenerationWhenDeltaIsOneLayer) {
  // Exporting only generation 2 (generation 1 already in an earlier layer).
  auto stack = OverlayStack::Open({g2, g1, lower});
  ASSERT_TRUE(stack.ok());
  auto root = BuildChangeSet(*stack, {0});
  ASSERT_TRUE(root.ok());
  StringSink sink;
  KeepAllFilter keep;
  LayerWriterOptions o;
  o.filter = &keep;
  auto stats = WriteLayer(*stack, **root, o, &sink);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  auto items = testing::ReadTar(sink.data());
  EXPECT_EQ(Find(items, "new.txt"), nullptr);
  EXPECT_EQ(Find(items, "dir/c"), nullptr);
  EXPECT_NE(Find(items, ".wh.gone.txt"), nullptr);
  EXPECT_EQ(stats->changed, 1u);  // meta
}

TEST_F(LayerWriterTest, HostileSymlinkedParentIsNotFollowed) {
  // A container makes /escape a symlink to the host's /; its metacopy data
  // lookup must not leave the layer.
  ASSERT_EQ(::symlink("/", (lower + "/escape").c_str()), 0);
  WriteFile(g2 + "/evil", "");
  SetXattr(g2 + "/evil", "user.overlay.metacopy", "");
  SetXattr(g2 + "/evil", "user.overlay.redirect", "/escape/etc/passwd");
  auto stack = OverlayStack::Open({g2, g1, lower});
  ASSERT_TRUE(stack.ok());
  auto root = BuildChangeSet(*stack, {0, 1});
  EXPECT_FALSE(root.ok());
}

TEST_F(LayerWriterTest, SparseFileAboveTheLimitFailsTheLayerWithItsName) {
  // 24 MiB of holes around 4 bytes: refused under an 8 MiB limit, written
  // (holes as zeros) under a 32 MiB one.
  WriteFile(g2 + "/sparse", "");
  ASSERT_EQ(::truncate((g2 + "/sparse").c_str(), 24 << 20), 0);
  {
    int fd = ::open((g2 + "/sparse").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "DATA", 4, 12 << 20), 4);
    ::close(fd);
  }
  auto stack = OverlayStack::Open({g2, g1, lower});
  ASSERT_TRUE(stack.ok());
  auto root = BuildChangeSet(*stack, {0});
  ASSERT_TRUE(root.ok());
  KeepAllFilter keep;
  LayerWriterOptions o;
  o.filter = &keep;
  o.max_sparse_bytes = 8 << 20;
  StringSink refused;
  auto stats = WriteLayer(*stack, **root, o, &refused);
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.status().message().find("/sparse is a sparse file of 24.0 MiB"),
            std::string::npos)
      << stats.status().ToString();
  o.max_sparse_bytes = 32 << 20;
  StringSink sink;
  stats = WriteLayer(*stack, **root, o, &sink);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  auto items = testing::ReadTar(sink.data());
  const TarItem* f = Find(items, "sparse");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->data.size(), 24u << 20);
  EXPECT_EQ(f->data.substr(12 << 20, 4), "DATA");
  EXPECT_EQ(f->data.find_first_not_of('\0'), 12u << 20);
}

}  // namespace
}  // namespace ctrsnap::layers
