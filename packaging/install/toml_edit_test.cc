#include "packaging/install/toml_edit.h"

#include <gtest/gtest.h>

namespace ctrsnap::install {
namespace {

std::string Set(const std::string& text, const TomlPath& table, const std::string& key,
                const std::string& value, bool* changed = nullptr) {
  bool c = false;
  auto r = SetKey(text, "t.toml", table, key, value, &c);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (changed != nullptr) *changed = c;
  return r.ok() ? *r : "";
}

std::string Remove(const std::string& text) {
  bool c = false;
  auto r = RemoveCtrsnapLines(text, "t.toml", &c);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "";
}

TEST(TomlEditTest, AppendsMissingTableToEmptyText) {
  std::string out = Set("", {"engine", "runtimes"}, "ctrsnap", "[\"/x\"]");
  EXPECT_EQ(out, "[engine.runtimes]  # added by ctrsnap install\n"
                 "ctrsnap = [\"/x\"]  # added by ctrsnap install\n");
  EXPECT_EQ(Remove(out), "");
}

TEST(TomlEditTest, InsertsIntoExistingTableAndKeepsOtherBytes) {
  const std::string in =
      "# my config\n[engine]\n  cgroup_manager = \"cgroupfs\"  # keep\n\n[engine.runtimes]\n"
      "  runc = [\"/usr/sbin/runc\"]\n[network]\n";
  std::string out = Set(in, {"engine", "runtimes"}, "ctrsnap", "[\"/x\"]");
  EXPECT_EQ(out,
            "# my config\n[engine]\n  cgroup_manager = \"cgroupfs\"  # keep\n\n[engine.runtimes]\n"
            "  ctrsnap = [\"/x\"]  # added by ctrsnap install\n"
            "  runc = [\"/usr/sbin/runc\"]\n[network]\n");
  EXPECT_EQ(Remove(out), in);
}

TEST(TomlEditTest, ReplacesExistingKeyAndRestoresIt) {
  const std::string in = "[engine]\nruntime = \"crun\"\nevents_logger = \"file\"\n";
  std::string out = Set(in, {"engine"}, "runtime", "\"ctrsnap\"");
  EXPECT_EQ(out, "[engine]\n# replaced by ctrsnap install: runtime = \"crun\"\n"
                 "runtime = \"ctrsnap\"  # added by ctrsnap install\nevents_logger = \"file\"\n");
  EXPECT_EQ(Remove(out), in);
  // Changing our own line again replaces it in place.
  std::string again = Set(out, {"engine"}, "runtime", "\"other\"");
  EXPECT_EQ(Remove(again), in);
}

TEST(TomlEditTest, SameValueIsNoChange) {
  bool changed = true;
  const std::string in = "[a]\nb = true\n";
  EXPECT_EQ(Set(in, {"a"}, "b", "true", &changed), in);
  EXPECT_FALSE(changed);
}

TEST(TomlEditTest, QuotedDottedHeadersAreMatched) {
  const std::string in =
      "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"x\"\n";
  std::string out = Set(in, {"plugins", "io.containerd.grpc.v1.cri", "containerd"},
                        "default_runtime_name", "\"ctrsnap\"");
  EXPECT_NE(out.find("containerd]\n  default_runtime_name = \"ctrsnap\"  # added"),
            std::string::npos)
      << out;
}

TEST(TomlEditTest, HeadersInsideMultilineStringsAreIgnored) {
  const std::string in = "[a]\ns = \"\"\"\n[b]\n\"\"\"\narr = [\n  1,\n]\n";
  std::string out = Set(in, {"b"}, "k", "1");
  // [b] inside the string is not a table: a real [b] is appended.
  EXPECT_TRUE(out.ends_with("[b]  # added by ctrsnap install\nk = 1  # added by ctrsnap install\n"))
      << out;
  EXPECT_EQ(Remove(out), in);
}

TEST(TomlEditTest, SuperTableAfterSubTable) {
  std::string out = Set("", {"engine", "runtimes"}, "ctrsnap", "[\"/x\"]");
  out = Set(out, {"engine"}, "runtime", "\"ctrsnap\"");
  auto doc = TomlDoc::Parse(out, "t");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->GetString({"engine", "runtime"}).value_or(""), "ctrsnap");
}

TEST(TomlEditTest, MalformedInputIsReportedWithLine) {
  bool c = false;
  auto r = SetKey("[a]\nb = \n", "bad.toml", {"a"}, "c", "1", &c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad.toml:2:"), std::string::npos) << r.status().ToString();
}

// toml++ 3.3 has undefined behaviour on some code points (found by
// fuzz_engine_install): they are refused with where and what, before parsing.
TEST(TomlEditTest, CodePointsTomlPlusPlusMishandlesAreRefused) {
  auto r = TomlDoc::Parse("[a]\nU\xce\xa3 = 1\n", "c.toml");  // U+03A3 after a bare key
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("c.toml:2:2: U+03A3"), std::string::npos) << r.status().ToString();
  EXPECT_FALSE(TomlDoc::Parse("# \xe3\x81\x82\n", "c.toml").ok());  // U+3042 in a comment
  EXPECT_TRUE(TomlDoc::Parse("# \xe3\x80\x80 \xe2\x80\x83 \xf0\x9f\x98\x80\n", "c.toml").ok());
  // parse_key() asserts on what follows "[" (a control character here).
  auto h = TomlDoc::Parse("a = 1\n[\x1a eng]\n", "h.toml");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("h.toml:2:2: malformed TOML"), std::string::npos) << h.status().ToString();
  EXPECT_FALSE(TomlDoc::Parse("[[ =x]]\n", "h.toml").ok());
  EXPECT_FALSE(TomlDoc::Parse("a = 1\n[\n", "h.toml").ok());
  EXPECT_FALSE(TomlDoc::Parse("\t\xef\xbb\xbf[=\n", "h.toml").ok());  // toml++ skips U+FEFF as blank
  EXPECT_TRUE(TomlDoc::Parse("\xef\xbb\xbf[a]\nb = 1\n", "h.toml").ok());  // a leading BOM
  EXPECT_FALSE(TomlDoc::Parse("a = 1\n[", "h.toml").ok());  // toml++'s own error
  EXPECT_TRUE(TomlDoc::Parse("s = \"\"\"\n[=]\n\"\"\"\n[ 'q' ]\n", "h.toml").ok());  // in a string
  EXPECT_TRUE(TomlDoc::Parse("a = \"\xe2\x82\xac \xf0\x9f\x98\x80\"\n", "c.toml").ok());  // euro, emoji
}

