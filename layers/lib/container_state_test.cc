#include "layers/lib/container_state.h"

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "layers/lib/test_tree.h"

namespace ctrsnap::layers {
namespace {

using testing::MakeDir;
using testing::TempDir;
using testing::WriteFile;

TEST(ContainerState, ResolvesIdsAndUniquePrefixes) {
  TempDir root;
  for (const char* id : {"abc123", "abd456", "zzz"}) {
    MakeDir(root.Sub(id));
    WriteFile(root.Sub(std::string(id) + "/fs.json"), "{}");
  }
  MakeDir(root.Sub("notastate"));
  EXPECT_EQ(*ResolveStateDir(root.path(), "abc123"), root.Sub("abc123"));
  EXPECT_EQ(*ResolveStateDir(root.path(), "abc"), root.Sub("abc123"));
  EXPECT_EQ(ResolveStateDir(root.path(), "ab").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ResolveStateDir(root.path(), "q").status().code(), Code::kNotFound);
  EXPECT_FALSE(ResolveStateDir(root.path(), "../etc").ok());
  EXPECT_FALSE(ResolveStateDir(root.path(), "notastate").ok());
  EXPECT_EQ(ListStateDirs(root.path()).size(), 3u);
}

TEST(ContainerState, ContainerJsonMayBeMissingButNotMalformed) {
  TempDir state;
  auto m = LoadContainerMeta(state.path());
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->present);
  WriteFile(state.Sub("container.json"),
            R"({"id":"c1","engine":"docker","image":"bb:local","env":["A=1"]})");
  m = LoadContainerMeta(state.path());
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->present);
  EXPECT_EQ(m->image, "bb:local");
  EXPECT_EQ(m->env.size(), 1u);
  WriteFile(state.Sub("container.json"), "{broken");
  EXPECT_FALSE(LoadContainerMeta(state.path()).ok());
}

TEST(ContainerState, ReadsGitHeadAndOriginWithoutCredentials) {
  TempDir src;
  EXPECT_FALSE(ReadGitInfo(src.path()).has_value());
  MakeDir(src.Sub(".git"));
  MakeDir(src.Sub(".git/refs"));
  MakeDir(src.Sub(".git/refs/heads"));
  WriteFile(src.Sub(".git/HEAD"), "ref: refs/heads/main\n");
  std::string rev(40, 'a');
  WriteFile(src.Sub(".git/refs/heads/main"), rev + "\n");
  WriteFile(src.Sub(".git/config"),
            "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://user:tok@example.com/r.git\n");
  auto g = ReadGitInfo(src.path());
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->revision, rev);
  EXPECT_EQ(g->source, "https://example.com/r.git");
  // packed refs
  ASSERT_EQ(::unlink(src.Sub(".git/refs/heads/main").c_str()), 0);
  std::string rev2(40, 'b');
  WriteFile(src.Sub(".git/packed-refs"), "# pack-refs\n" + rev2 + " refs/heads/main\n");
  EXPECT_EQ(ReadGitInfo(src.path())->revision, rev2);
}

class DropAll final : public FileFilter {
 public:
  FilterDecision EvaluatePath(const FilterEntry& e) const override {
    FilterDecision d;
    d.action = FilterAction::kDrop;
    bool secret = e.path == "/key";
    d.findings.push_back({"r", secret ? "secret" : "cache", e.path, 0, "", "", 0, d.action});
    return d;
  }
  FilterDecision EvaluateContent(const FilterEntry&, int) const override { return {}; }
  std::vector<FilterFinding> FilterEnv(std::vector<std::string>*) const override { return {}; }
};

TEST(OverrideFilter, FullKeepsCachesButNotSecrets) {
  DropAll inner;
  OverrideFilter full(&inner, true, false);
  EXPECT_EQ(full.EvaluatePath({"/cache", 0100644, 0, 0, 1}).action, FilterAction::kKeepReport);
  EXPECT_EQ(full.EvaluatePath({"/key", 0100644, 0, 0, 1}).action, FilterAction::kDrop);
  OverrideFilter allow(&inner, true, true);
  EXPECT_EQ(allow.EvaluatePath({"/key", 0100644, 0, 0, 1}).action, FilterAction::kKeepReport);
  OverrideFilter none(&inner, false, false);
  EXPECT_EQ(none.EvaluatePath({"/cache", 0100644, 0, 0, 1}).action, FilterAction::kDrop);
}

}  // namespace
}  // namespace ctrsnap::layers
