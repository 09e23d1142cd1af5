#include "fusefs/core/node_table.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace ctrsnap::fs {
namespace {

struct stat St(ino_t ino, mode_t type = S_IFREG) {
  struct stat st = {};
  st.st_ino = ino;
  st.st_dev = 1;
  st.st_mode = type | 0644;
  return st;
}

UniqueFd AnyFd() { return UniqueFd(::open("/", O_PATH | O_CLOEXEC)); }

TEST(NodeTable, SameFileSameNode) {
  NodeTable t(AnyFd(), 1, St(2, S_IFDIR));
  UniqueFd a = AnyFd(), b = AnyFd();
  Node* n1 = t.Attach(t.root(), "a", 1, St(10), a);
  Node* n2 = t.Attach(t.root(), "b", 1, St(10), b);  // hard link
  EXPECT_EQ(n1, n2);
  EXPECT_EQ(n1->nlookup, 2u);
  EXPECT_EQ(n1->stable_ino, 10u);
  EXPECT_EQ(t.Path(n1), "/a");
}

TEST(NodeTable, NodeSurvivesSealWithSameInode) {
  NodeTable t(AnyFd(), 1, St(2, S_IFDIR));
  UniqueFd a = AnyFd();
  Node* n1 = t.Attach(t.root(), "a", 1, St(10), a);
  // Epoch 2: the overlay reports another st_ino for the same path.
  UniqueFd a2 = AnyFd();
  Node* n2 = t.Attach(t.root(), "a", 2, St(99), a2);
  EXPECT_EQ(n1, n2);
  EXPECT_EQ(n2->stable_ino, 10u);
  EXPECT_TRUE(a2.valid());  // the caller installs the fd
}

TEST(NodeTable, ForgetFreesAndRenameMoves) {
  NodeTable t(AnyFd(), 1, St(2, S_IFDIR));
  UniqueFd d = AnyFd(), f = AnyFd();
  Node* dir = t.Attach(t.root(), "d", 1, St(5, S_IFDIR), d);
  Node* file = t.Attach(dir, "f", 1, St(6), f);
  EXPECT_EQ(t.Path(file), "/d/f");
  t.Renamed(dir, "f", t.root(), "g");
  EXPECT_EQ(t.Path(file), "/g");
  EXPECT_EQ(t.size(), 3u);
  t.Forget(dir, 1);
  EXPECT_EQ(t.size(), 2u);
  t.Unlinked(t.root(), "g");
  EXPECT_EQ(t.Path(file), "?");
  t.Forget(file, 1);
  EXPECT_EQ(t.size(), 1u);
}

TEST(NodeTable, ChildKeepsParentAlive) {
  NodeTable t(AnyFd(), 1, St(2, S_IFDIR));
  UniqueFd d = AnyFd(), f = AnyFd();
  Node* dir = t.Attach(t.root(), "d", 1, St(5, S_IFDIR), d);
  Node* file = t.Attach(dir, "f", 1, St(6), f);
  t.Forget(dir, 1);  // kernel forgot the dir, the file still names it
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.Path(file), "/d/f");
  t.Forget(file, 1);
  EXPECT_EQ(t.size(), 1u);
}

TEST(NodeTable, Exchange) {
  NodeTable t(AnyFd(), 1, St(2, S_IFDIR));
  UniqueFd a = AnyFd(), b = AnyFd();
  Node* na = t.Attach(t.root(), "a", 1, St(10), a);
  Node* nb = t.Attach(t.root(), "b", 1, St(11), b);
  t.Exchanged(t.root(), "a", t.root(), "b");
  EXPECT_EQ(t.Path(na), "/b");
  EXPECT_EQ(t.Path(nb), "/a");
}

TEST(NodeTable, FurtherNameOfHardLinkIsForgottenWithTheNode) {
  NodeTable t(AnyFd(), 1, St(2, S_IFDIR));
  UniqueFd a = AnyFd(), b = AnyFd();
  Node* n = t.Attach(t.root(), "a", 1, St(10), a);
  EXPECT_EQ(t.Attach(t.root(), "b", 1, St(10), b), n);
  Node* via_b = t.FindChild(t.root(), "b");
  EXPECT_EQ(via_b, n);
  t.Unref(via_b);
  t.Renamed(t.root(), "b", t.root(), "c");  // the further name moves
  EXPECT_EQ(t.FindChild(t.root(), "b"), nullptr);
  Node* via_c = t.FindChild(t.root(), "c");
  EXPECT_EQ(via_c, n);
  t.Unref(via_c);
  EXPECT_EQ(t.Path(n), "/a");
  t.Forget(n, 2);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.FindChild(t.root(), "c"), nullptr);  // no entry leads to a freed node
}

