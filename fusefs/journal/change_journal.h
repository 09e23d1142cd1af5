// ChangeJournal: the write journal of one ctrsnap-fs state directory.
//
// The FUSE layer calls Record()/RecordWrite() for every mutating operation
// that succeeded; a background flusher thread appends the records to
// STATE/journal/<generation>.log (format: journal_format.h) at least every
// JournalOptions::flush_interval, and fdatasyncs them.
//
// Threading: every public method is thread-safe. Record() and RecordWrite()
// take one mutex for a few hundred nanoseconds and never do disk I/O
// themselves: they append to an in-memory queue. The queue is bounded
// (JournalOptions::max_queued_entries): when it is full, Record() wakes the
// flusher and BLOCKS until the flusher has taken the queue (back-pressure;
// nothing is ever dropped). So memory stays bounded whatever the write rate.
//
// Write coalescing: RecordWrite(fh, ...) keeps one pending kWrite entry per
// file handle; a write that touches or overlaps the pending range (same
// caller) extends it. The pending entry is emitted (gets its seq then) when
// the next write on the handle is not contiguous, at FlushHandle() (FUSE
// flush), ReleaseHandle() (FUSE release), Flush(), Rotate(), and by the
// flusher once it is older than flush_interval, so a file held open and
// written forever still shows up within about two intervals.
//
// Generations: entries are stamped with the live generation when they are
// queued. Rotate(new_gen) moves the journal to the new generation: everything
// recorded before it (pending writes included) goes to the old file, which is
// fsynced; everything after goes to the new one. The fs calls Rotate while it
// holds its seal lock exclusively; Rotate costs one write + fdatasync of what
// was queued since the last flush, plus creating the new file.
//
// Lock order: io_mu_ before mu_. Neither is held while calling out.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"
#include "fusefs/journal/caller_comm.h"
#include "fusefs/journal/journal_entry.h"

namespace ctrsnap {

struct JournalOptions {
  // Upper bound on entries held in memory (queue + pending writes); Record()
  // blocks when it is reached. About 150 bytes per entry plus path lengths.
  size_t max_queued_entries = 65536;
  // The flusher writes at least this often. Must be > 0.
  std::chrono::milliseconds flush_interval{1000};
  // fdatasync after each periodic write (in the flusher, outside every lock).
  bool sync_on_flush = true;
  // Fill JournalEntry::comm from /proc/PID/comm (cached ~1 s per pid) when
  // the caller left it empty.
  bool resolve_comm = true;
  // Tests only: no background thread; data reaches the file at Flush(),
  // Rotate() and when the queue is full.
  bool start_flusher = true;
};

struct JournalStats {
  uint64_t generation = 0;
  uint64_t next_seq = 0;
  uint64_t records_written = 0;  // since Open
  uint64_t bytes_written = 0;    // since Open
  uint64_t writes_coalesced = 0; // RecordWrite calls merged into an existing pending entry
  uint64_t queue_high_water = 0;
  uint64_t blocked_records = 0;  // Record calls that waited for a full queue
  uint64_t pending_writes = 0;   // handles with a pending coalesced write now
  uint64_t torn_bytes_dropped = 0;  // torn tail cut off the live file at Open
  std::string last_error;        // last I/O error of the flusher, empty if none
};

class ChangeJournal {
 public:
  // Opens (creating STATE/journal/ 0700 and the file 0600 as needed) the
  // journal of LIVE_GENERATION for appending. An existing file is checked: a
  // torn tail is truncated away (counted in stats().torn_bytes_dropped), and
  // sequence numbers continue after the highest found in this generation's
  // file or, when it is empty, in the closest older journal file.
  static Result<std::unique_ptr<ChangeJournal>> Open(const std::string& state_dir,
                                                     uint64_t live_generation,
                                                     JournalOptions options = {});
  // Stops the flusher after writing and syncing everything (errors logged).
  ~ChangeJournal();
  ChangeJournal(const ChangeJournal&) = delete;
  ChangeJournal& operator=(const ChangeJournal&) = delete;

  // Queues E. Its seq, time_ns (when 0) and generation are assigned here.
  void Record(JournalEntry e);

