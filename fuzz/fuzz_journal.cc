// The journal file reader (fusefs/journal/journal_format.h) on torn and
// corrupt files. The first input byte picks the mode:
//   even: the rest is the file, verbatim;
//   odd:  the rest encodes entries; they are written as a valid journal, then
//         cut at a fuzzed offset and one byte flipped at another.
// Invariants: never a crash or an error (a bad tail is not an error); every
// record returned is exactly the frame at its offset with a valid CRC and a
// payload that decodes to it; valid_end never exceeds the file; in mode odd
// every entry wholly before the damage is returned, in order.
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "fusefs/journal/journal_entry.h"
#include "fusefs/journal/journal_format.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/scratch_dir.h"

namespace {

using ctrsnap::JournalEntry;

uint32_t Le32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

const std::string& TempPath() {
  static ctrsnap::fuzz::ScratchDir dir("fuzz_journal");
  static const std::string path = dir.path() + "/1.log";
  return path;
}

void WriteFile(const std::string& bytes) {
  int fd = ::open(TempPath().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0, "open %s", TempPath().c_str());
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    FUZZ_CHECK(n > 0, "write");
    off += static_cast<size_t>(n);
  }
  ::close(fd);
}

JournalEntry MakeEntry(FuzzedDataProvider& p) {
  JournalEntry e;
  e.seq = p.ConsumeIntegral<uint64_t>();
  e.time_ns = p.ConsumeIntegral<int64_t>();
  e.generation = p.ConsumeIntegral<uint64_t>();
  e.op = static_cast<ctrsnap::JournalOp>(p.ConsumeIntegralInRange<uint8_t>(1, 17));
  e.flags = p.ConsumeIntegral<uint32_t>();
  e.path = "/" + p.ConsumeRandomLengthString(300);
  e.path2 = p.ConsumeRandomLengthString(300);
  e.name = p.ConsumeRandomLengthString(64);
  e.ino = p.ConsumeIntegral<uint64_t>();
  e.offset = p.ConsumeIntegral<uint64_t>();
  e.length = p.ConsumeIntegral<uint64_t>();
  e.count = p.ConsumeIntegral<uint32_t>();
  e.mode = p.ConsumeIntegral<uint32_t>();
  e.rdev = p.ConsumeIntegral<uint32_t>();
  e.owner_uid = p.ConsumeIntegral<uint32_t>();
  e.owner_gid = p.ConsumeIntegral<uint32_t>();
  e.uid = p.ConsumeIntegral<uint32_t>();
  e.gid = p.ConsumeIntegral<uint32_t>();
  e.pid = p.ConsumeIntegral<int32_t>();
  e.comm = p.ConsumeRandomLengthString(16);
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string file;
  std::vector<JournalEntry> written;
  std::vector<size_t> ends;  // end offset of each written frame
  size_t damage = SIZE_MAX;  // first byte that differs from the valid journal
  if ((data[0] & 1) == 0) {
    file.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    FuzzedDataProvider p(data + 1, size - 1);
    uint64_t gen = p.ConsumeIntegral<uint64_t>();
    size_t cut = p.ConsumeIntegral<uint32_t>();
    size_t flip = p.ConsumeIntegral<uint32_t>();
    uint8_t mask = p.ConsumeIntegral<uint8_t>();
    file = ctrsnap::EncodeJournalHeader(gen);
    FUZZ_CHECK(file.size() == ctrsnap::kJournalHeaderSize, "header size");
    while (p.remaining_bytes() > 0 && written.size() < 32) {
      written.push_back(MakeEntry(p));
      written.back().generation = gen;
      ctrsnap::AppendJournalFrame(written.back(), file);
      ends.push_back(file.size());
    }
    if (cut < file.size()) {
      file.resize(cut);
      damage = cut;
    }
    if (mask != 0 && flip < file.size()) {
      file[flip] = static_cast<char>(file[flip] ^ mask);
      damage = std::min(damage, flip);
    }
  }
  WriteFile(file);

  auto reader = ctrsnap::JournalReader::Open(TempPath());
  FUZZ_CHECK(reader.ok(), "Open: %s", reader.status().ToString().c_str());
  uint64_t prev_end = ctrsnap::kJournalHeaderSize;
  std::vector<JournalEntry> got;
  for (int i = 0; i < 100000; ++i) {
    auto next = reader->Next();
    FUZZ_CHECK(next.ok(), "Next: %s", next.status().ToString().c_str());
    if (!next->has_value()) break;
    uint64_t end = reader->valid_end();
    FUZZ_CHECK(end <= file.size() && end > prev_end + ctrsnap::kJournalFrameHeaderSize - 1,
               "record end %llu (previous %llu, file %zu)",
               static_cast<unsigned long long>(end), static_cast<unsigned long long>(prev_end),
               file.size());
    // The frame the record came from: u32 length | u32 crc | payload.
    uint32_t len = Le32(file, prev_end);
    uint32_t crc = Le32(file, prev_end + 4);
    FUZZ_CHECK(prev_end + 8 + len == end, "frame length %u does not span the record", len);
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, reinterpret_cast<const Bytef*>(file.data() + prev_end), 4);
    c = crc32(c, reinterpret_cast<const Bytef*>(file.data() + prev_end + 8), len);
    FUZZ_CHECK(static_cast<uint32_t>(c) == crc, "record returned with a bad CRC");
    auto decoded =
        ctrsnap::DecodeJournalEntry(std::string_view(file.data() + prev_end + 8, len));
    FUZZ_CHECK(decoded.ok() && *decoded == **next, "record is not its payload decoded");
    std::string re = ctrsnap::EncodeJournalEntry(**next);
    auto again = ctrsnap::DecodeJournalEntry(re);
    FUZZ_CHECK(again.ok() && *again == **next, "encode/decode round trip failed");
    got.push_back(**next);
    prev_end = end;
  }
  FUZZ_CHECK(reader->valid_end() <= file.size(), "valid_end past the file");
  FUZZ_CHECK(reader->valid_end() + reader->bad_tail_bytes() <= file.size() ||
                 file.size() < ctrsnap::kJournalHeaderSize,
             "bad tail past the file");
  // Entries wholly before the damage must all come back, unchanged.
  for (size_t i = 0; i < written.size(); ++i) {
    if (ends[i] > damage) break;
    FUZZ_CHECK(i < got.size() && got[i] == written[i], "intact record %zu lost or changed", i);
  }
  if (damage == SIZE_MAX && (data[0] & 1)) {
    FUZZ_CHECK(got.size() == written.size() && !reader->has_bad_tail(),
               "undamaged journal: %zu of %zu records", got.size(), written.size());
  }
  return 0;
}