TEST(NodeTable, NameTakenByAnotherNodeDetachesTheOldOne) {
  NodeTable t(AnyFd(), 1, St(2, S_IFDIR));
  UniqueFd a = AnyFd(), b = AnyFd(), a2 = AnyFd();
  Node* old_a = t.Attach(t.root(), "a", 1, St(10), a);
  Node* nb = t.Attach(t.root(), "b", 1, St(11), b);
  // "a" now names b's file (say, a hard link made after a rename over it).
  EXPECT_EQ(t.Attach(t.root(), "a", 1, St(11), a2), nb);
  EXPECT_EQ(t.Path(old_a), "?");
  Node* via_a = t.FindChild(t.root(), "a");
  EXPECT_EQ(via_a, nb);
  t.Unref(via_a);
  t.Unlinked(t.root(), "a");
  EXPECT_EQ(t.FindChild(t.root(), "a"), nullptr);
  EXPECT_EQ(t.Path(nb), "/b");
}

TEST(NodeTable, NodeIsSmall) {
  // RSS per cached inode (issue: under 300 bytes, map entries included).
  EXPECT_LE(sizeof(Node), 120u);
}

}  // namespace

TEST(NodeTable, HardLinkKeepsAPathWhenItsFirstNameGoes) {
  NodeTable t(AnyFd(), 1, St(2, S_IFDIR));
  UniqueFd a = AnyFd(), b = AnyFd(), c = AnyFd();
  Node* n = t.Attach(t.root(), "a", 1, St(10), a);
  t.Attach(t.root(), "b", 1, St(10), b);
  t.Attach(t.root(), "c", 1, St(10), c);
  t.Unlinked(t.root(), "a");
  std::string name;
  bool detached = true;
  Node* p = t.ParentLink(n, &name, &detached);
  ASSERT_EQ(p, t.root());
  t.Unref(p);
  EXPECT_FALSE(detached);
  EXPECT_TRUE(name == "b" || name == "c") << name;
  // Renamed over its last remaining names, one by one: still reachable until
  // the last goes.
  UniqueFd x = AnyFd();
  t.Attach(t.root(), "x", 1, St(20), x);
  t.Renamed(t.root(), "x", t.root(), name);
  EXPECT_NE(t.Path(n), "/" + name);
  EXPECT_FALSE(t.Path(n).starts_with("?")) << t.Path(n);
  t.Unlinked(t.root(), t.Path(n).substr(1));
  EXPECT_TRUE(t.Path(n).starts_with("?")) << t.Path(n);
}


TEST(NodeTable, NodeKeyedInAnOldEpochThenNameOnlyIsFreedCleanly) {
  // A file hard-linked in generation 1 is a lower hard link in epoch 2
  // (name-only there). Freeing the node must leave no pointer to it behind
  // (the destructor freed it a second time).
  auto t = std::make_unique<NodeTable>(AnyFd(), 1, St(2, S_IFDIR));
  UniqueFd a = AnyFd(), a2 = AnyFd();
  Node* n = t->Attach(t->root(), "a", 1, St(10), a);
  Node* m = t->Attach(t->root(), "a", 2, St(10), a2, /*name_only=*/true);
  ASSERT_EQ(n, m);
  t->Forget(n, 2);
  EXPECT_EQ(t->size(), 1u);
  t.reset();  // ASan: no double free
}


TEST(NodeTable, IdleNamesSkipNodesWithHandlesOrChildren) {
  NodeTable t(AnyFd(), 1, St(2, S_IFDIR));
  UniqueFd d = AnyFd(), a = AnyFd(), b = AnyFd(), c = AnyFd();
  Node* dir = t.Attach(t.root(), "d", 1, St(20, S_IFDIR), d);
  t.Attach(dir, "a", 1, St(21), a);               // idle
  Node* open = t.Attach(t.root(), "b", 1, St(22), b);
  t.Ref(open);                                    // an open handle
  t.Attach(t.root(), "c", 1, St(23), c);          // idle
  auto names = t.IdleNames(10);
  std::vector<std::string> got;
  for (auto& [parent, name] : names) {
    got.push_back(t.Path(parent) + (t.Path(parent) == "/" ? "" : "/") + name);
    t.Unref(parent);
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"/c", "/d/a"}));  // not /d (its child), not /b
  auto one = t.IdleNames(1);
  ASSERT_EQ(one.size(), 1u);
  t.Unref(one[0].first);
  t.Unref(open);
}

}  // namespace ctrsnap::fs
