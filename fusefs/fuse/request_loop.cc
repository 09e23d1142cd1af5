#include "fusefs/fuse/request_loop.h"

#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <vector>

#include "common/log.h"

namespace ctrsnap::fs {
namespace {

// Reads and writes up to this size are answered inline: the data is mostly in
// the page cache (the kernel's readahead and writeback send the large ones).
constexpr uint32_t kInlineIoBytes = 64 * 1024;

constexpr int kWakeSignal = SIGUSR1;

void NoopHandler(int) {}

class RequestLoop {
 public:
  RequestLoop(fuse_session* se, unsigned max_threads)
      : se_(se), max_threads_(max_threads < 1 ? 1 : max_threads) {
    sem_init(&done_, 0, 0);
  }
  ~RequestLoop() { sem_destroy(&done_); }

  int Run();

 private:
  struct Worker {
    pthread_t thread{};
    std::condition_variable cv;
    bool promoted = false;  // (mu_) told to become the reader
    std::atomic<bool> in_read{false};  // about to enter or inside read(2)
  };

  static void* ThreadMain(void* arg);
  void Serve(Worker* w);
  // REQUIRES: mu_ held. Starts a worker that begins as the reader.
  bool SpawnLocked();
  // Makes another thread the reader. False when none could be found (the
  // caller stays the reader).
  bool HandOff();
  // Parks W until it is made the reader (true) or the loop stops (false).
  bool WaitToRead(Worker* w);
  void Stop(int error);

  fuse_session* const se_;
  const unsigned max_threads_;
  sem_t done_;  // posted once when the loop stops

  std::mutex mu_;
  std::vector<std::unique_ptr<Worker>> workers_;  // (mu_)
  std::vector<Worker*> idle_;                     // (mu_) most recently idle last
  Worker* reader_ = nullptr;                      // (mu_)
  bool stopped_ = false;                          // (mu_)
  int error_ = 0;                                 // (mu_)
};

void* RequestLoop::ThreadMain(void* arg) {
  auto* self = static_cast<std::pair<RequestLoop*, Worker*>*>(arg);
  RequestLoop* loop = self->first;
  Worker* w = self->second;
  delete self;
  loop->Serve(w);
  return nullptr;
}

bool RequestLoop::SpawnLocked() {
  if (workers_.size() >= max_threads_) return false;
  auto w = std::make_unique<Worker>();
  // Workers leave the termination signals to the main thread (which waits
  // in sem_wait and notices the session's exit), as libfuse's workers do.
  sigset_t block, old;
  sigemptyset(&block);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&block, s);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  auto* arg = new std::pair<RequestLoop*, Worker*>(this, w.get());
  int rc = pthread_create(&w->thread, nullptr, &ThreadMain, arg);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) {
    delete arg;
    LogWarn(std::string("fuse request loop: pthread_create: ") + std::strerror(rc));
    return false;
  }
  reader_ = w.get();
  workers_.push_back(std::move(w));
  return true;
}

bool RequestLoop::HandOff() {
  std::lock_guard<std::mutex> l(mu_);
  if (stopped_) return false;
  if (!idle_.empty()) {
    Worker* next = idle_.back();
    idle_.pop_back();
    next->promoted = true;
    reader_ = next;
    next->cv.notify_one();
    return true;
  }
  return SpawnLocked();
}

bool RequestLoop::WaitToRead(Worker* w) {
  std::unique_lock<std::mutex> l(mu_);
  if (stopped_) return false;
  idle_.push_back(w);
  w->cv.wait(l, [&] { return w->promoted || stopped_; });
  if (!w->promoted) return false;
  w->promoted = false;
  return true;
}

void RequestLoop::Stop(int error) {
  std::lock_guard<std::mutex> l(mu_);
  if (stopped_) return;
  stopped_ = true;
  error_ = error;
  for (Worker* w : idle_) w->cv.notify_one();
  idle_.clear();
  sem_post(&done_);
}

