#include "common/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace ctrsnap {
namespace {

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.err(), 0);
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, FromErrnoCarriesOperationPathAndErrno) {
  Status s = Status::FromErrno(EEXIST, "rename", "upper/4");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_EQ(s.err(), EEXIST);
  EXPECT_EQ(s.ToString(), "rename upper/4: File exists");
}

TEST(StatusTest, ContextIsPrefixedOutsideIn) {
  Status s = Status::FromErrno(ENOSPC, "write", "gen/2/upper/a")
                 .WithContext("copy-up a")
                 .WithContext("seal gen 4");
  EXPECT_EQ(s.ToString(), "seal gen 4: copy-up a: write gen/2/upper/a: No space left on device");
  EXPECT_EQ(s.err(), ENOSPC);
  EXPECT_TRUE(Status().WithContext("x").ok());
}

TEST(StatusTest, CodesWithoutErrnoMapToAnErrnoForFuse) {
  EXPECT_EQ(Status::Corrupt("bad journal").err(), EIO);
  EXPECT_EQ(Status::Unsupported("no").err(), EOPNOTSUPP);
  EXPECT_EQ(Status::NotFound("x").err(), ENOENT);
}

Result<int> Half(int v) {
  if (v % 2 != 0) return Status::InvalidArgument("odd: " + std::to_string(v));
  return v / 2;
}

Result<int> Quarter(int v) {
  ASSIGN_OR_RETURN(int h, Half(v));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(ResultTest, ValueAndErrorPropagate) {
  auto ok = Quarter(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().ToString(), "odd: 3");
  EXPECT_EQ(bad.value_or(-1), -1);
}

Status Check(bool fail) {
  RETURN_IF_ERROR(fail ? Status::Internal("boom") : Status::Ok());
  return Status::Ok();
}

TEST(ResultTest, ReturnIfError) {
  EXPECT_TRUE(Check(false).ok());
  EXPECT_EQ(Check(true).ToString(), "boom");
}

}  // namespace
}  // namespace ctrsnap