  // One write(2) of W.length bytes at W.offset through file handle FH (the
  // FUSE fh, unique among open handles). W carries path, ino, offset, length
  // and the caller; op/count are set here. See "Write coalescing" above.
  void RecordWrite(uint64_t fh, JournalEntry w);
  // Emits FH's pending write, if any (FUSE flush).
  void FlushHandle(uint64_t fh);
  // Emits FH's pending write and forgets FH (FUSE release).
  void ReleaseHandle(uint64_t fh);

  // Seal: see "Generations" above. REQUIRES: new_generation > generation().
  Status Rotate(uint64_t new_generation);

  // Writes everything recorded so far (pending writes included) and
  // fdatasyncs the file. Returns the first I/O error since the last Flush.
  Status Flush();

  uint64_t generation() const;
  JournalStats stats() const;
  const std::string& state_dir() const { return state_dir_; }

 private:
  struct PendingWrite {
    JournalEntry entry;
    std::chrono::steady_clock::time_point first;
  };
  // An open journal file; shared so that the flusher can fdatasync it
  // outside io_mu_ while Rotate moves on to the next file.
  struct File {
    UniqueFd fd;
    uint64_t size = 0;  // bytes known to be good; a failed append is cut back to it
  };

  ChangeJournal(std::string state_dir, JournalOptions options);

  static Result<std::shared_ptr<File>> OpenFile(const std::string& path, uint64_t generation,
                                                uint64_t* max_seq, uint64_t* torn_bytes);
  // REQUIRES: mu_ held. True when no entry may be added without waiting.
  bool FullLocked() const;
  // REQUIRES: mu_ held. Waits (once) while the queue is full.
  void WaitForRoomLocked(std::unique_lock<std::mutex>& lock);
  // REQUIRES: mu_ held. Stamps E and appends it to queue_; never waits.
  void EnqueueLocked(JournalEntry e);
  // REQUIRES: mu_ held. Emits pending writes at least MAX_AGE old (all when 0).
  void EmitPendingLocked(std::chrono::milliseconds max_age);
  // REQUIRES: io_mu_ held, mu_ not held. Takes the queue (after emitting
  // pending writes, all or the old ones) and appends it to file_.
  Status WriteQueuedLocked(bool emit_all_pending);
  // REQUIRES: io_mu_ held.
  Status AppendLocked(const std::vector<JournalEntry>& batch);
  void FlusherLoop();

  const std::string state_dir_;
  const JournalOptions options_;
  CallerCommCache comms_;

  // Serializes file I/O (appends, rotation). Held while writing, not while
  // syncing in the flusher.
  mutable std::mutex io_mu_;
  std::shared_ptr<File> file_;            // GUARDED_BY(io_mu_)
  std::vector<JournalEntry> spare_;       // GUARDED_BY(io_mu_): swapped with queue_
  std::string encode_buf_;                // GUARDED_BY(io_mu_)
  Status sticky_error_;                   // GUARDED_BY(io_mu_)
  bool unsynced_ = false;                 // GUARDED_BY(io_mu_)
  uint64_t records_written_ = 0;          // GUARDED_BY(io_mu_)
  uint64_t bytes_written_ = 0;            // GUARDED_BY(io_mu_)
  uint64_t torn_bytes_dropped_ = 0;       // GUARDED_BY(io_mu_)
  std::string last_error_;                // GUARDED_BY(io_mu_)

  mutable std::mutex mu_;
  std::condition_variable room_cv_;     // queue has room again
  std::condition_variable flusher_cv_;  // work for the flusher / stop
  std::vector<JournalEntry> queue_;     // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, PendingWrite> pending_;  // GUARDED_BY(mu_), fh -> write
  uint64_t generation_ = 0;            // GUARDED_BY(mu_)
  uint64_t next_seq_ = 1;              // GUARDED_BY(mu_)
  bool stop_ = false;                  // GUARDED_BY(mu_)
  bool flush_requested_ = false;       // GUARDED_BY(mu_)
  uint64_t writes_coalesced_ = 0;      // GUARDED_BY(mu_)
  uint64_t queue_high_water_ = 0;      // GUARDED_BY(mu_)
  uint64_t blocked_records_ = 0;       // GUARDED_BY(mu_)

  std::thread flusher_;
};

}  // namespace ctrsnap
