// End to end: snapshots loaded into docker (base layers left out of the
// archive), containerd and podman, pushed to and pulled from a registry;
// a container then runs from each image and its tree must equal the
// overlay's merged view. Needs the private services (tests/services.sh).
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "tests/snapshot/overlay_fixture.h"

namespace ctrsnap::testing {
namespace {

using nlohmann::json;

// Prints "PATH MODEHEX UID:GID [SHA256-12]" for every entry of the root.
constexpr char kListScript[] = R"SH(cd / && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev \) -prune -o -print | sort | while read p; do
  if [ -f "$p" ] && [ ! -L "$p" ]; then echo "$p $(stat -c '%f %u:%g' "$p") $(sha256sum < "$p" | cut -c1-12)";
  else echo "$p $(stat -c '%f %u:%g' "$p")"; fi
done
)SH";

std::set<std::string> Ignored() {
  return {".", "./.dockerenv", "./etc/hosts", "./etc/hostname", "./etc/resolv.conf", "./etc/mtab",
          "./run", "./run/.containerenv"};
}

std::vector<std::string> ParseListing(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  auto ignored = Ignored();
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("./", 0) != 0 && l.rfind(". ", 0) != 0) continue;
    if (ignored.count(l.substr(0, l.find(' ')))) continue;
    lines.push_back(l);
  }
  return lines;
}

class SnapshotE2eTest : public OverlayStateTest {
 protected:
  void SetUp() override {
    if (std::getenv("CTRSNAP_TEST_SERVICES") == nullptr) {
      GTEST_SKIP() << "CTRSNAP_TEST_SERVICES unset: start tests/services.sh";
    }
    OverlayStateTest::SetUp();
    if (IsSkipped()) return;
    std::random_device rd;
    nonce_ = std::to_string(rd()) + std::to_string(::getpid());
    // A fresh base layer: engines skip extraction for layers they have.
    ASSERT_TRUE(WriteFileAtomic(lower_ + "/nonce", nonce_).ok());
    base_ = "ctrsnap-e2e-base:" + nonce_;
    auto r = Sh("tar -C " + lower_ + " -c . | docker import - " + base_);
    ASSERT_EQ(r.rc, 0) << r.out;
    ASSERT_TRUE(WriteFileAtomic(tmp_ + "/list.sh", kListScript).ok());
    ASSERT_TRUE(WriteFileAtomic(state_ + "/container.json",
                                json{{"id", "e2e" + nonce_}, {"engine", "docker"}, {"image", base_}}
                                    .dump())
                    .ok());
  }
  void TearDown() override {
    if (!base_.empty()) Sh("docker rmi -f " + base_ + " " + cleanup_);
    OverlayStateTest::TearDown();
  }

  void Change(const std::string& script) {
    MountLive();
    auto r = Sh("set -e; cd " + mnt_ + "; " + script);
    Unmount();
    ASSERT_EQ(r.rc, 0) << r.out;
  }

  // The view minus what the snapshot left out (policy, runtime files, mounts).
  std::vector<std::string> ExpectedListing(const json& snap) {
    auto lines = ExpectedListing();
    std::vector<std::string> out;
    for (const auto& l : lines) {
      std::string path = l.substr(1, l.find(' ') - 1);  // "./a/b" -> "/a/b"
      bool stripped = false;
      for (const auto& s : snap.value("stripped", json::array())) {
        std::string p = s.value("path", "");
        if (s.value("action", "") == "reported") continue;
        if (path == p || path.rfind(p + "/", 0) == 0) stripped = true;
      }
      if (!stripped) out.push_back(l);
    }
    return out;
  }

  std::vector<std::string> ExpectedListing() {
    MountView();
    auto r = Sh("cd " + view_ + " && " + std::string(kListScript).substr(std::string("cd / && ").size()));
    EXPECT_EQ(r.rc, 0) << r.out;
    auto lines = ParseListing(r.out);
    // Guard against vacuous comparisons: the changes must be visible.
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    EXPECT_NE(all.find("./hello 81a4 1000:1000"), std::string::npos) << all;
    EXPECT_NE(all.find("./moved/sub "), std::string::npos) << all;
    EXPECT_EQ(all.find("./bin/cat "), std::string::npos) << all;
    EXPECT_NE(all.find("./bin/busybox "), std::string::npos) << all;
    EXPECT_NE(all.find("./nonce "), std::string::npos) << all;
    return lines;
  }

  json Snapshot(const std::string& args) {
    auto r = Ctrsnap("snapshot --state " + state_ + " --json " + args);
    EXPECT_EQ(r.rc, 0) << r.out;
    if (r.rc != 0) return json::object();
    return json::parse(r.out.substr(r.out.find('{')));
  }

  std::string nonce_, base_, cleanup_;
};

constexpr char kChanges[] =
    "echo hello > hello; rm bin/cat; mkdir -p data/sub; echo x > data/sub/x; mv data moved;"
    "chmod 600 etc/passwd; chown 1000:1000 hello; echo linked > h1; ln h1 h2; ln -s /etc/passwd link;"
    "echo 1.2.3.4 me > etc/hosts; mkdir -p root/.cache; echo c > root/.cache/c";

