// Snapshot integration tests on real kernel overlayfs generations: the image
// ctrsnap writes, unpacked by an independent tool (umoci), must equal the
// overlay's own merged view, minus what is never exported.
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "tests/snapshot/overlay_fixture.h"

namespace ctrsnap::testing {
namespace {

using nlohmann::json;

class SnapshotMountTest : public OverlayStateTest {
 protected:
  // Snapshot to an OCI layout, unpack it with umoci, compare with the view.
  void ExpectImageEqualsView(const std::string& extra_args = "") {
    std::string layout = tmp_ + "/layout-" + std::to_string(++n_);
    auto r = Ctrsnap("snapshot --state " + state_ + " -o " + layout + " --tag t:" +
                     std::to_string(n_) + " --json " + extra_args);
    ASSERT_EQ(r.rc, 0) << r.out;
    last_ = json::parse(r.out.substr(r.out.find('{')));
    std::string bundle = tmp_ + "/bundle-" + std::to_string(n_);
    auto u = Sh("umoci unpack --image " + layout + ":t:" + std::to_string(n_) + " " + bundle);
    ASSERT_EQ(u.rc, 0) << u.out;
    auto s = Sh("skopeo inspect oci:" + layout + ":t:" + std::to_string(n_));
    ASSERT_EQ(s.rc, 0) << s.out;
    MountView();
    auto expected = TreeListing(view_);
    for (const char* p : {"/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/.dockerenv"}) {
      expected.erase(p);
    }
    for (const auto& st : last_["stripped"]) {  // minus what the policy left out
      if (st["action"] == "reported") continue;
      std::string p = st["path"];
      std::erase_if(expected, [&](const auto& kv) {
        return kv.first == p || kv.first.rfind(p + "/", 0) == 0;
      });
    }
    auto got = TreeListing(bundle + "/rootfs");
    EXPECT_EQ(got, expected);
  }

