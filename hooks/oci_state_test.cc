#include "hooks/oci_state.h"

#include <gtest/gtest.h>

namespace ctrsnap::hooks {
namespace {

TEST(OciState, Parses) {
  auto s = ParseOciState(
      R"({"ociVersion":"1.0.2","id":"c1","status":"stopped","pid":0,"bundle":"/b","annotations":{}})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->id, "c1");
  EXPECT_EQ(s->status, "stopped");
  EXPECT_EQ(s->bundle, "/b");
}

TEST(OciState, EmptyIsFineGarbageIsNot) {
  EXPECT_TRUE(ParseOciState("").ok());
  EXPECT_TRUE(ParseOciState("  \n").ok());
  EXPECT_FALSE(ParseOciState("{").ok());
  EXPECT_FALSE(ParseOciState("[]").ok());
  auto odd = ParseOciState(R"({"id":5,"pid":"x"})");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->id, "");
  EXPECT_EQ(odd->pid, 0);
}

}  // namespace
}  // namespace ctrsnap::hooks
