#include "fusefs/journal/change_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "common/file_util.h"
#include "common/log.h"
#include "common/state_layout.h"
#include "fusefs/journal/journal_format.h"

namespace ctrsnap {
namespace {

int64_t RealtimeNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Status SyncFd(int fd, const std::string& what) {
  if (::fdatasync(fd) != 0) return Status::FromErrno(errno, "fdatasync", what);
  return Status::Ok();
}

// The highest seq in the journal file of GEN, 0 when it has none.
uint64_t MaxSeqIn(const std::string& path) {
  Result<JournalFileContents> c = ReadJournalFile(path);
  if (!c.ok()) return 0;
  uint64_t m = 0;
  for (const auto& e : c->entries) m = std::max(m, e.seq);
  return m;
}

}  // namespace

ChangeJournal::ChangeJournal(std::string state_dir, JournalOptions options)
    : state_dir_(std::move(state_dir)), options_(options) {}

Result<std::shared_ptr<ChangeJournal::File>> ChangeJournal::OpenFile(const std::string& path,
                                                                     uint64_t generation,
                                                                     uint64_t* max_seq,
                                                                     uint64_t* torn_bytes) {
  *max_seq = 0;
  *torn_bytes = 0;
  int raw = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (raw < 0) return Status::FromErrno(errno, "open journal", path);
  auto file = std::make_shared<File>();
  file->fd.reset(raw);
  struct stat st {};
  if (::fstat(raw, &st) != 0) return Status::FromErrno(errno, "stat journal", path);
  uint64_t keep = 0;
  if (st.st_size > 0) {
    ASSIGN_OR_RETURN(JournalFileContents c, ReadJournalFile(path));
    for (const auto& e : c.entries) *max_seq = std::max(*max_seq, e.seq);
    keep = c.valid_end;
    if (keep > 0 && c.generation != generation) {
      return Status::Corrupt("journal " + path + " belongs to generation " +
                             std::to_string(c.generation));
    }
    if (c.bad_tail_bytes > 0) {
      LogWarn("journal " + path + ": dropping a torn tail of " +
              std::to_string(c.bad_tail_bytes) + " bytes (" + c.bad_tail_reason + ")");
    }
    *torn_bytes = static_cast<uint64_t>(st.st_size) - keep;
    if (keep != static_cast<uint64_t>(st.st_size) &&
        ::ftruncate(raw, static_cast<off_t>(keep)) != 0) {
      return Status::FromErrno(errno, "truncate torn journal tail", path);
    }
  }
  if (keep == 0) {
    RETURN_IF_ERROR(WriteAll(raw, EncodeJournalHeader(generation)).WithContext("journal " + path));
    keep = kJournalHeaderSize;
  }
  file->size = keep;
  return file;
}

Result<std::unique_ptr<ChangeJournal>> ChangeJournal::Open(const std::string& state_dir,
                                                           uint64_t live_generation,
                                                           JournalOptions options) {
  if (live_generation == 0) return Status::InvalidArgument("journal: generation 0");
  if (options.flush_interval.count() <= 0) {
    return Status::InvalidArgument("journal: flush_interval must be positive");
  }
  if (options.max_queued_entries < 2) options.max_queued_entries = 2;
  RETURN_IF_ERROR(MakeDirs(layout::JournalDir(state_dir), 0700));
  std::unique_ptr<ChangeJournal> j(new ChangeJournal(state_dir, options));
  uint64_t max_seq = 0;
  uint64_t torn = 0;
  ASSIGN_OR_RETURN(j->file_, OpenFile(layout::JournalPath(state_dir, live_generation),
                                      live_generation, &max_seq, &torn));
  if (max_seq == 0) {
    // Continue the numbering of the newest older journal that has records.
    ASSIGN_OR_RETURN(std::vector<uint64_t> gens, ListJournalGenerations(state_dir));
    for (auto it = gens.rbegin(); it != gens.rend() && max_seq == 0; ++it) {
      if (*it < live_generation) max_seq = MaxSeqIn(layout::JournalPath(state_dir, *it));
    }
  }
  j->torn_bytes_dropped_ = torn;
  j->generation_ = live_generation;
  j->next_seq_ = max_seq + 1;
  j->queue_.reserve(std::min<size_t>(options.max_queued_entries, 4096));
  j->spare_.reserve(j->queue_.capacity());
  if (options.start_flusher) j->flusher_ = std::thread([p = j.get()] { p->FlusherLoop(); });
  return j;
}

ChangeJournal::~ChangeJournal() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  flusher_cv_.notify_all();
  room_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  Status st = Flush();
  if (!st.ok()) LogError("journal: final flush: " + st.ToString());
}

