// Soak (label soak): a busybox container under ctrsnap-runtime (runc as the
// real runtime) runs tests/soak/soak_worker.c -- fsx-style random I/O with
// verification, many small files, renames, hard links, symlinks, mmap writes
// -- while this test takes a snapshot every few seconds (layers::TakeSnapshot,
// what `ctrsnap snapshot --state` runs, with the default policy). For each snapshot the
// image's tree (its layers applied in order, whiteouts first) must equal the
// read-only kernel overlayfs mount of the same generations over the lower,
// minus what the policy strips. At the end the worker verifies everything it
// wrote against its own model, and its MANIFEST must match the last image.
// ctrsnap-fs's RSS is sampled over the run and must not keep growing.
//
// Environment: CTRSNAP_SOAK_SECONDS (worker run time, default 120),
// CTRSNAP_SOAK_INTERVAL (seconds between snapshots, default 5),
// CTRSNAP_SOAK_SEED (default: from the clock; printed for replay).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "layers/lib/snapshot.h"
#include "layers/policy/policy_filter.h"
#include "shim/fs_daemon.h"
#include "tests/runtime/harness.h"
#include "tests/soak/tree_check.h"

namespace ctrsnap::testing {
namespace {

using nlohmann::json;

double EnvNumber(const char* name, double fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): tests are serial
  return v != nullptr && *v != '\0' ? std::atof(v) : fallback;
}

// Paths the layer writer never exports (runtime-managed files).
constexpr const char* kRuntimeFiles[] = {"/etc/hosts", "/etc/resolv.conf", "/etc/hostname",
                                         "/.dockerenv"};

class SoakTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (runc, FUSE and overlay mounts)";
    if (!FsIsReal()) GTEST_SKIP() << "needs the real ctrsnap-fs";
    char t[] = "/var/tmp/ctrsnap-soak-XXXXXX";
    ASSERT_NE(::mkdtemp(t), nullptr);
    tmp_ = t;
    ::chmod(tmp_.c_str(), 0755);
    state_root_ = tmp_ + "/state";
    runc_root_ = tmp_ + "/runc";
    image_ = tmp_ + "/image";
    view_ = tmp_ + "/view";
    ASSERT_TRUE(MakeDirs(image_).ok());
    ASSERT_TRUE(MakeDirs(view_).ok());
    WriteJson(tmp_ + "/config.json", {{"fs_binary", FsBinary()}});
    ::setenv("CTRSNAP_CONFIG", (tmp_ + "/config.json").c_str(), 1);
    ::setenv("CTRSNAP_ROOT", state_root_.c_str(), 1);
    ::unsetenv("CTRSNAP_DISABLE");
    policy::PolicyOptions popts;  // the default policy, no host policy file
    auto f = policy::MakePolicyFilter(popts);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    filter_ = std::move(*f);
  }
  void TearDown() override {
    if (tmp_.empty()) return;
    ::umount2(view_.c_str(), MNT_DETACH);
    Sh(Wrapper() + " delete --force soak; grep -o ' " + tmp_ +
           "[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l",
       60);
    if (std::getenv("CTRSNAP_SOAK_KEEP") == nullptr) (void)RemoveTree(tmp_);  // NOLINT
  }

  std::string Wrapper() const { return BinDir() + "/ctrsnap-runtime --root " + runc_root_; }
  std::string State() const { return state_root_ + "/soak"; }
  std::string Status() {
    CmdResult r = Sh(Wrapper() + " state soak", 60);
    if (r.rc != 0) return "gone";
    auto j = json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("status", "?") : "?";
  }

  void SampleRss() {
    if (daemon_pid_ <= 0) return;
    int64_t kib = soak::RssKiB(daemon_pid_);
    if (kib > 0) rss_kib_.push_back(kib);
  }

  // Takes snapshot number ++n_ and checks it; false when there was nothing to
  // snapshot.
  bool SnapshotAndCheck() {
    std::string tag = "soak:" + std::to_string(n_ + 1);
    layers::SnapshotOptions o;  // what `ctrsnap snapshot --state S` does
    o.state_dir = State();
    o.container_id = "soak";
    o.filter = filter_.get();
    o.compression = layers::Compression::kNone;
    o.tag = tag;
    auto t0 = std::chrono::steady_clock::now();
    auto res = layers::TakeSnapshot(o);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!res.ok()) {
      if (res.status().code() == Code::kNotFound &&
          res.status().ToString().find("nothing to snapshot") != std::string::npos) {
        return false;
      }
      ++errors_;
      ADD_FAILURE() << "snapshot " << tag << ": " << res.status().ToString();
      return false;
    }
    ++n_;
    snapshot_seconds_.push_back(took);
    if (res->blocked_us >= 0) blocked_us_.push_back(res->blocked_us);
    layer_bytes_ += res->record.layer.size;
    for (const auto& s : res->record.stripped) {
      if (s.action != "reported") stripped_.insert(s.path);
    }

    // The image's tree: apply the layers this image adds to the last one's.
    std::vector<std::string> layers;
    for (const auto& l : res->image.layers) layers.push_back(l.digest);
    bool extends = layers.size() > applied_.size() &&
                   std::equal(applied_.begin(), applied_.end(), layers.begin());
    EXPECT_TRUE(extends) << tag << " does not extend the previous image's layers";
    if (!extends) return ++errors_, true;
    for (size_t i = applied_.size(); i < layers.size(); ++i) {
      std::string blob = State() + "/snapshots/blobs/sha256/" + layers[i].substr(7);
      std::string err = soak::ApplyLayer(blob, image_);
      EXPECT_EQ(err, "") << tag << " layer " << layers[i];
      if (!err.empty()) return ++errors_, true;
      applied_.push_back(layers[i]);
    }

    // The oracle: a read-only kernel overlay of the same generations (the
    // setup generation is never exported) over the lower.
    auto meta = FsMeta::Load(State());
    EXPECT_TRUE(meta.ok()) << meta.status().ToString();
    if (!meta.ok()) return ++errors_, true;
    uint64_t top = 0;
    for (uint64_t g : res->record.generations) top = std::max(top, g);
    std::vector<std::string> lowers;
    for (auto it = meta->generations.rbegin(); it != meta->generations.rend(); ++it) {
      if (it->id > top || it->label == "setup") continue;
      EXPECT_TRUE(it->sealed) << "generation " << it->id << " in " << tag << " is not sealed";
      lowers.push_back(layout::UpperDir(State(), it->id));
    }
    for (const auto& l : meta->lowerdirs) lowers.push_back(l);
    std::string err = soak::MountOverlayView(lowers, view_);
    if (!err.empty()) {
      ADD_FAILURE() << tag << ": overlay view of " << lowers.size() << " layers: " << err;
      return ++errors_, true;
    }
    soak::TreeListing want = soak::ListTree(view_);
    ::umount2(view_.c_str(), 0);
    for (const char* p : kRuntimeFiles) soak::ErasePrefix(&want, p);
    for (const auto& p : stripped_) soak::ErasePrefix(&want, p);
    soak::TreeListing got = soak::ListTree(image_);
    entries_checked_ += want.entries.size();
    auto diffs = soak::DiffListings(want, got);
    if (!diffs.empty()) {
      mismatches_ += diffs.size();
      std::string all;
      for (const auto& d : diffs) all += "  " + d + "\n";
      ADD_FAILURE() << tag << " (generations up to " << top << ", layer " << res->record.layer.digest
                    << "): image differs from the overlay view:\n"
                    << all;
    }
    return true;
  }

  std::string tmp_, state_root_, runc_root_, image_, view_;
  std::unique_ptr<policy::PolicyFilter> filter_;
  int daemon_pid_ = -1;
  int n_ = 0;
  size_t errors_ = 0, mismatches_ = 0, entries_checked_ = 0;
  int64_t layer_bytes_ = 0;
  std::vector<std::string> applied_;
  std::set<std::string> stripped_;
  std::vector<int64_t> rss_kib_, blocked_us_;
  std::vector<double> snapshot_seconds_;
};