  int n_ = 0;
  json last_;
};

TEST_F(SnapshotMountTest, LayerOfOneGenerationMatchesTheOverlayView) {
  MountLive();
  auto r = Sh("set -e; cd " + mnt_ + "; echo hello > hello; rm bin/cat; mkdir -p data/sub;"
              "echo x > data/sub/x; mv data moved; chmod 600 etc/passwd; chown 1000:1000 hello;"
              "echo linked > h1; ln h1 h2; ln -s /etc/passwd link; mkfifo fifo;"
              "cp bin/busybox capbin; setcap cap_net_raw+ep capbin;"
              "echo 127.0.0.1 me > etc/hosts; touch .dockerenv");
  ASSERT_EQ(r.rc, 0) << r.out;
  Unmount();
  ExpectImageEqualsView();
  EXPECT_EQ(last_["sequence"], 1);
  EXPECT_EQ(last_["files"]["deleted"], 1);  // bin/cat
  bool hosts_excluded = false;
  for (const auto& s : last_["stripped"]) hosts_excluded |= s["path"] == "/etc/hosts";
  EXPECT_TRUE(hosts_excluded);
  // The capability survived as SCHILY.xattr.security.capability.
  auto cap = Sh("getcap " + tmp_ + "/bundle-1/rootfs/capbin");
  EXPECT_NE(cap.out.find("cap_net_raw"), std::string::npos) << cap.out;
}

TEST_F(SnapshotMountTest, SeveralGenerationsMergeIntoOneLayer) {
  // Three generations sealed offline by hand, then one snapshot of all.
  const char* steps[] = {
      "mkdir -p d/keep d/old; echo a > d/old/a; echo 1 > f; echo v1 > d/keep/v",
      "rm -rf d/old; echo 2 > f; mkdir d/new; echo b > d/new/b; mv d/keep d/kept",
      "rm -rf d; mkdir d; echo fresh > d/only; rm f; echo v3 > bin/busybox-note",
  };
  for (const char* step : steps) {
    MountLive();
    auto r = Sh(std::string("set -e; cd ") + mnt_ + "; " + step);
    ASSERT_EQ(r.rc, 0) << r.out;
    Unmount();
    SealByHand();  // what the daemon does; one snapshot of all three at the end
  }
  ExpectImageEqualsView();
  EXPECT_EQ(last_["generations"], json::array({1, 2, 3}));
  EXPECT_EQ(last_["layers"].size(), 2u);  // lower dir base + one layer
}

TEST_F(SnapshotMountTest, CompactionKeepsSnapshotsDiffAndStatusRight) {
  const char* steps[] = {
      "mkdir -p d/keep; echo a > d/a; echo 1 > f; echo t > tmpfile",
      "rm d/a tmpfile; echo 2 > f; mv d/keep d/kept; rm bin/cat",
  };
  for (const char* step : steps) {
    MountLive();
    auto r = Sh(std::string("set -e; cd ") + mnt_ + "; " + step);
    ASSERT_EQ(r.rc, 0) << r.out;
    Unmount();
    SealByHand();
    ExpectImageEqualsView();  // exports the generation
  }
  auto c = Ctrsnap("compact --state " + state_ + " --json");
  ASSERT_EQ(c.rc, 0) << c.out;
  json cj = json::parse(c.out.substr(c.out.find('{')));
  ASSERT_EQ(cj["compacted"].size(), 1u) << c.out;
  EXPECT_EQ(cj["compacted"][0]["from"], 1);
  EXPECT_EQ(cj["compacted"][0]["into"], 2);
  EXPECT_EQ(cj["online"], false);
  EXPECT_EQ(Ctrsnap("compact --state " + state_).out.find("nothing to compact") != std::string::npos, true);
  // After it: the next snapshot still stacks up to the view, diff and status work.
  MountLive();
  auto r = Sh("set -e; cd " + mnt_ + "; echo 3 > g; rm f; echo y > d/kept/y");
  ASSERT_EQ(r.rc, 0) << r.out;
  Unmount();
  SealByHand();
  ExpectImageEqualsView();
  EXPECT_EQ(last_["generations"], json::array({3}));
  auto d1 = Ctrsnap("diff --state " + state_ + " --gen 1");
  EXPECT_NE(d1.rc, 0);
  EXPECT_NE(d1.out.find("compacted into 2"), std::string::npos) << d1.out;
  auto d2 = Ctrsnap("diff --state " + state_ + " --gen 2");
  EXPECT_EQ(d2.rc, 0) << d2.out;
  EXPECT_NE(d2.out.find("/d/kept"), std::string::npos) << d2.out;
  EXPECT_EQ(Ctrsnap("status --state " + state_).rc, 0);
}

TEST_F(SnapshotMountTest, SecondSnapshotAfterOneMegabyteIsAboutOneMegabyte) {
  MountLive();
  auto r = Sh("head -c 30000000 /dev/urandom > " + mnt_ + "/big.bin");
  ASSERT_EQ(r.rc, 0) << r.out;
  Unmount();
  ExpectImageEqualsView();
  int64_t first = last_["layer"]["size"].get<int64_t>();
  EXPECT_GT(first, 30000000);
  MountLive();
  r = Sh("head -c 1000000 /dev/urandom > " + mnt_ + "/small.bin && echo x >> " + mnt_ + "/etc/passwd");
  ASSERT_EQ(r.rc, 0) << r.out;
  Unmount();
  ExpectImageEqualsView();
  int64_t second = last_["layer"]["size"].get<int64_t>();
  EXPECT_GT(second, 1000000);
  EXPECT_LT(second, 1100000) << "the second layer holds only the 1 MB change";
  EXPECT_EQ(last_["layers"].size(), 3u);
  EXPECT_EQ(last_["sequence"], 2);
}

TEST_F(SnapshotMountTest, SameChangeSetGivesSameDiffId) {
  MountLive();
  auto r = Sh("set -e; cd " + mnt_ + "; mkdir -p a/b; for i in $(seq 50); do echo $i > a/b/f$i; done;"
              "rm bin/ls; ln -s x dangling");
  ASSERT_EQ(r.rc, 0) << r.out;
  Unmount();
  auto one = Ctrsnap("snapshot --state " + state_ + " --json --compression none");
  ASSERT_EQ(one.rc, 0) << one.out;
  auto two = Ctrsnap("snapshot --state " + state_ + " --json --squash --compression zstd");
  ASSERT_EQ(two.rc, 0) << two.out;
  auto j1 = json::parse(one.out.substr(one.out.find('{')));
  auto j2 = json::parse(two.out.substr(two.out.find('{')));
  EXPECT_EQ(j1["diff_id"], j2["diff_id"]);
  EXPECT_NE(j1["layer"]["digest"], j2["layer"]["digest"]);  // different compression
  // Nothing new since: a clear failure, exit 1.
  auto none = Ctrsnap("snapshot --state " + state_);
  EXPECT_EQ(none.rc, 1);
  EXPECT_NE(none.out.find("nothing to snapshot"), std::string::npos) << none.out;
  // ls and inspect see them.
  auto ls = Ctrsnap("ls --json");
  EXPECT_EQ(ls.rc, 0) << ls.out;
  auto insp = Ctrsnap("inspect " + j1["manifest_digest"].get<std::string>().substr(7, 12));
  EXPECT_EQ(insp.rc, 1) << "state is outside CTRSNAP_ROOT: " << insp.out;
}

TEST_F(SnapshotMountTest, ContainerIdResolvesUnderRootAndLsShowsIt) {
  auto mv = Sh("mkdir -p " + tmp_ + "/root && mv " + state_ + " " + tmp_ + "/root/c0ffee42");
  ASSERT_EQ(mv.rc, 0);
  state_ = tmp_ + "/root/c0ffee42";
  MountLive();
  ASSERT_EQ(Sh("echo hi > " + mnt_ + "/hi").rc, 0);
  Unmount();
  auto r = Ctrsnap("snapshot c0ff -o " + tmp_ + "/img.tar --tag demo:1");
  ASSERT_EQ(r.rc, 0) << r.out;
  auto ls = Ctrsnap("ls");
  EXPECT_NE(ls.out.find("c0ffee42"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("demo:1"), std::string::npos) << ls.out;
  auto insp = Ctrsnap("inspect c0ffee42:1 --json");
  ASSERT_EQ(insp.rc, 0) << insp.out;
  EXPECT_EQ(json::parse(insp.out)["tag"], "demo:1");
  EXPECT_EQ(Ctrsnap("snapshot nosuch").rc, 1);
  EXPECT_NE(Ctrsnap("snapshot --compression lz4 c0ff").rc, 0);  // usage error
}

}  // namespace
}  // namespace ctrsnap::testing
