// drift_bench: how long ScanRoot takes on an environment with many packages.
//
// Builds a synthetic root in a private temp dir: N Python distributions in
// pip's layout (NAME-VERSION.dist-info/{METADATA,RECORD,INSTALLER,WHEEL,
// top_level.txt} plus the package's own folder) in /usr/local's
// site-packages, and a dpkg status file of M installed packages made from
// this host's real /var/lib/dpkg/status, paragraphs replicated and renamed
// (name-copyK) until M are reached. Then scans it R times and prints the
// median, min and max, plus the time of ToJson and of a Diff against a
// modified copy. Warm page cache (the machine is shared: caches are not
// dropped unless --drop-caches is given).
//
// Usage: drift_bench [--python N] [--deb M] [--reps R] [--etc] [--drop-caches]
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "layers/drift/diff.h"
#include "layers/drift/scan_root.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void Die(const ctrsnap::Status& st, const char* what) {
  if (st.ok()) return;
  std::fprintf(stderr, "drift_bench: %s: %s\n", what, st.ToString().c_str());
  std::exit(2);
}

std::string MakeStatus(const std::string& host, int want) {
  std::vector<std::string> paras;
  size_t pos = 0;
  while (pos < host.size()) {
    size_t end = host.find("\n\n", pos);
    if (end == std::string::npos) end = host.size();
    std::string p = host.substr(pos, end - pos);
    if (p.find("Status: install ok installed") != std::string::npos) paras.push_back(p);
    pos = end + 2;
  }
  if (paras.empty()) return {};
  std::string out;
  for (int k = 0; k < want; ++k) {
    std::string p = paras[static_cast<size_t>(k) % paras.size()];
    int copy = k / static_cast<int>(paras.size());
    if (copy > 0) {
      size_t nl = p.find('\n');
      p = p.substr(0, nl) + "-copy" + std::to_string(copy) + p.substr(nl);
    }
    out += p + "\n\n";
  }
  return out;
}

// Plain write: no fsync per file (WriteFileAtomic's would dominate the set-up).
ctrsnap::Status Put(const std::string& path, const std::string& data) {
  ctrsnap::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return ctrsnap::Status::FromErrno(errno, "open", path);
  return ctrsnap::WriteAll(fd.get(), data);
}

void AddDist(const std::string& site, int k) {
  std::string name = "synthpkg" + std::to_string(k);
  std::string ver = std::to_string(k % 7) + "." + std::to_string(k % 13) + "." + std::to_string(k);
  std::string di = site + "/" + name + "-" + ver + ".dist-info";
  Die(ctrsnap::MakeDirs(di), "mkdir");
  std::string meta = "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + ver +
                     "\nSummary: synthetic package " + std::to_string(k) +
                     "\nHome-page: https://example.invalid\nAuthor: bench\nLicense: MIT\n"
                     "Requires-Python: >=3.8\nRequires-Dist: numpy (>=1.20)\n"
                     "Classifier: Programming Language :: Python :: 3\n\n" +
                     std::string(6000, 'd') + "\n";
  Die(Put(di + "/METADATA", meta), "write");
  Die(Put(di + "/INSTALLER", "pip\n"), "write");
  Die(Put(di + "/WHEEL", "Wheel-Version: 1.0\nGenerator: bdist_wheel\n"), "write");
  Die(Put(di + "/top_level.txt", name + "\n"), "write");
  std::string record;
  Die(ctrsnap::MakeDirs(site + "/" + name), "mkdir");
  for (int f = 0; f < 5; ++f) {
    std::string file = name + "/mod" + std::to_string(f) + ".py";
    Die(Put(site + "/" + file, "x = 1\n"), "write");
    record += file + ",sha256=abc,6\n";
  }
  Die(Put(di + "/RECORD", record), "write");
}

}  // namespace

int main(int argc, char** argv) {
  int python = 500, deb = 1500, reps = 7;
  bool etc = false, drop = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--python") python = next();
    else if (a == "--deb") deb = next();
    else if (a == "--reps") reps = std::max(1, next());
    else if (a == "--etc") etc = true;
    else if (a == "--drop-caches") drop = true;
    else {
      std::fprintf(stderr, "usage: drift_bench [--python N] [--deb M] [--reps R] [--etc] [--drop-caches]\n");
      return 2;
    }
  }
  char tmpl[] = "/var/tmp/ctrsnap-drift-bench.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 2;
  std::string root = tmpl;
  auto host = ctrsnap::ReadFileToString("/var/lib/dpkg/status");
  Die(host.status(), "read host dpkg status");
  auto t0 = Clock::now();
  std::string status = MakeStatus(*host, deb);
  Die(ctrsnap::MakeDirs(root + "/var/lib/dpkg"), "mkdir");
  Die(Put(root + "/var/lib/dpkg/status", status), "write status");
  std::string site = root + "/usr/local/lib/python3.11/site-packages";
  for (int k = 0; k < python; ++k) AddDist(site, k);
  auto t1 = Clock::now();
  std::printf("built root %s: %d dist-info, %d dpkg packages (%zu KiB status) in %.0f ms\n",
              root.c_str(), python, deb, status.size() / 1024, Ms(t0, t1));

  ctrsnap::drift::ScanOptions opts;
  opts.scan_etc = etc;
  std::vector<double> times;
  ctrsnap::drift::Inventory inv;
  for (int r = 0; r < reps; ++r) {
    if (drop) {
      ::sync();
      int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY);
      if (fd >= 0) {
        (void)!::write(fd, "3", 1);
        ::close(fd);
      }
    }
    auto a = Clock::now();
    auto res = ctrsnap::drift::ScanRootPath(root, opts);
    auto b = Clock::now();
    Die(res.status(), "scan");
    inv = std::move(*res);
    times.push_back(Ms(a, b));
  }
  std::sort(times.begin(), times.end());
  auto counts = inv.CountsByEcosystem();
  std::printf("scan (%s cache, %d reps): median %.1f ms, min %.1f, max %.1f; items: deb %zu, python %zu\n",
              drop ? "cold" : "warm", reps, times[times.size() / 2], times.front(), times.back(),
              counts["deb"], counts["python"]);
  auto a = Clock::now();
  std::string json = inv.ToJson();
  auto b = Clock::now();
  ctrsnap::drift::Inventory other = inv;
  for (size_t k = 0; k < other.items.size(); k += 10) other.items[k].version += ".1";
  auto c = Clock::now();
  auto changes = ctrsnap::drift::Diff(inv, other);
  auto d = Clock::now();
  std::printf("ToJson %.1f ms (%zu KiB); Diff %.1f ms (%zu changes); budget 1000 ms: %.2fx under\n",
              Ms(a, b), json.size() / 1024, Ms(c, d), changes.size(),
              1000.0 / times[times.size() / 2]);
  Die(ctrsnap::RemoveTree(root), "cleanup");
  return 0;
}
