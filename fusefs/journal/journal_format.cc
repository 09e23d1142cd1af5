#include "fusefs/journal/journal_format.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/state_layout.h"

namespace ctrsnap {
namespace {

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// CRC over the length field and the payload.
uint32_t FrameCrc(const char* len_field, std::string_view payload) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(len_field), 4);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(payload.data()),
              static_cast<uInt>(payload.size()));
  return static_cast<uint32_t>(crc);
}

constexpr size_t kReadChunk = 64 * 1024;

}  // namespace

std::string EncodeJournalHeader(uint64_t generation) {
  std::string out(kJournalMagic, sizeof(kJournalMagic));
  PutU32(out, kJournalFormatVersion);
  PutU32(out, 0);
  PutU64(out, generation);
  return out;
}

void AppendJournalFrame(const JournalEntry& e, std::string& out) {
  const size_t at = out.size();
  out.append(kJournalFrameHeaderSize, '\0');  // length and crc, filled in below
  AppendEncodedJournalEntry(e, out);
  const size_t len = out.size() - at - kJournalFrameHeaderSize;
  std::string frame_header;
  PutU32(frame_header, static_cast<uint32_t>(len));
  std::memcpy(out.data() + at, frame_header.data(), 4);
  const uint32_t crc =
      FrameCrc(out.data() + at, std::string_view(out.data() + at + kJournalFrameHeaderSize, len));
  frame_header.clear();
  PutU32(frame_header, crc);
  std::memcpy(out.data() + at + 4, frame_header.data(), 4);
}

Result<JournalReader> JournalReader::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::FromErrno(errno, "open journal", path);
  return JournalReader(path, UniqueFd(fd));
}

Result<bool> JournalReader::Fill() {
  // Drop what was parsed already so the buffer stays small when following.
  if (pos_ > kReadChunk) {
    buf_.erase(0, pos_);
    buf_offset_ += pos_;
    pos_ = 0;
  }
  size_t old = buf_.size();
  buf_.resize(old + kReadChunk);
  for (;;) {
    ssize_t n = ::pread(fd_.get(), buf_.data() + old, kReadChunk,
                        static_cast<off_t>(buf_offset_ + old));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      buf_.resize(old);
      return Status::FromErrno(err, "read journal", path_);
    }
    buf_.resize(old + static_cast<size_t>(n));
    return n > 0;
  }
}

Result<std::optional<JournalEntry>> JournalReader::Next() {
  // Makes at least N unparsed bytes available if the file has them.
  auto ensure = [this](size_t n) -> Result<bool> {
    while (buf_.size() - pos_ < n) {
      ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return false;
    }
    return true;
  };
  auto bad_tail = [this](const char* reason) -> Result<std::optional<JournalEntry>> {
    struct stat st {};
    uint64_t size = buf_offset_ + buf_.size();
    if (::fstat(fd_.get(), &st) == 0) size = std::max<uint64_t>(size, static_cast<uint64_t>(st.st_size));
    bad_tail_bytes_ = size > valid_end_ ? size - valid_end_ : 0;
    bad_tail_reason_ = bad_tail_bytes_ > 0 ? reason : "";
    return std::optional<JournalEntry>();
  };

  if (!header_done_) {
    ASSIGN_OR_RETURN(bool have, ensure(kJournalHeaderSize));
    if (!have) return bad_tail("truncated file header");
    const char* h = buf_.data() + pos_;
    if (std::memcmp(h, kJournalMagic, sizeof(kJournalMagic)) != 0) {
      return bad_tail("not a journal file (bad magic)");
    }
    if (GetU32(h + 8) != kJournalFormatVersion) return bad_tail("unsupported journal version");
    generation_ = GetU64(h + 16);
    header_done_ = true;
    pos_ += kJournalHeaderSize;
    valid_end_ = buf_offset_ + pos_;
  }

  ASSIGN_OR_RETURN(bool have_frame, ensure(kJournalFrameHeaderSize));
  if (!have_frame) return bad_tail("truncated frame header");
  const char* f = buf_.data() + pos_;
  uint32_t len = GetU32(f);
  uint32_t crc = GetU32(f + 4);
  if (len == 0 || len > kJournalMaxPayload) return bad_tail("bad frame length");
  ASSIGN_OR_RETURN(bool have_payload, ensure(kJournalFrameHeaderSize + len));
  if (!have_payload) return bad_tail("truncated record");
  f = buf_.data() + pos_;  // ensure() may have moved the buffer
  std::string_view payload(f + kJournalFrameHeaderSize, len);
  if (FrameCrc(f, payload) != crc) return bad_tail("crc mismatch");
  Result<JournalEntry> e = DecodeJournalEntry(payload);
  if (!e.ok()) return bad_tail("undecodable record");
  pos_ += kJournalFrameHeaderSize + len;
  valid_end_ = buf_offset_ + pos_;
  bad_tail_bytes_ = 0;
  bad_tail_reason_.clear();
  return std::optional<JournalEntry>(std::move(e).value());
}

Result<JournalFileContents> ReadJournalFile(const std::string& path) {
  ASSIGN_OR_RETURN(JournalReader r, JournalReader::Open(path));
  JournalFileContents out;
  for (;;) {
    ASSIGN_OR_RETURN(std::optional<JournalEntry> e, r.Next());
    if (!e) break;
    out.entries.push_back(std::move(*e));
  }
  out.generation = r.generation();
  out.valid_end = r.valid_end();
  out.bad_tail_bytes = r.bad_tail_bytes();
  out.bad_tail_reason = r.bad_tail_reason();
  return out;
}

Result<std::vector<uint64_t>> ListJournalGenerations(const std::string& state_dir) {
  const std::string dir = layout::JournalDir(state_dir);
  std::vector<uint64_t> gens;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return gens;
    return Status::FromErrno(errno, "opendir", dir);
  }
  while (dirent* de = ::readdir(d)) {
    std::string_view name(de->d_name);
    if (name.size() < 5 || name.substr(name.size() - 4) != ".log") continue;
    std::string_view digits = name.substr(0, name.size() - 4);
    uint64_t gen = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), gen);
    if (ec != std::errc() || p != digits.data() + digits.size() || gen == 0) continue;
    gens.push_back(gen);
  }
  ::closedir(d);
  std::sort(gens.begin(), gens.end());
  return gens;
}

}  // namespace ctrsnap
