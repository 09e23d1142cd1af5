#include "shim/runc_args.h"

#include <gtest/gtest.h>

namespace ctrsnap::shim {
namespace {

RuncArgs Parse(std::vector<std::string> argv) {
  auto r = ParseRuncArgs(argv);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : RuncArgs{};
}

TEST(RuncArgs, EveryValueGlobalInBothForms) {
  struct Case {
    const char* flag;
    std::string RuncGlobals::*field;
  };
  const Case cases[] = {{"root", &RuncGlobals::root},           {"log", &RuncGlobals::log},
                        {"log-format", &RuncGlobals::log_format}, {"log-level", &RuncGlobals::log_level},
                        {"criu", &RuncGlobals::criu},           {"rootless", &RuncGlobals::rootless},
                        {"cgroup-manager", &RuncGlobals::cgroup_manager}};
  for (const Case& c : cases) {
    for (const char* dashes : {"--", "-"}) {
      std::string flag = std::string(dashes) + c.flag;
      RuncArgs spaced = Parse({flag, "VALUE", "state", "id1"});
      EXPECT_EQ(spaced.globals.*c.field, "VALUE") << flag;
      EXPECT_EQ(spaced.command, "state") << flag;
      EXPECT_EQ(spaced.command_index, 2u);
      RuncArgs joined = Parse({flag + "=V2", "state", "id1"});
      EXPECT_EQ(joined.globals.*c.field, "V2") << flag;
      EXPECT_EQ(joined.command, "state");
      EXPECT_EQ(joined.command_index, 1u);
    }
  }
}

TEST(RuncArgs, BoolGlobals) {
  RuncArgs a = Parse({"--debug", "--systemd-cgroup", "kill", "x", "KILL"});
  EXPECT_TRUE(a.globals.debug);
  EXPECT_TRUE(a.globals.systemd_cgroup);
  EXPECT_EQ(a.command, "kill");
  RuncArgs b = Parse({"--debug=false", "--systemd-cgroup=true", "ps", "x"});
  EXPECT_FALSE(b.globals.debug);
  EXPECT_TRUE(b.globals.systemd_cgroup);
  // A bool flag does not swallow the next word.
  RuncArgs c = Parse({"--debug", "start", "x"});
  EXPECT_EQ(c.command, "start");
  EXPECT_EQ(c.id, "x");
}

TEST(RuncArgs, DockerShape) {
  // What containerd's go-runc runs for Docker.
  RuncArgs a = Parse({"--root", "/run/containerd/runc/moby", "--log",
                      "/run/containerd/io.containerd.runtime.v2.task/moby/abc/log.json",
                      "--log-format", "json", "create", "--bundle",
                      "/run/containerd/io.containerd.runtime.v2.task/moby/abc", "--pid-file",
                      "/run/x/init.pid", "abc"});
  EXPECT_EQ(a.globals.root, "/run/containerd/runc/moby");
  EXPECT_EQ(a.globals.log_format, "json");
  EXPECT_EQ(a.command, "create");
  EXPECT_EQ(a.bundle, "/run/containerd/io.containerd.runtime.v2.task/moby/abc");
  EXPECT_EQ(a.id, "abc");
  EXPECT_EQ(a.GlobalArgs().size(), 6u);
  EXPECT_EQ(a.argv.size(), 12u);
  // The wrapper's own `state` query writes nothing into the engine's log.
  EXPECT_EQ(a.QueryGlobalArgs(), (std::vector<std::string>{"--root", "/run/containerd/runc/moby"}));
  RuncArgs b = Parse({"--debug", "--log=/l.json", "--root=/r", "--systemd-cgroup", "--log-level",
                      "warn", "delete", "x"});
  EXPECT_EQ(b.QueryGlobalArgs(), (std::vector<std::string>{"--root=/r", "--systemd-cgroup"}));
}

TEST(RuncArgs, CreateAndRunFlags) {
  RuncArgs a = Parse({"create", "-b", "/b", "--console-socket", "/s", "--pid-file=/p",
                      "--no-pivot", "--no-new-keyring", "--preserve-fds", "2", "id9"});
  EXPECT_EQ(a.bundle, "/b");
  EXPECT_EQ(a.id, "id9");
  RuncArgs b = Parse({"run", "--bundle=/b2", "-d", "--keep", "id8"});
  EXPECT_EQ(b.bundle, "/b2");
  EXPECT_TRUE(b.detach);
  EXPECT_TRUE(b.keep);
  EXPECT_EQ(b.id, "id8");
  RuncArgs c = Parse({"run", "--detach", "id7"});
  EXPECT_TRUE(c.detach);
  EXPECT_FALSE(c.keep);
  EXPECT_EQ(c.bundle, ".");
  RuncArgs d = Parse({"create", "id6"});
  EXPECT_EQ(d.bundle, ".");
  EXPECT_EQ(d.id, "id6");
}

TEST(RuncArgs, DeleteForce) {
  EXPECT_TRUE(Parse({"delete", "--force", "x"}).force);
  EXPECT_TRUE(Parse({"delete", "-f", "x"}).force);
  RuncArgs plain = Parse({"delete", "x"});
  EXPECT_FALSE(plain.force);
  EXPECT_EQ(plain.id, "x");
}

TEST(RuncArgs, EverySubcommandIsFoundAndKeptVerbatim) {
  const std::vector<std::string> commands = {
      "checkpoint", "create", "delete", "events", "exec",   "features", "kill",  "list",
      "ps",         "pause",  "restore", "resume", "run",   "spec",     "start", "state",
      "update"};
  for (const auto& cmd : commands) {
    std::vector<std::string> argv = {"--root", "/r", "--log-format=json", cmd, "--some", "id"};
    RuncArgs a = Parse(argv);
    EXPECT_EQ(a.command, cmd);
    EXPECT_EQ(a.argv, argv) << "argv must reach the runtime unchanged";
    EXPECT_TRUE(IsKnownRuncCommand(cmd)) << cmd;
  }
}

TEST(RuncArgs, VersionAndHelp) {
  RuncArgs v = Parse({"--version"});
  EXPECT_TRUE(v.globals.version);
  EXPECT_FALSE(v.command_index.has_value());
  EXPECT_TRUE(Parse({"-v"}).globals.version);
  EXPECT_TRUE(Parse({"-h"}).globals.help);
  EXPECT_TRUE(Parse({"create", "--help"}).command_help);
}

TEST(RuncArgs, ExecArgsAreNotMistakenForOurs) {
  RuncArgs a = Parse({"exec", "-t", "--detach", "id", "sh", "-c", "echo"});
  EXPECT_EQ(a.command, "exec");
  EXPECT_FALSE(a.detach);  // only run's --detach matters to us
}

TEST(RuncArgs, MissingValueIsAnError) {
  EXPECT_FALSE(ParseRuncArgs({"--root"}).ok());
  EXPECT_FALSE(ParseRuncArgs({"create", "--bundle"}).ok());
}

TEST(RuncArgs, UnknownGlobalsPassThrough) {
  RuncArgs a = Parse({"--future-flag", "--other=1", "state", "x"});
  EXPECT_EQ(a.command, "state");
  EXPECT_EQ(a.GlobalArgs(), (std::vector<std::string>{"--future-flag", "--other=1"}));
}

TEST(RuncArgs, DoubleDashId) {
  RuncArgs a = Parse({"delete", "--", "-weird"});
  EXPECT_EQ(a.id, "-weird");
}

}  // namespace
}  // namespace ctrsnap::shim
