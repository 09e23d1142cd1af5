#include "fusefs/journal/change_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include <nlohmann/json.hpp>

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
  file->generation = generation;
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

void ChangeJournal::OpenHandle(uint64_t fh, JournalEntry opener) {
  if (options_.resolve_comm && opener.comm.empty() && opener.pid > 0) {
    opener.comm = comms_.Lookup(opener.pid);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (openers_.size() >= options_.max_queued_entries && !openers_.count(fh)) return;
  openers_[fh] = Opener{opener.uid, opener.gid, opener.pid, std::move(opener.comm)};
}

void ChangeJournal::RecordWrite(uint64_t fh, JournalEntry w) {
  w.op = JournalOp::kWrite;
  w.count = 1;
  if (w.time_ns == 0) w.time_ns = RealtimeNs();
  const uint64_t end = w.offset + w.length;
  std::unique_lock<std::mutex> lock(mu_);
  if (w.pid == 0) {
    // Writeback of cached pages carries no caller: credit the opener.
    if (auto it = openers_.find(fh); it != openers_.end()) {
      w.uid = it->second.uid;
      w.gid = it->second.gid;
      w.pid = it->second.pid;
      w.comm = it->second.comm;
    }
  }
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

void ChangeJournal::ReleaseHandle(uint64_t fh) {
  FlushHandle(fh);
  std::lock_guard<std::mutex> lock(mu_);
  openers_.erase(fh);
}

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

void ChangeJournal::NoteErrorLocked(const Status& st, uint64_t dropped) {
  records_dropped_ += dropped;
  last_error_ = st.ToString();
  if (sticky_error_.ok()) sticky_error_ = st;
  LogWarn(last_error_);
}

Status ChangeJournal::SwitchFileLocked(uint64_t gen) {
  while (!file_ || file_->generation != gen) {
    // The next file: the oldest generation rotated to that is <= GEN (each
    // gets its file, even when nothing was recorded in it), else GEN itself.
    uint64_t next = gen;
    if (!gens_to_open_.empty() && gens_to_open_.front() < gen &&
        (!file_ || gens_to_open_.front() > file_->generation)) {
      next = gens_to_open_.front();
    }
    if (file_ && unsynced_) {
      // The sealed generation's journal is complete: make it durable.
      Status st = SyncFd(file_->fd.get(), "journal");
      if (!st.ok()) NoteErrorLocked(st, 0);
    }
    unsynced_ = false;
    uint64_t max_seq = 0;
    uint64_t torn = 0;
    Result<std::shared_ptr<File>> f =
        OpenFile(layout::JournalPath(state_dir_, next), next, &max_seq, &torn);
    if (!f.ok()) {
      file_.reset();  // retried with the next batch
      return f.status().WithContext("journal: open generation " + std::to_string(next));
    }
    file_ = std::move(f).value();
    torn_bytes_dropped_ += torn;
    while (!gens_to_open_.empty() && gens_to_open_.front() <= next) {
      gens_to_open_.erase(gens_to_open_.begin());
    }
  }
  return Status::Ok();
}

Status ChangeJournal::AppendLocked(const JournalEntry* begin, const JournalEntry* end) {
  if (begin == end) return Status::Ok();
  encode_buf_.clear();
  for (const JournalEntry* e = begin; e != end; ++e) AppendJournalFrame(*e, encode_buf_);
  Status st = WriteAll(file_->fd.get(), encode_buf_);
  if (!st.ok()) {
    // Cut a partial append back so that later appends stay readable.
    if (::ftruncate(file_->fd.get(), static_cast<off_t>(file_->size)) != 0) {
      LogError("journal: cannot cut back a failed append");
    }
    return st.WithContext("journal append");
  }
  file_->size += encode_buf_.size();
  records_written_ += static_cast<uint64_t>(end - begin);
  bytes_written_ += encode_buf_.size();
  unsynced_ = true;
  if (encode_buf_.capacity() > (4u << 20)) std::string().swap(encode_buf_);
  return Status::Ok();
}

Status ChangeJournal::WriteQueuedLocked(bool emit_all_pending) {
  uint64_t live = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    EmitPendingLocked(emit_all_pending ? std::chrono::milliseconds(0) : options_.flush_interval);
    spare_.clear();
    queue_.swap(spare_);
    live = generation_;
    gens_to_open_.insert(gens_to_open_.end(), rotations_.begin(), rotations_.end());
    rotations_.clear();
  }
  room_cv_.notify_all();
  Status first;
  // The queue is in seq order and generations only grow: write it run by run.
  const JournalEntry* p = spare_.data();
  const JournalEntry* const end = p + spare_.size();
  while (p != end) {
    const uint64_t gen = p->generation;
    const JournalEntry* run_end = p;
    while (run_end != end && run_end->generation == gen) ++run_end;
    Status st = SwitchFileLocked(gen);
    if (st.ok()) st = AppendLocked(p, run_end);
    if (!st.ok()) {
      NoteErrorLocked(st, static_cast<uint64_t>(run_end - p));
      if (first.ok()) first = st;
    }
    p = run_end;
  }
  spare_.clear();
  // After a Rotate with nothing recorded since: still close the old file
  // and create the new one now.
  Status st = SwitchFileLocked(live);
  if (!st.ok()) {
    NoteErrorLocked(st, 0);
    if (first.ok()) first = st;
  }
  return first;
}

Status ChangeJournal::Rotate(uint64_t new_generation) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (new_generation <= generation_) {
      return Status::InvalidArgument("journal rotate: generation " +
                                     std::to_string(new_generation) + " after " +
                                     std::to_string(generation_));
    }
    // Writes pending on open handles happened in the old generation.
    EmitPendingLocked(std::chrono::milliseconds(0));
    generation_ = new_generation;
    rotations_.push_back(new_generation);
    flush_requested_ = true;
  }
  // Not even a wakeup here: on a busy machine the woken flusher can preempt
  // the sealing thread. The caller's Flush() after the seal, or the
  // flusher's next tick, completes the rotation.
  if (options_.start_flusher) return Status::Ok();
  // No flusher (tests): do its work now.
  std::lock_guard<std::mutex> io(io_mu_);
  return WriteQueuedLocked(/*emit_all_pending=*/true);
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
      Status st = WriteQueuedLocked(all);  // errors: logged and kept sticky
      (void)st;
      if (options_.sync_on_flush && unsynced_ && file_) {
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
        std::lock_guard<std::mutex> io(io_mu_);
        NoteErrorLocked(st, 0);
      }
    }
    lock.lock();
  }
}

nlohmann::json JournalStatsToJson(const JournalStats& s) {
  nlohmann::json j = {{"generation", s.generation},
                      {"next_seq", s.next_seq},
                      {"records_written", s.records_written},
                      {"bytes_written", s.bytes_written},
                      {"writes_coalesced", s.writes_coalesced},
                      {"queue_high_water", s.queue_high_water},
                      {"blocked_records", s.blocked_records},
                      {"pending_writes", s.pending_writes},
                      {"torn_bytes_dropped", s.torn_bytes_dropped},
                      {"records_dropped", s.records_dropped}};
  if (!s.last_error.empty()) j["last_error"] = s.last_error;
  return j;
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
    s.records_dropped = records_dropped_;
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