TEST(TomlEditTest, DottedKeyDefinitionsAreNotRewritten) {
  bool c = false;
  auto r = SetKey("engine.runtime = \"crun\"\n", "t.toml", {"engine"}, "runtime", "\"x\"", &c);
  EXPECT_FALSE(r.ok());
}

TEST(TomlEditTest, InlineTableConflictIsRefused) {
  bool c = false;
  auto r = SetKey("[engine]\nruntimes = { runc = [\"/r\"] }\n", "t.toml", {"engine", "runtimes"},
                  "ctrsnap", "[\"/x\"]", &c);
  EXPECT_FALSE(r.ok());
}

TEST(TomlEditTest, RemoveRefusesToOrphanForeignKeys) {
  std::string out = Set("", {"t"}, "k", "1");
  out += "foreign = 2\n";
  bool c = false;
  auto r = RemoveCtrsnapLines(out, "t.toml", &c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("t.toml:3"), std::string::npos) << r.status().ToString();
}

TEST(TomlEditTest, ScalarEntriesInDocumentOrder) {
  auto doc = TomlDoc::Parse("[o]\nz = 1\nSystemdCgroup = true\nRoot = \"/r\"\n[o.sub]\nx=1\n", "t");
  ASSERT_TRUE(doc.ok());
  auto e = ScalarEntries(*doc, {"o"});
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0], (std::pair<std::string, std::string>{"z", "1"}));
  EXPECT_EQ(e[1], (std::pair<std::string, std::string>{"SystemdCgroup", "true"}));
  EXPECT_EQ(e[2], (std::pair<std::string, std::string>{"Root", "'/r'"}));
}

}  // namespace
}  // namespace ctrsnap::install
