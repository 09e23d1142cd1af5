// ctrsnap-fsbench WORKLOAD DIR [ARGS]: runs one workload in DIR and prints
// "WORKLOAD VALUE UNIT" (higher is better for rates, lower for seconds).
// bench/fs/run.sh runs it on each filesystem and prints ratios.
//
//   seqwrite DIR MB        1 MiB writes, fsync at the end          MB/s
//   seqread DIR            1 MiB reads of DIR/seq                  MB/s
//   randread DIR N [direct]   N 4 KiB preads at random offsets     IOPS
//   randwrite DIR N [direct]  N 4 KiB pwrites, fsync at the end    IOPS
//   create DIR N           N files of 100 bytes in DIR/many/       ops/s
//   stat DIR N             lstat of the N files                    ops/s
//   readdir DIR            list DIR/many/ (readdir + d_type)       entries/s
//   delete DIR N           unlink the N files                      ops/s
//   append FILE            open O_APPEND, write 1 byte, close      seconds
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "fsbench: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

void* AlignedBuffer(size_t n) {
  void* p = nullptr;
  if (posix_memalign(&p, 4096, n) != 0) Die("posix_memalign");
  std::memset(p, 'x', n);
  return p;
}

std::string ManyName(const std::string& dir, long i) {
  return dir + "/many/f" + std::to_string(i);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: ctrsnap-fsbench WORKLOAD DIR [ARGS]\n");
    return 2;
  }
  std::string w = argv[1], dir = argv[2];
  long n = argc > 3 ? std::atol(argv[3]) : 0;
  bool direct = argc > 4 && std::string(argv[4]) == "direct";
  const size_t kMiB = 1 << 20;
  double t0 = Now(), value = 0;
  const char* unit = "";
  if (w == "seqwrite") {
    char* buf = static_cast<char*>(AlignedBuffer(kMiB));
    int fd = ::open((dir + "/seq").c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) Die("open");
    t0 = Now();
    for (long i = 0; i < n; ++i) {
      if (::write(fd, buf, kMiB) != static_cast<ssize_t>(kMiB)) Die("write");
    }
    if (::fsync(fd) != 0) Die("fsync");
    ::close(fd);
    value = static_cast<double>(n) / (Now() - t0);
    unit = "MB/s";
  } else if (w == "seqread") {
    char* buf = static_cast<char*>(AlignedBuffer(kMiB));
    int fd = ::open((dir + "/seq").c_str(), O_RDONLY);
    if (fd < 0) Die("open");
    t0 = Now();
    long total = 0;
    for (;;) {
      ssize_t r = ::read(fd, buf, kMiB);
      if (r < 0) Die("read");
      if (r == 0) break;
      total += r;
    }
    ::close(fd);
    value = static_cast<double>(total) / kMiB / (Now() - t0);
    unit = "MB/s";
  } else if (w == "randread" || w == "randwrite") {
    bool write = w == "randwrite";
    int fd = ::open((dir + "/seq").c_str(), (write ? O_RDWR : O_RDONLY) | (direct ? O_DIRECT : 0));
    if (fd < 0) Die("open");
    struct stat st;
    if (::fstat(fd, &st) != 0) Die("fstat");
    long blocks = st.st_size / 4096;
    char* buf = static_cast<char*>(AlignedBuffer(4096));
    std::mt19937_64 rng(42);
    t0 = Now();
    for (long i = 0; i < n; ++i) {
      off_t off = static_cast<off_t>(rng() % static_cast<unsigned long>(blocks)) * 4096;
      ssize_t r = write ? ::pwrite(fd, buf, 4096, off) : ::pread(fd, buf, 4096, off);
      if (r != 4096) Die(write ? "pwrite" : "pread");
    }
    if (write && ::fsync(fd) != 0) Die("fsync");
    ::close(fd);
    value = static_cast<double>(n) / (Now() - t0);
    unit = "IOPS";
  } else if (w == "create") {
    ::mkdir((dir + "/many").c_str(), 0755);
    char data[100];
    std::memset(data, 'c', sizeof(data));
    t0 = Now();
    for (long i = 0; i < n; ++i) {
      int fd = ::open(ManyName(dir, i).c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
      if (fd < 0) Die("create");
      if (::write(fd, data, sizeof(data)) != sizeof(data)) Die("write");
      ::close(fd);
    }
    value = static_cast<double>(n) / (Now() - t0);
    unit = "ops/s";
  } else if (w == "stat") {
    struct stat st;
    for (long i = 0; i < n; ++i) {
      if (::lstat(ManyName(dir, i).c_str(), &st) != 0) Die("lstat");
    }
    value = static_cast<double>(n) / (Now() - t0);
    unit = "ops/s";
  } else if (w == "readdir") {
    DIR* d = ::opendir((dir + "/many").c_str());
    if (!d) Die("opendir");
    long entries = 0;
    while (dirent* e = ::readdir(d)) entries += e->d_type != DT_UNKNOWN ? 1 : 1;
    ::closedir(d);
    value = static_cast<double>(entries) / (Now() - t0);
    unit = "entries/s";
  } else if (w == "delete") {
    for (long i = 0; i < n; ++i) {
      if (::unlink(ManyName(dir, i).c_str()) != 0) Die("unlink");
    }
    value = static_cast<double>(n) / (Now() - t0);
    unit = "ops/s";
  } else if (w == "append") {
    int fd = ::open(dir.c_str(), O_WRONLY | O_APPEND);
    if (fd < 0) Die("open");
    if (::write(fd, "a", 1) != 1) Die("write");
    ::close(fd);
    value = Now() - t0;
    unit = "s";
  } else {
    std::fprintf(stderr, "fsbench: unknown workload %s\n", w.c_str());
    return 2;
  }
  std::printf("%s %.3f %s\n", w.c_str(), value, unit);
  return 0;
}
