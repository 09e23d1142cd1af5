#include "shim/spec.h"

#include <gtest/gtest.h>

#include "shim/spec_editor.h"

namespace ctrsnap::shim {
namespace {

using nlohmann::json;

json Sample() {
  return json::parse(R"({
    "ociVersion": "1.0.2",
    "process": {"args": ["sh"], "env": ["PATH=/bin", "A=1"], "x-unknown": {"keep": [1,2]}},
    "root": {"path": "rootfs", "readonly": false},
    "hooks": {"prestart": [{"path": "/usr/bin/other", "args": ["other", "prestart"]}]},
    "annotations": {"io.example": "v"},
    "vendorExtension": {"deep": {"x": true}}
  })");
}

SpecContext Ctx(const std::string& command = "create") {
  SpecContext ctx;
  ctx.id = "c1";
  ctx.bundle = "/b";
  ctx.state_dir = "/var/lib/ctrsnap/c1";
  ctx.command = command;
  ctx.hook_binary = "/usr/local/bin/ctrsnap-hook";
  return ctx;
}

TEST(Spec, RootPathRelativeAndAbsolute) {
  json s = Sample();
  EXPECT_EQ(*RootPath(s, "/bundle"), "/bundle/rootfs");
  s["root"]["path"] = "/abs/merged";
  EXPECT_EQ(*RootPath(s, "/bundle"), "/abs/merged");
  s.erase("root");
  EXPECT_FALSE(RootPath(s, "/bundle").ok());
  s["root"] = 5;  // hostile shape: an error, not an exception
  EXPECT_FALSE(RootPath(s, "/bundle").ok());
}

TEST(Spec, ParseRejectsGarbage) {
  EXPECT_FALSE(ParseSpec("{", "x").ok());
  EXPECT_FALSE(ParseSpec("[1]", "x").ok());
  EXPECT_TRUE(ParseSpec("{}", "x").ok());
}

TEST(Spec, EditorsKeepUnknownFieldsAndAddHooksOnce) {
  json s = Sample();
  json before = s;
  auto editors = DefaultSpecEditors();
  ASSERT_TRUE(ApplySpecEditors(editors, s, Ctx()).ok());
  ASSERT_TRUE(ApplySpecEditors(editors, s, Ctx()).ok());
  EXPECT_EQ(s["vendorExtension"], before["vendorExtension"]);
  EXPECT_EQ(s["process"], before["process"]);
  EXPECT_EQ(s["annotations"], before["annotations"]);
  EXPECT_EQ(s["root"], before["root"]);
  EXPECT_EQ(s["hooks"]["prestart"], before["hooks"]["prestart"]);
  EXPECT_EQ(CountHooks(s, "poststop", "ctrsnap-hook"), 1u);
  EXPECT_EQ(CountHooks(s, "createRuntime", "ctrsnap-hook"), 0u);
  const json& h = s["hooks"]["poststop"][0];
  EXPECT_EQ(h["path"], "/usr/local/bin/ctrsnap-hook");
  EXPECT_EQ(h["args"], json({"ctrsnap-hook", "poststop", "--state", "/var/lib/ctrsnap/c1"}));
}

TEST(Spec, MovedHookBinaryReplacesOldEntry) {
  json s = Sample();
  auto editors = DefaultSpecEditors();
  ASSERT_TRUE(ApplySpecEditors(editors, s, Ctx()).ok());
  SpecContext moved = Ctx();
  moved.hook_binary = "/opt/ctrsnap/bin/ctrsnap-hook";
  ASSERT_TRUE(ApplySpecEditors(editors, s, moved).ok());
  ASSERT_EQ(CountHooks(s, "poststop", "ctrsnap-hook"), 1u);
  EXPECT_EQ(s["hooks"]["poststop"][0]["path"], "/opt/ctrsnap/bin/ctrsnap-hook");
}

TEST(Spec, RunAddsSetupSealHookAndCreateRemovesIt) {
  json s = Sample();
  auto editors = DefaultSpecEditors();
  ASSERT_TRUE(ApplySpecEditors(editors, s, Ctx("run")).ok());
  EXPECT_EQ(CountHooks(s, "createRuntime", "ctrsnap-hook"), 1u);
  ASSERT_TRUE(ApplySpecEditors(editors, s, Ctx("create")).ok());
  EXPECT_EQ(CountHooks(s, "createRuntime", "ctrsnap-hook"), 0u);
  EXPECT_EQ(CountHooks(s, "poststop", "ctrsnap-hook"), 1u);
}

TEST(Spec, ReadonlyRootStaysReadonly) {
  json s = Sample();
  s["root"]["readonly"] = true;
  EXPECT_TRUE(RootReadonly(s));
  ASSERT_TRUE(ApplySpecEditors(DefaultSpecEditors(), s, Ctx()).ok());
  EXPECT_TRUE(RootReadonly(s));
  EXPECT_EQ(s["root"]["readonly"], true);
}

TEST(Spec, MalformedHooksAreErrors) {
  json s = Sample();
  s["hooks"] = json::array();
  EXPECT_FALSE(ApplySpecEditors(DefaultSpecEditors(), s, Ctx()).ok());
  s["hooks"] = {{"poststop", "notalist"}};
  EXPECT_FALSE(ApplySpecEditors(DefaultSpecEditors(), s, Ctx()).ok());
}

TEST(Spec, OptOut) {
  json s = Sample();
  EXPECT_FALSE(DisabledBy(s).has_value());
  s["annotations"]["ctrsnap.disable"] = "true";
  EXPECT_TRUE(DisabledBy(s).has_value());
  s["annotations"]["ctrsnap.disable"] = "false";
  EXPECT_FALSE(DisabledBy(s).has_value());
  json e = Sample();
  e["process"]["env"].push_back("CTRSNAP_DISABLE=1");
  EXPECT_TRUE(DisabledBy(e).has_value());
  json d = Sample();
  d["process"]["env"].push_back("ctrsnap.disable=yes");
  EXPECT_TRUE(DisabledBy(d).has_value());
  json z = Sample();
  z["process"]["env"].push_back("CTRSNAP_DISABLE=0");
  EXPECT_FALSE(DisabledBy(z).has_value());
  json bad = Sample();
  bad["process"]["env"] = {1, nullptr, "CTRSNAP_DISABLE=1"};
  EXPECT_TRUE(DisabledBy(bad).has_value());
  bad["annotations"] = "x";
  EXPECT_TRUE(DisabledBy(bad).has_value());
}

TEST(Spec, EnvValueLastWins) {
  json s = Sample();
  s["process"]["env"] = {"A=1", "B=2", "A=3"};
  EXPECT_EQ(EnvValue(s, "A"), "3");
  EXPECT_EQ(EnvValue(s, "B"), "2");
  EXPECT_FALSE(EnvValue(s, "C").has_value());
  EXPECT_EQ(ProcessEnv(s).size(), 3u);
}

}  // namespace
}  // namespace ctrsnap::shim