void RequestLoop::Serve(Worker* w) {
  fuse_buf buf = {};
  for (;;) {
    // This thread is the reader.
    if (fuse_session_exited(se_)) break;
    w->in_read.store(true);
    int res = fuse_session_receive_buf(se_, &buf);
    w->in_read.store(false);
    if (res == -EINTR || res == -EAGAIN) continue;
    if (res <= 0) {  // 0: unmounted (libfuse maps ENODEV to 0)
      Stop(res < 0 ? -res : 0);
      break;
    }
    bool handed_off = false;
    const bool in_memory = !(buf.flags & FUSE_BUF_IS_FD);
    if (!in_memory || RequestMayBlock(buf.mem, static_cast<size_t>(res))) handed_off = HandOff();
    fuse_session_process_buf(se_, &buf);
    if (handed_off && !WaitToRead(w)) break;
  }
  Stop(0);
  std::free(buf.mem);
}

int RequestLoop::Run() {
  struct sigaction sa = {};
  sa.sa_handler = NoopHandler;  // no SA_RESTART: read(2) returns EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(kWakeSignal, &sa, nullptr);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!SpawnLocked()) return -1;
  }
  for (;;) {
    if (sem_wait(&done_) == 0) break;
    if (errno != EINTR || !fuse_session_exited(se_)) continue;
    // A signal ended the session while the reader may sit in read(2):
    // interrupt it until it has seen the exit (a signal that arrives just
    // before it enters read(2) would be lost, hence the repetition).
    for (;;) {
      {
        std::lock_guard<std::mutex> l(mu_);
        if (stopped_) break;
        if (reader_ && reader_->in_read.load()) pthread_kill(reader_->thread, kWakeSignal);
      }
      timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 20 * 1000 * 1000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec += 1;
        ts.tv_nsec -= 1000000000;
      }
      if (sem_timedwait(&done_, &ts) == 0) break;
    }
    break;
  }
  // Every worker finishes its request and leaves: none waits for another
  // request once the loop stopped, and only the reader reads.
  std::vector<pthread_t> threads;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& w : workers_) threads.push_back(w->thread);
  }
  for (pthread_t t : threads) pthread_join(t, nullptr);
  std::lock_guard<std::mutex> l(mu_);
  return error_ == 0 ? 0 : -1;
}

}  // namespace

bool RequestMayBlock(const void* buf, size_t len) {
  if (len < sizeof(fuse_in_header)) return false;
  const auto* in = static_cast<const fuse_in_header*>(buf);
  const char* arg = static_cast<const char*>(buf) + sizeof(fuse_in_header);
  const size_t arg_len = len - sizeof(fuse_in_header);
  switch (in->opcode) {
    case FUSE_READ:
    case FUSE_WRITE: {
      // fuse_read_in and fuse_write_in both start with fh, offset, size.
      if (arg_len < sizeof(fuse_read_in)) return true;
      fuse_read_in r;
      std::memcpy(&r, arg, sizeof(r));
      return r.size > kInlineIoBytes;
    }
    case FUSE_OPEN: {  // a writable open or O_TRUNC may copy the file up
      if (arg_len < sizeof(fuse_open_in)) return true;
      fuse_open_in o;
      std::memcpy(&o, arg, sizeof(o));
      return (o.flags & O_ACCMODE) != O_RDONLY || (o.flags & O_TRUNC);
    }
    case FUSE_SETATTR: {  // truncate may copy the file up
      if (arg_len < sizeof(fuse_setattr_in)) return true;
      fuse_setattr_in s;
      std::memcpy(&s, arg, sizeof(s));
      return (s.valid & FATTR_SIZE) != 0;
    }
    case FUSE_FSYNC:
    case FUSE_FSYNCDIR:
    case FUSE_FALLOCATE:
    case FUSE_COPY_FILE_RANGE:
    case FUSE_READDIR:
    case FUSE_READDIRPLUS:
    case FUSE_LINK:  // copies the file up
    case FUSE_SETLKW:
      return true;
    default:
      return false;
  }
}

int RunRequestLoop(fuse_session* se, unsigned max_threads) {
  RequestLoop loop(se, max_threads);
  return loop.Run();
}

}  // namespace ctrsnap::fs
