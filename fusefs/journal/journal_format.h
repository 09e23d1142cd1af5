// On-disk format of a journal file (STATE/journal/N.log, one per generation),
// and JournalReader, which reads it.
//
//   file   := header record*
//   header := "CTRSNAPJ" (8 bytes) | u32 format version (1) | u32 0 | u64 generation
//   record := u32 payload length | u32 crc | payload (EncodeJournalEntry)
// Integers are little endian. crc = CRC-32 (zlib) of the length field and the
// payload, so a torn length is caught as well as a torn payload.
//
// Files are append-only. A crash can leave a torn tail: a partial header or a
// partial / garbled last record. Readers stop at the first frame that does not
// check out and report where (never an error); the writer truncates such a
// tail away when it reopens the file (ChangeJournal::Open).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"
#include "fusefs/journal/journal_entry.h"

namespace ctrsnap {

inline constexpr char kJournalMagic[8] = {'C', 'T', 'R', 'S', 'N', 'A', 'P', 'J'};
inline constexpr uint32_t kJournalFormatVersion = 1;
inline constexpr size_t kJournalHeaderSize = 24;
inline constexpr size_t kJournalFrameHeaderSize = 8;
// Larger frames are treated as garbage (paths are at most PATH_MAX each).
inline constexpr uint32_t kJournalMaxPayload = 1 << 20;

std::string EncodeJournalHeader(uint64_t generation);
// Appends one framed record for E to OUT.
void AppendJournalFrame(const JournalEntry& e, std::string& out);

// Reads one journal file front to back. Also usable to follow a file that is
// still being written: at the end, Next() returns nullopt, and a later Next()
// picks up whatever was appended since (an incomplete last frame is retried,
// not skipped).
class JournalReader {
 public:
  static Result<JournalReader> Open(const std::string& path);

  JournalReader(JournalReader&&) = default;
  JournalReader& operator=(JournalReader&&) = default;

  // The next valid record, or nullopt at the end of the valid data. Errors
  // only for read(2) failures; a torn or corrupt tail is reported by
  // has_bad_tail(), not as an error.
  Result<std::optional<JournalEntry>> Next();

  // The generation in the header; 0 until a complete header was read.
  uint64_t generation() const { return generation_; }
  // Offset just past the last valid record (or the header): where a writer
  // may safely append.
  uint64_t valid_end() const { return valid_end_; }
  // True when bytes follow valid_end() that are not (yet) a valid frame: a
  // torn tail after a crash, or a record being appended right now.
  bool has_bad_tail() const { return bad_tail_bytes_ > 0; }
  uint64_t bad_tail_bytes() const { return bad_tail_bytes_; }
  // Why the tail is bad ("truncated frame", "crc mismatch", ...).
  const std::string& bad_tail_reason() const { return bad_tail_reason_; }
  const std::string& path() const { return path_; }

 private:
  JournalReader(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  // Reads what the file holds beyond buf_; false when nothing new.
  Result<bool> Fill();

  std::string path_;
  UniqueFd fd_;
  std::string buf_;        // file bytes [buf_offset_, buf_offset_ + buf_.size())
  uint64_t buf_offset_ = 0;
  size_t pos_ = 0;         // parse position in buf_
  bool header_done_ = false;
  uint64_t generation_ = 0;
  uint64_t valid_end_ = 0;
  uint64_t bad_tail_bytes_ = 0;
  std::string bad_tail_reason_;
};

// Reads a whole journal file (a convenience over JournalReader).
struct JournalFileContents {
  uint64_t generation = 0;
  std::vector<JournalEntry> entries;
  uint64_t valid_end = 0;
  uint64_t bad_tail_bytes = 0;  // > 0: a torn tail was skipped
  std::string bad_tail_reason;
};
Result<JournalFileContents> ReadJournalFile(const std::string& path);

// The generations that have a journal file in STATE/journal, ascending.
Result<std::vector<uint64_t>> ListJournalGenerations(const std::string& state_dir);

}  // namespace ctrsnap
