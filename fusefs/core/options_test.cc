#include "fusefs/core/options.h"

#include <gtest/gtest.h>

namespace ctrsnap::fs {
namespace {

TEST(Options, FuseOverlayfsSyntax) {
  auto r = ParseCommandLine({"-f", "-o", "lowerdir=/a:/b,upperdir=/u,workdir=/w,allow_other",
                             "/mnt"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->foreground);
  EXPECT_EQ(r->lowerdirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(r->upperdir, "/u");
  EXPECT_EQ(r->workdir, "/w");
  EXPECT_EQ(r->mountpoint, "/mnt");
  EXPECT_FALSE(r->generations());
  EXPECT_EQ(r->fuse_options, (std::vector<std::string>{"allow_other"}));
}

TEST(Options, StateMode) {
  auto r = ParseCommandLine({"-olowerdir=/l,state=/s", "/m"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->generations());
  EXPECT_EQ(r->state, "/s");
  EXPECT_FALSE(r->foreground);
}

TEST(Options, WritebackCache) {
  auto r = ParseCommandLine({"-o", "lowerdir=/l,state=/s", "/m"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->writeback_cache);
  r = ParseCommandLine({"-o", "lowerdir=/l,state=/s,writeback_cache=off", "/m"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->writeback_cache);
  r = ParseCommandLine({"-o", "lowerdir=/l,state=/s,writeback_cache=0", "/m"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("writeback_cache"), std::string::npos);
}

TEST(Options, MountHelperSourceArgument) {
  auto r = ParseCommandLine({"overlay", "/m", "-o", "lowerdir=/l,state=/s"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->mountpoint, "/m");
}

TEST(Options, EscapedColonAndComma) {
  EXPECT_EQ(SplitLowerdirs("/a\\:b:/c"), (std::vector<std::string>{"/a:b", "/c"}));
  auto r = ParseCommandLine({"-o", "lowerdir=/x\\,y,state=/s", "/m"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->lowerdirs, (std::vector<std::string>{"/x,y"}));
}

TEST(Options, DebugImpliesForeground) {
  auto r = ParseCommandLine({"-d", "-o", "lowerdir=/l,state=/s", "/m"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->debug);
  EXPECT_TRUE(r->foreground);
}

TEST(Options, IgnoresFuseOverlayfsOnlyOptions) {
  auto r = ParseCommandLine({"-o", "lowerdir=/l,upperdir=/u,workdir=/w,fast_ino,uidmapping=0:1:1",
                             "/m"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ignored_options.size(), 2u);
}

TEST(Options, Errors) {
  EXPECT_FALSE(ParseCommandLine({"-o", "lowerdir=/l,state=/s"}).ok());              // no mountpoint
  EXPECT_TRUE(ParseCommandLine({"-o", "state=/s", "/m"}).ok());  // resume: lower from fs.json
  EXPECT_FALSE(ParseCommandLine({"-o", "upperdir=/u,workdir=/w", "/m"}).ok());      // no lower
  EXPECT_FALSE(ParseCommandLine({"-o", "lowerdir=/l", "/m"}).ok());                 // no upper
  EXPECT_FALSE(ParseCommandLine({"-o", "lowerdir=/l,upperdir=/u", "/m"}).ok());     // no work
  EXPECT_FALSE(ParseCommandLine({"-o", "lowerdir=/l,upperdir=/u,workdir=/w,state=/s", "/m"}).ok());
  EXPECT_FALSE(ParseCommandLine({"-o", "lowerdir=rel,state=/s", "/m"}).ok());
  EXPECT_FALSE(ParseCommandLine({"-o", "lowerdir=/l,state=/s,bogus", "/m"}).ok());
  EXPECT_FALSE(ParseCommandLine({"-x", "-o", "lowerdir=/l,state=/s", "/m"}).ok());
  EXPECT_FALSE(ParseCommandLine({"-o"}).ok());
  EXPECT_FALSE(ParseCommandLine({"-o", "lowerdir=,state=/s", "/m"}).ok());
  EXPECT_FALSE(ParseCommandLine({"a", "b", "c", "-o", "lowerdir=/l,state=/s"}).ok());
  auto r = ParseCommandLine({"-o", "lowerdir=/l,state=/s,bogus", "/m"});
  EXPECT_NE(r.status().message().find("bogus"), std::string::npos);
}

TEST(Options, HelpNeedsNothingElse) {
  auto r = ParseCommandLine({"--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->help);
}

}  // namespace
}  // namespace ctrsnap::fs