template <typename T>
T Median(std::vector<T> v) {
  if (v.empty()) return T{};
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

TEST_F(SoakTest, SnapshotsMatchOverlayViewAndContainerVerifies) {
  const double seconds = EnvNumber("CTRSNAP_SOAK_SECONDS", 120);
  const double interval = EnvNumber("CTRSNAP_SOAK_INTERVAL", 5);
  const auto seed = static_cast<unsigned long long>(
      EnvNumber("CTRSNAP_SOAK_SEED", static_cast<double>(::time(nullptr) % 1000000)));
  std::printf("soak: %.0f s, a snapshot every %.0f s, seed %llu (CTRSNAP_SOAK_SEED to replay)\n",
              seconds, interval, seed);

  std::string bundle = tmp_ + "/bundle";
  MakeBundle(bundle, {"/soak_worker", "/work", std::to_string(seconds), std::to_string(seed)});
  CmdResult cp = Sh("cp " + BinDir() + "/soak_worker " + bundle + "/rootfs/soak_worker");
  ASSERT_EQ(cp.rc, 0) << cp.out;
  // Docker's default file capabilities: the worker chowns, and root writes
  // files it no longer owns.
  json spec = ReadJson(bundle + "/config.json");
  for (const char* set : {"bounding", "effective", "permitted"}) {
    for (const char* cap : {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID"}) {
      spec["process"]["capabilities"][set].push_back(cap);
    }
  }
  WriteJson(bundle + "/config.json", spec);

  CmdResult run = Sh(Wrapper() + " run -d -b " + bundle + " soak >" + tmp_ + "/container.log 2>&1", 120);
  ASSERT_EQ(run.rc, 0) << run.out << ReadFileToString(tmp_ + "/container.log").value_or("");
  auto pid = shim::LockHolderPid(State());
  ASSERT_TRUE(pid.has_value());
  daemon_pid_ = *pid;
  SampleRss();

  auto start = std::chrono::steady_clock::now();
  auto next = start;
  while (Status() == "running") {
    next += std::chrono::milliseconds(static_cast<int64_t>(interval * 1000));
    while (std::chrono::steady_clock::now() < next && Status() == "running") {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    SampleRss();
    SnapshotAndCheck();
    ASSERT_LT(errors_ + mismatches_, 5u) << "stopping early";
    // A worker that hangs would keep the loop going: bound it generously.
    ASSERT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(
        static_cast<int64_t>(seconds) * 3 + 300)) << "the worker did not finish";
  }
  double ran = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  SampleRss();

  // The worker has exited; ctrsnap-fs serves until delete, and keeps
  // STATE/lower (the original root) bound until then, which the overlay view
  // needs. The last snapshot holds the worker's MANIFEST and RESULT.
  SnapshotAndCheck();
  CmdResult del = Sh(Wrapper() + " delete soak", 120);
  ASSERT_EQ(del.rc, 0) << del.out;

  std::string log = ReadFileToString(tmp_ + "/container.log").value_or("");
  auto result = ReadFileToString(image_ + "/work/RESULT");
  ASSERT_TRUE(result.ok()) << "no RESULT in the last image; container log:\n" << log;
  EXPECT_EQ(result->rfind("OK ", 0), 0u) << *result << log;
  auto manifest = ReadFileToString(image_ + "/work/MANIFEST");
  ASSERT_TRUE(manifest.ok()) << "no MANIFEST in the last image";
  size_t checked = 0;
  auto bad = soak::CheckManifest(*manifest, image_ + "/work", &checked);
  EXPECT_TRUE(bad.empty()) << bad.size() << " entries differ from what the container saw, first: "
                           << bad.front();
  EXPECT_GT(checked, 4u);

  // Memory: flat, not growing with the number of operations and seals. A
  // generous bound (the late samples against the early ones), no timing.
  ASSERT_GE(rss_kib_.size(), 3u);
  size_t third = rss_kib_.size() / 3;
  std::vector<int64_t> early(rss_kib_.begin() + 1, rss_kib_.begin() + 1 + std::max<size_t>(third, 1));
  std::vector<int64_t> late(rss_kib_.end() - std::max<size_t>(third, 1), rss_kib_.end());
  int64_t early_max = *std::max_element(early.begin(), early.end());
  int64_t late_max = *std::max_element(late.begin(), late.end());
  int64_t peak = *std::max_element(rss_kib_.begin(), rss_kib_.end());
  EXPECT_LE(late_max, early_max * 2 + 32 * 1024)
      << "ctrsnap-fs RSS keeps growing: early max " << early_max << " KiB, late max " << late_max;

  std::printf("soak: ran %.0f s: %s", ran, result.ok() ? result->c_str() : "no result\n");
  std::printf("soak: %d snapshots checked against the overlay view (%zu entries compared), "
              "%zu mismatches, %zu errors, %zu stripped paths\n",
              n_, entries_checked_, mismatches_, errors_, stripped_.size());
  std::printf("soak: manifest: %zu entries verified in the last image\n", checked);
  std::printf("soak: snapshot took median %.2f s, max %.2f s; seal blocked median %lld us, max %lld us; "
              "layers %.1f MB in all\n",
              Median(snapshot_seconds_),
              snapshot_seconds_.empty() ? 0.0 : *std::max_element(snapshot_seconds_.begin(), snapshot_seconds_.end()),
              static_cast<long long>(Median(blocked_us_)),
              blocked_us_.empty() ? 0LL : static_cast<long long>(*std::max_element(blocked_us_.begin(), blocked_us_.end())),
              static_cast<double>(layer_bytes_) / 1e6);
  std::printf("soak: ctrsnap-fs RSS %zu samples: first %lld KiB, early max %lld, late max %lld, peak %lld\n",
              rss_kib_.size(), static_cast<long long>(rss_kib_.front()),
              static_cast<long long>(early_max), static_cast<long long>(late_max),
              static_cast<long long>(peak));
  EXPECT_EQ(mismatches_, 0u);
  EXPECT_EQ(errors_, 0u);
  EXPECT_GE(n_, 2);
}

}  // namespace
}  // namespace ctrsnap::testing
