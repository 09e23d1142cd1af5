#include "shim/retention.h"

#include <gtest/gtest.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "common/file_util.h"
#include "common/state_layout.h"
#include "shim/container_meta.h"

namespace ctrsnap::shim {
namespace {

StateEntry E(const std::string& id, int64_t exited, uint64_t bytes, bool running = false,
             bool exited_flag = true) {
  StateEntry e;
  e.id = id;
  e.dir = "/nonexistent/" + id;
  e.exited = exited_flag;
  e.running = running;
  e.exited_unix_ns = exited;
  e.bytes = bytes;
  return e;
}

std::vector<std::string> Ids(const std::vector<StateEntry>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.id);
  return out;
}

TEST(PlanPrune, KeepsNewestByCountOldestFirst) {
  std::vector<StateEntry> all = {E("a", 1, 10), E("b", 2, 10), E("c", 3, 10), E("d", 4, 10)};
  EXPECT_EQ(Ids(PlanPrune(all, {2, 1000})), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(PlanPrune(all, {10, 1000}).empty());
  EXPECT_EQ(Ids(PlanPrune(all, {0, 1000})), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(PlanPrune, ByteBudgetPrunesOldestFirst) {
  std::vector<StateEntry> all = {E("a", 1, 100), E("b", 2, 100), E("c", 3, 100)};
  EXPECT_EQ(Ids(PlanPrune(all, {10, 150})), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Ids(PlanPrune(all, {10, 250})), (std::vector<std::string>{"a"}));
}

TEST(PlanPrune, NeverRunningUnexitedOrEngineHeld) {
  StateEntry held = E("held", 1, 100);
  held.engine_holds = true;
  std::vector<StateEntry> all = {E("run", 0, 1000, /*running=*/true),
                                 E("noexit", 0, 1000, false, /*exited=*/false), held,
                                 E("old", 2, 10)};
  EXPECT_EQ(Ids(PlanPrune(all, {0, 0})), (std::vector<std::string>{"old"}));
}

TEST(Retention, ListAndPruneRespectLocks) {
  char tmpl[] = "/tmp/ctrsnap-ret-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  for (const char* id : {"x1", "x2"}) {
    std::string dir = root + "/" + id;
    ASSERT_TRUE(MakeDirs(dir + "/gen/1/upper").ok());
    ContainerMeta m;
    m.id = id;
    ASSERT_TRUE(m.Save(dir).ok());
    ExitRecord r;
    r.exited_unix_ns = id[1] - '0';
    ASSERT_TRUE(r.Save(dir).ok());
    ASSERT_TRUE(WriteFileAtomic(dir + "/gen/1/upper/f", std::string(10000, 'x')).ok());
  }
  ASSERT_TRUE(MakeDirs(root + "/not-a-state").ok());
  // x2 is "running": its lock is held.
  int lock = open(layout::LockPath(root + "/x2").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(flock(lock, LOCK_EX), 0);
  auto list = ListStates(root);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(Ids(*list), (std::vector<std::string>{"x1", "x2"}));
  EXPECT_FALSE((*list)[0].running);
  EXPECT_TRUE((*list)[1].running);
  EXPECT_GE((*list)[0].bytes, 10000u);
  auto plan = PlanPrune(*list, {0, 0});
  ASSERT_EQ(Ids(plan), (std::vector<std::string>{"x1"}));
  ASSERT_TRUE(PruneState(plan[0]).ok());
  EXPECT_NE(access((root + "/x1").c_str(), F_OK), 0);
  EXPECT_FALSE(PruneState((*list)[1]).ok());  // locked
  EXPECT_EQ(access((root + "/x2").c_str(), F_OK), 0);
  close(lock);
  ASSERT_TRUE(RemoveTree(root).ok());
}

}  // namespace
}  // namespace ctrsnap::shim
