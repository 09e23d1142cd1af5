#include "hooks/ctrsnap_hooks.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "common/file_util.h"
#include "shim/container_meta.h"

namespace ctrsnap::hooks {
namespace {

TEST(Poststop, RecordsExitWithoutDaemon) {
  char tmpl[] = "/tmp/ctrsnap-hook-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  OciState st;
  st.status = "stopped";
  ASSERT_TRUE(RunPoststop(dir, st).ok());
  auto exit = shim::ExitRecord::Load(dir);
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->status, "stopped");
  EXPECT_EQ(exit->by, "poststop");
  EXPECT_GT(exit->exited_unix_ns, 0);
  // No daemon to seal through: an error, not a crash or a hang.
  EXPECT_FALSE(RunSealSetup(dir).ok());
  ASSERT_TRUE(RemoveTree(dir).ok());
}

}  // namespace
}  // namespace ctrsnap::hooks
