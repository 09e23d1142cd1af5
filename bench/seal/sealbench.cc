// ctrsnap-sealbench MOUNT STATE [SECONDS]: a ticker thread writes a timestamp
// into MOUNT every millisecond while a writer thread streams 1 MiB writes;
// prints the longest and p99 gap between ticks without seals, then with a
// seal every 250 ms (through STATE's control socket), the seals' own
// blocked_us, and the cost of stat on 2000 files after 1 and after 100 seals.
// `--load DIR` runs the same ticker and writer in DIR until killed (run.sh
// runs it inside a docker container); `--now` prints the clock it uses.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/control_client.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Gaps {
  double max_ms = 0, p99_ms = 0;
  size_t ticks = 0;
};

Gaps Summarize(std::vector<double> gaps) {
  Gaps g;
  if (gaps.empty()) return g;
  std::sort(gaps.begin(), gaps.end());
  g.max_ms = gaps.back();
  g.p99_ms = gaps[gaps.size() * 99 / 100];
  g.ticks = gaps.size();
  return g;
}

// The ticker: appends its steady-clock time (ns, CLOCK_MONOTONIC: the same
// inside a container) to DIR/ticks every millisecond; GAPS gets the time
// between consecutive writes (null: not kept).
void Ticker(const std::string& dir, const std::atomic<bool>& stop, std::vector<double>* gaps) {
  int fd = ::open((dir + "/ticks").c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
  auto last = Clock::now();
  while (!stop) {
    auto now = Clock::now();
    std::string line = std::to_string(now.time_since_epoch().count()) + "\n";
    if (::write(fd, line.data(), line.size()) < 0) break;
    auto done = Clock::now();
    if (gaps) gaps->push_back(std::chrono::duration<double, std::milli>(done - last).count());
    last = done;
    std::this_thread::sleep_until(now + std::chrono::milliseconds(1));
  }
  ::close(fd);
}

// The writer: streams 1 MiB writes into DIR/load (truncated every 256 MiB).
void Writer(const std::string& dir, const std::atomic<bool>& stop, long* written_mb) {
  std::vector<char> buf(1 << 20, 'w');
  int fd = ::open((dir + "/load").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  long mb = 0;
  while (!stop) {
    if (::write(fd, buf.data(), buf.size()) < 0) break;
    if (++mb % 256 == 0) (void)::ftruncate(fd, 0);  // bounded disk use
  }
  ::close(fd);
  *written_mb = mb;
}

// Runs the ticker and the writer for SECONDS; seals alongside when SEAL.
Gaps Phase(const std::string& mnt, double seconds, bool seal, const std::string& state,
           std::vector<double>* blocked_us, long* written_mb) {
  std::atomic<bool> stop{false};
  std::vector<double> gaps;
  std::thread ticker([&] { Ticker(mnt, stop, &gaps); });
  std::thread writer([&] { Writer(mnt, stop, written_mb); });
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (seal) {
      auto r = ctrsnap::ControlCall(state, {{"op", "seal"}});
      if (r.ok()) blocked_us->push_back((*r).value("blocked_us", 0.0));
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  stop = true;
  ticker.join();
  writer.join();
  if (!gaps.empty()) gaps.erase(gaps.begin());
  return Summarize(gaps);
}

double StatAll(const std::string& dir, int n) {
  auto t0 = Clock::now();
  struct stat st;
  for (int i = 0; i < n; ++i) ::lstat((dir + "/f" + std::to_string(i)).c_str(), &st);
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / n;
}

}  // namespace

int main(int argc, char** argv) {
  // Helpers for run.sh's docker row: the same load inside a container.
  if (argc == 2 && std::strcmp(argv[1], "--now") == 0) {
    std::printf("%lld\n", static_cast<long long>(Clock::now().time_since_epoch().count()));
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--load") == 0) {
    std::atomic<bool> never{false};
    long mb = 0;
    std::thread writer([&] { Writer(argv[2], never, &mb); });
    Ticker(argv[2], never, nullptr);
    writer.join();
    return 1;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: ctrsnap-sealbench MOUNT STATE [SECONDS] | --load DIR | --now\n");
    return 2;
  }
  std::string mnt = argv[1], state = argv[2];
  double secs = argc > 3 ? std::atof(argv[3]) : 10;
  std::vector<double> blocked;
  long mb0 = 0, mb1 = 0;
  Gaps g0 = Phase(mnt, secs, false, state, &blocked, &mb0);
  Gaps g1 = Phase(mnt, secs, true, state, &blocked, &mb1);
  std::sort(blocked.begin(), blocked.end());
  std::printf("| phase | ticks | longest gap ms | p99 gap ms | MiB written |\n|---|---|---|---|---|\n");
  std::printf("| no seals | %zu | %.2f | %.2f | %ld |\n", g0.ticks, g0.max_ms, g0.p99_ms, mb0);
  std::printf("| seal every 250 ms | %zu | %.2f | %.2f | %ld |\n", g1.ticks, g1.max_ms, g1.p99_ms,
              mb1);
  if (!blocked.empty()) {
    std::printf("\nseals: %zu, blocked_us median %.0f, p99 %.0f, max %.0f\n", blocked.size(),
                blocked[blocked.size() / 2], blocked[blocked.size() * 99 / 100], blocked.back());
  }
  // Lookup cost after many seals.
  std::string dir = mnt + "/statdir";
  ::mkdir(dir.c_str(), 0755);
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    int fd = ::open((dir + "/f" + std::to_string(i)).c_str(), O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) ::close(fd);
  }
  int seals = static_cast<int>(blocked.size());
  (void)ctrsnap::ControlCall(state, {{"op", "seal"}});
  ++seals;
  auto drop = [] {
    ::sync();
    int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd >= 0) {
      (void)::write(fd, "3", 1);
      ::close(fd);
    }
  };
  drop();
  double cold_a = StatAll(dir, n), warm_a = StatAll(dir, n);
  while (seals < 101) {
    (void)ctrsnap::ControlCall(state, {{"op", "seal"}});
    ++seals;
  }
  drop();
  double cold_b = StatAll(dir, n), warm_b = StatAll(dir, n);
  std::printf("\nstat of %d files (us/op): after %d seals cold %.1f warm %.2f; after %d seals "
              "cold %.1f warm %.2f\n",
              n, static_cast<int>(blocked.size()) + 1, cold_a, warm_a, seals, cold_b, warm_b);
  return 0;
}
