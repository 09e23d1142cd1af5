#include "layers/policy/glob.h"

#include <gtest/gtest.h>

namespace ctrsnap::policy {
namespace {

bool M(std::string_view pattern, std::string_view path, bool is_dir = false) {
  auto g = GlobPattern::Parse(pattern);
  EXPECT_TRUE(g.ok()) << pattern;
  return g.ok() && g->Matches(path, is_dir);
}

TEST(GlobTest, UnanchoredNameMatchesAtAnyDepth) {
  EXPECT_TRUE(M("*.log", "/var/log/app.log"));
  EXPECT_TRUE(M("*.log", "/app.log"));
  EXPECT_FALSE(M("*.log", "/var/log/app.logs"));
  EXPECT_TRUE(M("core", "/app/core"));
  EXPECT_FALSE(M("core", "/app/score"));
  // A name pattern matching a directory covers what is inside it.
  EXPECT_TRUE(M("node_modules", "/app/node_modules/x/index.js"));
}

TEST(GlobTest, LeadingSlashAndMiddleSlashAnchor) {
  EXPECT_TRUE(M("/labels.json", "/labels.json"));
  EXPECT_FALSE(M("/labels.json", "/app/labels.json"));
  EXPECT_TRUE(M("app/*.py", "/app/x.py"));
  EXPECT_FALSE(M("app/*.py", "/src/app/x.py"));
  EXPECT_FALSE(M("/app/*.py", "/app/sub/x.py"));
}

TEST(GlobTest, TrailingSlashMatchesDirectoriesOnly) {
  EXPECT_TRUE(M("cache/", "/x/cache/file"));
  EXPECT_FALSE(M("cache/", "/x/cache"));        // a file named cache
  EXPECT_TRUE(M("cache/", "/x/cache", true));   // the directory itself
  EXPECT_TRUE(M("/root/.cache/pip/", "/root/.cache/pip/http/a/b"));
  EXPECT_FALSE(M("/root/.cache/pip/", "/root/.cache/pipx/x"));
}

TEST(GlobTest, DoubleStar) {
  EXPECT_TRUE(M("**/__pycache__/", "/a/b/__pycache__/m.pyc"));
  EXPECT_TRUE(M("**/__pycache__/", "/__pycache__/m.pyc"));
  EXPECT_TRUE(M("/var/log/**", "/var/log/apt/history.log"));
  EXPECT_FALSE(M("/var/log/**", "/var/log", true));  // "a/**" is inside a, not a
  EXPECT_FALSE(M("/var/log/**", "/var/logs/x"));
  EXPECT_TRUE(M("/a/**/z", "/a/z"));
  EXPECT_TRUE(M("/a/**/z", "/a/b/c/z"));
  EXPECT_FALSE(M("/a/**/z", "/b/a/z"));
  EXPECT_TRUE(M("/home/*/.ssh/id_*", "/home/dev/.ssh/id_ed25519"));
  EXPECT_FALSE(M("/home/*/.ssh/id_*", "/home/dev/x/.ssh/id_rsa"));
  // "**" not between slashes acts like "*".
  EXPECT_TRUE(M("/a**b", "/axxb"));
  EXPECT_FALSE(M("/a**b", "/ax/xb"));
}

TEST(GlobTest, ClassesQuestionMarkAndEscapes) {
  EXPECT_TRUE(M("core.[0-9]*", "/core.1234"));
  EXPECT_FALSE(M("core.[0-9]*", "/core.py"));
  EXPECT_TRUE(M("[!a]bc", "/xbc"));
  EXPECT_FALSE(M("[!a]bc", "/abc"));
  EXPECT_TRUE(M("[^a]bc", "/xbc"));
  EXPECT_TRUE(M("?.txt", "/a.txt"));
  EXPECT_FALSE(M("?.txt", "/ab.txt"));
  EXPECT_TRUE(M("\\*.txt", "/*.txt"));
  EXPECT_FALSE(M("\\*.txt", "/a.txt"));
  EXPECT_TRUE(M("\\!important", "/!important"));
  EXPECT_TRUE(M("\\#x", "/#x"));
  EXPECT_TRUE(M("a\\ ", "/a "));      // escaped trailing space is kept
  EXPECT_TRUE(M("name   ", "/name"));  // unescaped trailing spaces are ignored
  EXPECT_TRUE(M("[a", "/[a"));         // unterminated class is literal
}

TEST(GlobTest, NegationLastMatchWins) {
  GlobList l;
  ASSERT_TRUE(l.Add("*.env").ok());
  ASSERT_TRUE(l.Add("!prod.env").ok());
  ASSERT_TRUE(l.Add("/secret/").ok());
  EXPECT_TRUE(l.Matches("/a/dev.env", false));
  EXPECT_FALSE(l.Matches("/a/prod.env", false));
  EXPECT_TRUE(l.Matches("/secret/prod.env", false));  // a later pattern matches again
  EXPECT_FALSE(l.Matches("/a/x.txt", false));
}

TEST(GlobTest, BadPatternsAreErrors) {
  EXPECT_FALSE(GlobPattern::Parse("").ok());
  EXPECT_FALSE(GlobPattern::Parse("!").ok());
  EXPECT_FALSE(GlobPattern::Parse("/").ok());
  EXPECT_FALSE(GlobPattern::Parse("   ").ok());
}

TEST(GlobTest, HostilePathsStayFast) {
  // Many stars against a long non-matching name: quadratic at worst, no blow-up.
  std::string pattern = "/" + std::string(50, '*') + "x";
  std::string path = "/" + std::string(5000, 'a');
  EXPECT_FALSE(M(pattern, path));
  std::string deep;
  for (int i = 0; i < 500; ++i) deep += "/d";
  EXPECT_TRUE(M("**/d/**/d", deep));
}

}  // namespace
}  // namespace ctrsnap::policy
