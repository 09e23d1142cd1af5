#include "tests/snapshot/overlay_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "layers/lib/digest.h"

namespace ctrsnap::testing {

ShResult Sh(const std::string& command) {
  std::string full = "export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH; " + command + " 2>&1";
  ShResult r;
  FILE* p = ::popen(("bash -c '" + [&] {
                       std::string esc;
                       for (char c : full) esc += c == '\'' ? std::string("'\\''") : std::string(1, c);
                       return esc;
                     }() + "'").c_str(),
                    "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

namespace {
void Walk(const std::string& root, const std::string& rel, std::map<std::string, std::string>* out) {
  std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    std::string p = root + "/" + r;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) continue;
    std::ostringstream s;
    s << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":" << st.st_gid;
    if (S_ISREG(st.st_mode)) {
      auto data = ReadFileToString(p);
      s << " " << st.st_size << " " << (data.ok() ? layers::Sha256Digest(*data).substr(7, 12) : "?");
    } else if (S_ISLNK(st.st_mode)) {
      char t[4096];
      ssize_t len = ::readlink(p.c_str(), t, sizeof(t));
      s << " -> " << std::string(t, len > 0 ? static_cast<size_t>(len) : 0);
    }
    (*out)["/" + r] = s.str();
    if (S_ISDIR(st.st_mode)) Walk(root, r, out);
  }
}
}  // namespace

std::map<std::string, std::string> TreeListing(const std::string& dir) {
  std::map<std::string, std::string> out;
  Walk(dir, "", &out);
  return out;
}

bool CanMountOverlay() {
  if (::geteuid() != 0) return false;
  std::ifstream fs("/proc/filesystems");
  std::string line;
  while (std::getline(fs, line)) {
    if (line.find("overlay") != std::string::npos) return true;
  }
  return Sh("modprobe overlay").rc == 0;
}

void OverlayStateTest::SetUp() {
  if (!CanMountOverlay()) GTEST_SKIP() << "needs root and overlayfs";
  char tmpl[] = "/var/tmp/ctrsnap-snapshot-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  tmp_ = tmpl;
  lower_ = tmp_ + "/lower";
  state_ = tmp_ + "/state";
  mnt_ = tmp_ + "/mnt";
  view_ = tmp_ + "/view";
  // A busybox root: enough to run `sh`, `find`, `cat` in an engine.
  auto r = Sh("set -e; mkdir -p " + lower_ + "/bin " + lower_ + "/etc " + lower_ + "/tmp " + mnt_ +
              " " + view_ + " " + tmp_ + "/root; cp /bin/busybox " + lower_ +
              "/bin/; for c in sh ls cat find sort md5sum sha256sum cut stat echo rm mkdir mv test; do ln -s busybox " +
              lower_ + "/bin/$c; done; echo root:x:0:0:root:/root:/bin/sh > " + lower_ +
              "/etc/passwd; chmod 1777 " + lower_ + "/tmp");
  ASSERT_EQ(r.rc, 0) << r.out;
  ASSERT_TRUE(MakeDirs(layout::UpperDir(state_, 1)).ok());
  ASSERT_TRUE(MakeDirs(layout::WorkDir(state_, 1)).ok());
  FsMeta m;
  m.lowerdirs = {lower_};
  m.generations.push_back({1, "", false, 1, 0, ""});
  ASSERT_TRUE(m.Save(state_).ok());
}

void OverlayStateTest::TearDown() {
  Unmount();
  if (view_mounted_) ::umount2(view_.c_str(), MNT_DETACH);
  if (!tmp_.empty()) (void)RemoveTree(tmp_);
}

uint64_t OverlayStateTest::LiveGeneration() const {
  auto m = FsMeta::Load(state_);
  return m.ok() ? m->live().id : 0;
}

void OverlayStateTest::SealByHand() {
  auto m = FsMeta::Load(state_);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  GenerationMeta& live = m->generations.back();
  live.sealed = true;
  live.sealed_unix_ns = 2;
  uint64_t next = live.id + 1;
  m->generations.push_back({next, "", false, 2, 0, ""});
  ASSERT_TRUE(MakeDirs(layout::UpperDir(state_, next)).ok());
  ASSERT_TRUE(MakeDirs(layout::WorkDir(state_, next)).ok());
  ASSERT_TRUE(m->Save(state_).ok());
}

void OverlayStateTest::MountLive() {
  uint64_t live = LiveGeneration();
  std::string lowers;
  for (uint64_t g = live - 1; g >= 1; --g) lowers += layout::UpperDir(state_, g) + ":";
  lowers += lower_;
  std::string opts = "lowerdir=" + lowers + ",upperdir=" + layout::UpperDir(state_, live) +
                     ",workdir=" + layout::WorkDir(state_, live) +
                     ",redirect_dir=on,index=on,metacopy=on";
  ASSERT_EQ(::mount("overlay", mnt_.c_str(), "overlay", 0, opts.c_str()), 0)
      << opts << ": " << std::strerror(errno);
  mounted_ = true;
}

void OverlayStateTest::MountView() {
  if (view_mounted_) {
    ::umount2(view_.c_str(), MNT_DETACH);
    view_mounted_ = false;
  }
  uint64_t live = LiveGeneration();
  std::string lowers;
  for (uint64_t g = live; g >= 1; --g) lowers += layout::UpperDir(state_, g) + ":";
  lowers += lower_;
  std::string opts = "lowerdir=" + lowers + ",redirect_dir=follow,metacopy=on";
  ASSERT_EQ(::mount("overlay", view_.c_str(), "overlay", MS_RDONLY, opts.c_str()), 0)
      << opts << ": " << std::strerror(errno);
  view_mounted_ = true;
}

void OverlayStateTest::Unmount() {
  if (mounted_) {
    ::umount2(mnt_.c_str(), 0);
    mounted_ = false;
  }
}

ShResult OverlayStateTest::Ctrsnap(const std::string& args) {
  const char* bin = std::getenv("CTRSNAP_BIN_DIR");
  std::string exe = std::string(bin ? bin : "build/bin") + "/ctrsnap";
  return Sh("CTRSNAP_ROOT=" + tmp_ + "/root CTRSNAP_CONFIG=" + tmp_ + "/no-config.json " + exe +
            " " + args);
}

}  // namespace ctrsnap::testing
