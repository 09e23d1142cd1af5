// JournalEntry: one record of the write journal ("who changed what, when").
//
// Every mutating operation on a ctrsnap-fs mount becomes one entry. Writes are
// coalesced per open file handle (see ChangeJournal::RecordWrite), so one
// kWrite entry covers the byte range [offset, offset + length) written by
// `count` write calls.
//
// Field use by operation (unused fields stay 0 / empty):
//   create, mknod     path, ino, mode (type + permission bits), rdev (mknod)
//   mkdir             path, ino, mode
//   symlink           path (the link), path2 (its target, verbatim), ino
//   link              path (the new name), path2 (the existing name), ino
//   unlink, rmdir     path, ino
//   rename            path (from), path2 (to), ino, flags (RENAME_NOREPLACE/EXCHANGE/WHITEOUT)
//   write             path, ino, offset, length, count
//   truncate          path, ino, length (the new size)
//   chmod             path, ino, mode
//   chown             path, ino, owner_uid, owner_gid (UINT32_MAX: unchanged)
//   utimes            path, ino
//   setxattr          path, ino, name, length (value size), flags (XATTR_CREATE/REPLACE)
//   removexattr       path, ino, name
//   fallocate         path, ino, offset, length, flags (FALLOC_FL_*)
//   copy_file_range   path (destination), path2 (source), ino (destination), offset, length
// Always: seq, time_ns, generation (assigned by ChangeJournal), uid, gid, pid
// and comm of the caller (host pid; comm = /proc/PID/comm, may be empty when
// the process is gone).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"

namespace ctrsnap {

// Values are stored on disk: never renumber, only append.
enum class JournalOp : uint8_t {
  kCreate = 1,
  kMkdir = 2,
  kMknod = 3,
  kSymlink = 4,
  kLink = 5,
  kUnlink = 6,
  kRmdir = 7,
  kRename = 8,
  kWrite = 9,
  kTruncate = 10,
  kChmod = 11,
  kChown = 12,
  kUtimes = 13,
  kSetxattr = 14,
  kRemovexattr = 15,
  kFallocate = 16,
  kCopyFileRange = 17,
};

// "create", "rename", "copy_file_range", ...; "unknown" for values not listed.
std::string_view JournalOpName(JournalOp op);
std::optional<JournalOp> ParseJournalOp(std::string_view name);

struct JournalEntry {
  uint64_t seq = 0;         // assigned by ChangeJournal; increases across generations
  int64_t time_ns = 0;      // CLOCK_REALTIME; for coalesced writes, the first write
  uint64_t generation = 0;  // assigned by ChangeJournal (the live generation)
  JournalOp op = JournalOp::kWrite;
  uint32_t flags = 0;
  std::string path;   // mount-relative, starts with '/'
  std::string path2;  // second path (rename target, link source, symlink target, copy source)
  std::string name;   // xattr name
  uint64_t ino = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t count = 0;  // writes coalesced into this entry (kWrite), else 0
  uint32_t mode = 0;
  uint32_t rdev = 0;
  uint32_t owner_uid = UINT32_MAX;
  uint32_t owner_gid = UINT32_MAX;
  uint32_t uid = 0;  // caller
  uint32_t gid = 0;
  int32_t pid = 0;   // caller, host pid namespace
  std::string comm;  // caller's command name

  bool operator==(const JournalEntry&) const = default;
};

// Compact binary payload (little endian, strings length-prefixed); framing and
// checksums are the file format's business (journal_format.h).
std::string EncodeJournalEntry(const JournalEntry& e);
// Same, appended to OUT (no temporary string).
void AppendEncodedJournalEntry(const JournalEntry& e, std::string& out);
Result<JournalEntry> DecodeJournalEntry(std::string_view payload);

// {"seq":..,"time_ns":..,"gen":..,"op":"write","path":..,...}: only the fields
// that the operation uses (see the table above), for `ctrsnap log --json`.
nlohmann::json JournalEntryToJson(const JournalEntry& e);

}  // namespace ctrsnap
