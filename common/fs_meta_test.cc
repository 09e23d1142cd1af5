#include "common/fs_meta.h"

#include <gtest/gtest.h>

namespace ctrsnap {
namespace {

FsMeta TwoGenerations() {
  FsMeta m;
  m.lowerdirs = {"/lower"};
  m.generations.push_back({1, "setup", true, 10, 20, ""});
  m.generations.push_back({2, "", false, 20, 0, ""});
  return m;
}

TEST(FsMetaTest, RoundTripsThroughJson) {
  FsMeta m = TwoGenerations();
  m.generations[0].exported_in = "sha256:abc";
  auto back = FsMeta::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->lowerdirs, m.lowerdirs);
  ASSERT_EQ(back->generations.size(), 2u);
  EXPECT_EQ(back->generations[0].label, "setup");
  EXPECT_EQ(back->generations[0].exported_in, "sha256:abc");
  EXPECT_EQ(back->live().id, 2u);
  EXPECT_TRUE(back->UnexportedSealed().empty());
}

TEST(FsMetaTest, RejectsBrokenInvariants) {
  FsMeta m = TwoGenerations();
  m.generations[1].sealed = true;  // no live generation
  EXPECT_EQ(FsMeta::FromJson(m.ToJson()).status().code(), Code::kCorrupt);
  m = TwoGenerations();
  m.generations[1].id = 5;
  EXPECT_EQ(FsMeta::FromJson(m.ToJson()).status().code(), Code::kCorrupt);
  EXPECT_EQ(FsMeta::FromJson("{not json").status().code(), Code::kCorrupt);
  EXPECT_EQ(FsMeta::FromJson(R"({"version":1})").status().code(), Code::kCorrupt);
}

}  // namespace
}  // namespace ctrsnap