TEST_F(SnapshotE2eTest, DockerLoadsSnapshotsWithoutBaseLayersAndRunsThem) {
  Change(kChanges);
  std::string tag = "ctrsnap-e2e:" + nonce_ + "-1";
  cleanup_ += " " + tag;
  json j = Snapshot("--tag " + tag);  // default: load into the container's engine (docker)
  ASSERT_FALSE(j.empty());
  EXPECT_EQ(j["delivered"][0], "loaded into docker as " + tag);
  auto run = Sh("docker run --rm --network none " + tag + " sh -c \"$(cat " + tmp_ + "/list.sh)\"");
  ASSERT_EQ(run.rc, 0) << run.out;
  EXPECT_EQ(ParseListing(run.out), ExpectedListing(j));

  // Incremental: the second image reuses the first's layers in the daemon.
  Change("head -c 1000000 /dev/urandom > small.bin; rm moved/sub/x; mkdir moved/sub2");
  std::string tag2 = "ctrsnap-e2e:" + nonce_ + "-2";
  cleanup_ += " " + tag2;
  j = Snapshot("--tag " + tag2 + " --load docker");
  ASSERT_FALSE(j.empty());
  EXPECT_LT(j["layer"]["size"].get<int64_t>(), 1100000);
  run = Sh("docker run --rm --network none " + tag2 + " sh -c \"$(cat " + tmp_ + "/list.sh)\"");
  ASSERT_EQ(run.rc, 0) << run.out;
  EXPECT_EQ(ParseListing(run.out), ExpectedListing(j));
  auto hist = Sh("docker history --no-trunc --format '{{.CreatedBy}}' " + tag2);
  EXPECT_NE(hist.out.find("ctrsnap snapshot"), std::string::npos) << hist.out;
}

TEST_F(SnapshotE2eTest, ArchiveLoadsInContainerdAndPodman) {
  Change(kChanges);
  std::string tag = "ctrsnap-e2e:" + nonce_ + "-c";
  std::string archive = tmp_ + "/image.tar";
  // -o needs every blob: the docker base is fetched with docker save.
  json j = Snapshot("--tag " + tag + " -o " + archive + " -o " + tmp_ + "/layout");
  ASSERT_FALSE(j.empty());
  auto expected = ExpectedListing(j);

  std::string ctr = "ctr -a " + std::string(std::getenv("CONTAINERD_ADDRESS")) + " -n " +
                    std::getenv("CONTAINERD_NAMESPACE");
  auto imp = Sh(ctr + " images import " + archive);
  ASSERT_EQ(imp.rc, 0) << imp.out;
  auto run = Sh(ctr + " run --rm docker.io/library/" + tag + " e2e-" + nonce_ +
                " sh -c \"$(cat " + tmp_ + "/list.sh)\"");
  EXPECT_EQ(run.rc, 0) << run.out;
  EXPECT_EQ(ParseListing(run.out), expected);
  Sh(ctr + " images rm docker.io/library/" + tag);

  std::string podman = "podman --storage-driver vfs --root " + tmp_ + "/podman --runroot " + tmp_ +
                       "/podman-run";
  auto load = Sh(podman + " load -i " + archive);
  ASSERT_EQ(load.rc, 0) << load.out;
  run = Sh(podman + " --runtime /usr/sbin/runc --cgroup-manager cgroupfs run --rm --network none"
                    " --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 " + tag +
           " sh -c \"$(cat " + tmp_ + "/list.sh)\"");
  EXPECT_EQ(run.rc, 0) << run.out;
  EXPECT_EQ(ParseListing(run.out), expected);
  Sh(podman + " rmi -a -f; umount -l " + tmp_ + "/podman/vfs 2>/dev/null; true");

  auto umoci = Sh("umoci unpack --image " + tmp_ + "/layout:" + tag + " " + tmp_ + "/bundle");
  EXPECT_EQ(umoci.rc, 0) << umoci.out;
}

TEST_F(SnapshotE2eTest, PushToRegistryAndPullWithDocker) {
  const char* registry = std::getenv("CTRSNAP_TEST_REGISTRY");
  ASSERT_NE(registry, nullptr);
  Change(kChanges);
  std::string ref = std::string(registry) + "/ctrsnap-e2e/pushed:" + nonce_;
  cleanup_ += " " + ref;
  json j = Snapshot("--tag pushed:" + nonce_ + " --push " + ref);
  ASSERT_FALSE(j.empty());
  auto insp = Sh("skopeo inspect --tls-verify=false docker://" + ref);
  ASSERT_EQ(insp.rc, 0) << insp.out;
  EXPECT_EQ(json::parse(insp.out)["Digest"], j["manifest_digest"]);
  auto pull = Sh("docker pull " + ref);
  ASSERT_EQ(pull.rc, 0) << pull.out;
  auto run = Sh("docker run --rm --network none " + ref + " sh -c \"$(cat " + tmp_ + "/list.sh)\"");
  ASSERT_EQ(run.rc, 0) << run.out;
  EXPECT_EQ(ParseListing(run.out), ExpectedListing(j));
}

}  // namespace
}  // namespace ctrsnap::testing