bool ChangeJournal::FullLocked() const {
  return queue_.size() + pending_.size() >= options_.max_queued_entries;
}

void ChangeJournal::WaitForRoomLocked(std::unique_lock<std::mutex>& lock) {
  if (!FullLocked() || stop_) return;
  ++blocked_records_;
  if (!options_.start_flusher) {
    // No flusher to wait for: write the queue ourselves (lock order: io_mu_
    // before mu_, so drop mu_ first).
    lock.unlock();
    {
      std::lock_guard<std::mutex> io(io_mu_);
      Status st = WriteQueuedLocked(/*emit_all_pending=*/true);
      (void)st;  // kept in sticky_error_
    }
    lock.lock();
    return;
  }
  flush_requested_ = true;
  flusher_cv_.notify_one();
  room_cv_.wait(lock, [this] { return !FullLocked() || stop_; });
}

void ChangeJournal::EnqueueLocked(JournalEntry e) {
  e.seq = next_seq_++;
  if (e.time_ns == 0) e.time_ns = RealtimeNs();
  e.generation = generation_;
  queue_.push_back(std::move(e));
  queue_high_water_ = std::max<uint64_t>(queue_high_water_, queue_.size() + pending_.size());
}

void ChangeJournal::Record(JournalEntry e) {
  if (options_.resolve_comm && e.comm.empty() && e.pid > 0) e.comm = comms_.Lookup(e.pid);
  if (e.time_ns == 0) e.time_ns = RealtimeNs();
  std::unique_lock<std::mutex> lock(mu_);
  while (FullLocked() && !stop_) WaitForRoomLocked(lock);
  EnqueueLocked(std::move(e));
}

void ChangeJournal::RecordWrite(uint64_t fh, JournalEntry w) {
  w.op = JournalOp::kWrite;
  w.count = 1;
  if (w.time_ns == 0) w.time_ns = RealtimeNs();
  const uint64_t end = w.offset + w.length;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto it = pending_.find(fh);
    if (it != pending_.end()) {
      JournalEntry& p = it->second.entry;
      const uint64_t p_end = p.offset + p.length;
      if (p.ino == w.ino && p.uid == w.uid && p.pid == w.pid && w.offset <= p_end &&
          end >= p.offset) {
        p.offset = std::min(p.offset, w.offset);
        p.length = std::max(p_end, end) - p.offset;
        ++p.count;
        ++writes_coalesced_;
        return;
      }
      // Not contiguous (or another caller): the pending run is complete.
      // Turning it into a queued entry does not grow memory, so no wait.
      JournalEntry done = std::move(p);
      pending_.erase(it);
      EnqueueLocked(std::move(done));
    }
    if (FullLocked() && !stop_) {
      WaitForRoomLocked(lock);
      continue;  // the lock was dropped: look again
    }
    break;
  }
  if (options_.resolve_comm && w.comm.empty() && w.pid > 0) {
    // Only the first write of a run needs the name. The cache takes its own
    // lock; this one stays held so the handle's state cannot change.
    w.comm = comms_.Lookup(w.pid);
  }
  pending_.emplace(fh, PendingWrite{std::move(w), std::chrono::steady_clock::now()});
  queue_high_water_ = std::max<uint64_t>(queue_high_water_, queue_.size() + pending_.size());
}

void ChangeJournal::FlushHandle(uint64_t fh) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(fh);
  if (it == pending_.end()) return;
  JournalEntry done = std::move(it->second.entry);
  pending_.erase(it);
  EnqueueLocked(std::move(done));
}

void ChangeJournal::ReleaseHandle(uint64_t fh) { FlushHandle(fh); }

void ChangeJournal::EmitPendingLocked(std::chrono::milliseconds max_age) {
  if (pending_.empty()) return;
  const auto cutoff = std::chrono::steady_clock::now() - max_age;
  std::vector<JournalEntry> ready;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (max_age.count() == 0 || it->second.first <= cutoff) {
      ready.push_back(std::move(it->second.entry));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  // Oldest first, so seq order follows the order the runs started in.
  std::sort(ready.begin(), ready.end(),
            [](const JournalEntry& a, const JournalEntry& b) { return a.time_ns < b.time_ns; });
  for (auto& e : ready) EnqueueLocked(std::move(e));
}

Status ChangeJournal::AppendLocked(const std::vector<JournalEntry>& batch) {
  if (batch.empty()) return Status::Ok();
  if (!file_) return Status::Internal("journal: no open file");
  encode_buf_.clear();
  for (const auto& e : batch) AppendJournalFrame(e, encode_buf_);
  Status st = WriteAll(file_->fd.get(), encode_buf_);
  if (!st.ok()) {
    // Cut a partial append back so that later appends stay readable.
    if (::ftruncate(file_->fd.get(), static_cast<off_t>(file_->size)) != 0) {
      LogError("journal: cannot cut back a failed append");
    }
    st = st.WithContext("journal append");
    last_error_ = st.ToString();
    if (sticky_error_.ok()) sticky_error_ = st;
    return st;
  }
  file_->size += encode_buf_.size();
  records_written_ += batch.size();
  bytes_written_ += encode_buf_.size();
  unsynced_ = true;
  if (encode_buf_.capacity() > (4u << 20)) std::string().swap(encode_buf_);
  return Status::Ok();
}

Status ChangeJournal::WriteQueuedLocked(bool emit_all_pending) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    EmitPendingLocked(emit_all_pending ? std::chrono::milliseconds(0) : options_.flush_interval);
    spare_.clear();
    queue_.swap(spare_);
  }
  room_cv_.notify_all();
  Status st = AppendLocked(spare_);
  spare_.clear();
  return st;
}

