#include "fusefs/journal/journal_entry.h"

#include <array>
#include <bit>
#include <type_traits>
#include <cstring>
#include <utility>

#include <nlohmann/json.hpp>

namespace ctrsnap {
namespace {

constexpr std::array<std::pair<JournalOp, std::string_view>, 17> kOpNames = {{
    {JournalOp::kCreate, "create"},
    {JournalOp::kMkdir, "mkdir"},
    {JournalOp::kMknod, "mknod"},
    {JournalOp::kSymlink, "symlink"},
    {JournalOp::kLink, "link"},
    {JournalOp::kUnlink, "unlink"},
    {JournalOp::kRmdir, "rmdir"},
    {JournalOp::kRename, "rename"},
    {JournalOp::kWrite, "write"},
    {JournalOp::kTruncate, "truncate"},
    {JournalOp::kChmod, "chmod"},
    {JournalOp::kChown, "chown"},
    {JournalOp::kUtimes, "utimes"},
    {JournalOp::kSetxattr, "setxattr"},
    {JournalOp::kRemovexattr, "removexattr"},
    {JournalOp::kFallocate, "fallocate"},
    {JournalOp::kCopyFileRange, "copy_file_range"},
}};

// Payload layout version; fields are only ever appended, and decoders ignore
// bytes past the fields they know.
constexpr uint8_t kPayloadVersion = 1;

template <typename T>
void Put(std::string& out, T v) {
  static_assert(std::is_integral_v<T>);
  using U = std::make_unsigned_t<T>;
  U u = static_cast<U>(v);
  if constexpr (std::endian::native == std::endian::little) {
    char b[sizeof(T)];
    std::memcpy(b, &u, sizeof(T));
    out.append(b, sizeof(T));
  } else {
    for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  }
}

void PutString(std::string& out, const std::string& s) {
  Put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  template <typename T>
  bool Get(T& v) {
    using U = std::make_unsigned_t<T>;
    if (in_.size() - pos_ < sizeof(T)) return false;
    U u = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      u |= static_cast<U>(static_cast<U>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i));
    }
    pos_ += sizeof(T);
    v = static_cast<T>(u);
    return true;
  }
  bool GetString(std::string& s) {
    uint32_t n = 0;
    if (!Get(n) || in_.size() - pos_ < n) return false;
    s.assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

std::string_view JournalOpName(JournalOp op) {
  for (const auto& [o, name] : kOpNames) {
    if (o == op) return name;
  }
  return "unknown";
}

std::optional<JournalOp> ParseJournalOp(std::string_view name) {
  for (const auto& [o, n] : kOpNames) {
    if (n == name) return o;
  }
  return std::nullopt;
}

void AppendEncodedJournalEntry(const JournalEntry& e, std::string& out) {
  out.reserve(out.size() + 96 + e.path.size() + e.path2.size() + e.name.size() + e.comm.size());
  Put<uint8_t>(out, kPayloadVersion);
  Put<uint8_t>(out, static_cast<uint8_t>(e.op));
  Put(out, e.flags);
  Put(out, e.seq);
  Put(out, e.time_ns);
  Put(out, e.generation);
  Put(out, e.ino);
  Put(out, e.offset);
  Put(out, e.length);
  Put(out, e.count);
  Put(out, e.mode);
  Put(out, e.rdev);
  Put(out, e.owner_uid);
  Put(out, e.owner_gid);
  Put(out, e.uid);
  Put(out, e.gid);
  Put(out, e.pid);
  PutString(out, e.path);
  PutString(out, e.path2);
  PutString(out, e.name);
  PutString(out, e.comm);
}

std::string EncodeJournalEntry(const JournalEntry& e) {
  std::string out;
  AppendEncodedJournalEntry(e, out);
  return out;
}

Result<JournalEntry> DecodeJournalEntry(std::string_view payload) {
  Decoder d(payload);
  JournalEntry e;
  uint8_t version = 0;
  uint8_t op = 0;
  if (!d.Get(version)) return Status::Corrupt("journal record: empty payload");
  if (version != kPayloadVersion) {
    return Status::Corrupt("journal record: unknown payload version " + std::to_string(version));
  }
  bool ok = d.Get(op) && d.Get(e.flags) && d.Get(e.seq) && d.Get(e.time_ns) &&
            d.Get(e.generation) && d.Get(e.ino) && d.Get(e.offset) && d.Get(e.length) &&
            d.Get(e.count) && d.Get(e.mode) && d.Get(e.rdev) && d.Get(e.owner_uid) &&
            d.Get(e.owner_gid) && d.Get(e.uid) && d.Get(e.gid) && d.Get(e.pid) &&
            d.GetString(e.path) && d.GetString(e.path2) && d.GetString(e.name) &&
            d.GetString(e.comm);
  if (!ok) return Status::Corrupt("journal record: truncated payload");
  e.op = static_cast<JournalOp>(op);
  if (JournalOpName(e.op) == "unknown") {
    return Status::Corrupt("journal record: unknown operation " + std::to_string(op));
  }
  return e;
}

nlohmann::json JournalEntryToJson(const JournalEntry& e) {
  nlohmann::json j;
  j["seq"] = e.seq;
  j["time_ns"] = e.time_ns;
  j["gen"] = e.generation;
  j["op"] = std::string(JournalOpName(e.op));
  // Paths are raw bytes from the container; invalid UTF-8 must not make
  // dump() throw, so callers dump with error_handler_t::replace.
  j["path"] = e.path;
  j["ino"] = e.ino;
  switch (e.op) {
    case JournalOp::kRename:
      j["path2"] = e.path2;
      j["flags"] = e.flags;
      break;
    case JournalOp::kLink:
    case JournalOp::kSymlink:
      j["path2"] = e.path2;
      break;
    case JournalOp::kWrite:
      j["offset"] = e.offset;
      j["length"] = e.length;
      j["count"] = e.count;
      break;
    case JournalOp::kTruncate:
      j["size"] = e.length;
      break;
    case JournalOp::kFallocate:
      j["offset"] = e.offset;
      j["length"] = e.length;
      j["flags"] = e.flags;
      break;
    case JournalOp::kCopyFileRange:
      j["path2"] = e.path2;
      j["offset"] = e.offset;
      j["length"] = e.length;
      break;
    case JournalOp::kCreate:
    case JournalOp::kMkdir:
    case JournalOp::kChmod:
      j["mode"] = e.mode;
      break;
    case JournalOp::kMknod:
      j["mode"] = e.mode;
      j["rdev"] = e.rdev;
      break;
    case JournalOp::kChown:
      if (e.owner_uid != UINT32_MAX) j["owner_uid"] = e.owner_uid;
      if (e.owner_gid != UINT32_MAX) j["owner_gid"] = e.owner_gid;
      break;
    case JournalOp::kSetxattr:
      j["name"] = e.name;
      j["size"] = e.length;
      j["flags"] = e.flags;
      break;
    case JournalOp::kRemovexattr:
      j["name"] = e.name;
      break;
    case JournalOp::kUnlink:
    case JournalOp::kRmdir:
    case JournalOp::kUtimes:
      break;
  }
  j["uid"] = e.uid;
  j["gid"] = e.gid;
  j["pid"] = e.pid;
  j["comm"] = e.comm;
  return j;
}

}  // namespace ctrsnap