Status ChangeJournal::Rotate(uint64_t new_generation) {
  std::lock_guard<std::mutex> io(io_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (new_generation <= generation_) {
      return Status::InvalidArgument("journal rotate: generation " +
                                     std::to_string(new_generation) + " after " +
                                     std::to_string(generation_));
    }
    EmitPendingLocked(std::chrono::milliseconds(0));
    spare_.clear();
    queue_.swap(spare_);
    generation_ = new_generation;
  }
  room_cv_.notify_all();
  Status st = AppendLocked(spare_);
  spare_.clear();
  if (st.ok() && file_) st = SyncFd(file_->fd.get(), "journal");
  if (st.ok()) unsynced_ = false;
  uint64_t max_seq = 0;
  uint64_t torn = 0;
  Result<std::shared_ptr<File>> next = OpenFile(layout::JournalPath(state_dir_, new_generation),
                                                new_generation, &max_seq, &torn);
  if (!next.ok()) {
    // Keep appending to the old file rather than losing records; the error
    // is reported now and by the next Flush.
    Status err = next.status().WithContext("journal rotate");
    last_error_ = err.ToString();
    if (sticky_error_.ok()) sticky_error_ = err;
    return err;
  }
  file_ = std::move(next).value();
  torn_bytes_dropped_ += torn;
  return st;
}

Status ChangeJournal::Flush() {
  std::lock_guard<std::mutex> io(io_mu_);
  Status st = WriteQueuedLocked(/*emit_all_pending=*/true);
  if (file_ && unsynced_) {
    Status s = SyncFd(file_->fd.get(), "journal");
    if (s.ok()) unsynced_ = false;
    if (st.ok()) st = s;
  }
  Status sticky = std::exchange(sticky_error_, Status::Ok());
  return sticky.ok() ? st : sticky;
}

void ChangeJournal::FlusherLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    flusher_cv_.wait_for(lock, options_.flush_interval,
                         [this] { return stop_ || flush_requested_; });
    if (stop_) break;
    const bool all = std::exchange(flush_requested_, false);
    lock.unlock();
    std::shared_ptr<File> to_sync;
    {
      std::lock_guard<std::mutex> io(io_mu_);
      Status st = WriteQueuedLocked(all);
      if (!st.ok()) LogWarn(st.ToString());
      if (options_.sync_on_flush && unsynced_) {
        to_sync = file_;
        unsynced_ = false;
      }
    }
    // Sync outside io_mu_: appends (and a seal's Rotate) need not wait for
    // the disk. A failed sync is retried by the next Flush/Rotate only if
    // more is written; log it.
    if (to_sync) {
      Status st = SyncFd(to_sync->fd.get(), "journal");
      if (!st.ok()) {
        LogWarn(st.ToString());
        std::lock_guard<std::mutex> io(io_mu_);
        last_error_ = st.ToString();
        if (sticky_error_.ok()) sticky_error_ = st;
      }
    }
    lock.lock();
  }
}

uint64_t ChangeJournal::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

JournalStats ChangeJournal::stats() const {
  JournalStats s;
  {
    std::lock_guard<std::mutex> io(io_mu_);
    s.records_written = records_written_;
    s.bytes_written = bytes_written_;
    s.torn_bytes_dropped = torn_bytes_dropped_;
    s.last_error = last_error_;
    std::lock_guard<std::mutex> lock(mu_);
    s.generation = generation_;
    s.next_seq = next_seq_;
    s.writes_coalesced = writes_coalesced_;
    s.queue_high_water = queue_high_water_;
    s.blocked_records = blocked_records_;
    s.pending_writes = pending_.size();
  }
  return s;
}

}  // namespace ctrsnap
