#include "fusefs/journal/journal_format.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/state_layout.h"

namespace ctrsnap {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "journal_fmt.XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { (void)RemoveTree(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

JournalEntry Sample(uint64_t seq, JournalOp op) {
  JournalEntry e;
  e.seq = seq;
  e.time_ns = 1700000000000000000 + static_cast<int64_t>(seq);
  e.generation = 3;
  e.op = op;
  e.flags = 1;
  e.path = "/etc/file-" + std::to_string(seq);
  e.path2 = "/etc/other";
  e.name = "user.test";
  e.ino = 1000 + seq;
  e.offset = 4096;
  e.length = 123;
  e.count = 2;
  e.mode = 0100644;
  e.rdev = 0;
  e.owner_uid = 5;
  e.owner_gid = 6;
  e.uid = 1000;
  e.gid = 1000;
  e.pid = 4242;
  e.comm = "python3";
  return e;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

TEST(JournalEntryTest, EncodeDecodeRoundTripEveryOp) {
  for (int op = 1; op <= 17; ++op) {
    JournalEntry e = Sample(static_cast<uint64_t>(op), static_cast<JournalOp>(op));
    Result<JournalEntry> d = DecodeJournalEntry(EncodeJournalEntry(e));
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(*d, e);
    EXPECT_NE(JournalOpName(e.op), "unknown");
    EXPECT_EQ(ParseJournalOp(JournalOpName(e.op)), e.op);
  }
}

TEST(JournalEntryTest, DecodeRejectsGarbage) {
  std::string good = EncodeJournalEntry(Sample(1, JournalOp::kRename));
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeJournalEntry(good.substr(0, n)).ok()) << n;
  }
  std::string bad_op = good;
  bad_op[1] = static_cast<char>(200);
  EXPECT_FALSE(DecodeJournalEntry(bad_op).ok());
  std::string bad_version = good;
  bad_version[0] = 9;
  EXPECT_FALSE(DecodeJournalEntry(bad_version).ok());
  // A string length that points past the end.
  // The path's length field (at byte 86) pointing far past the end.
  std::string huge_len = good;
  huge_len[89] = '\x7f';
  EXPECT_FALSE(DecodeJournalEntry(huge_len).ok());
}

TEST(JournalEntryTest, JsonHasTheOperationsFields) {
  JournalEntry e = Sample(7, JournalOp::kRename);
  nlohmann::json j = JournalEntryToJson(e);
  EXPECT_EQ(j["op"], "rename");
  EXPECT_EQ(j["path"], "/etc/file-7");
  EXPECT_EQ(j["path2"], "/etc/other");
  EXPECT_EQ(j["pid"], 4242);
  EXPECT_EQ(j["comm"], "python3");
  EXPECT_FALSE(j.contains("offset"));
  JournalEntry w = Sample(8, JournalOp::kWrite);
  nlohmann::json jw = JournalEntryToJson(w);
  EXPECT_EQ(jw["offset"], 4096);
  EXPECT_EQ(jw["length"], 123);
  EXPECT_FALSE(jw.contains("path2"));
  // Non-UTF-8 paths (container bytes) must be printable without throwing.
  w.path = "/bad-\xff\xfe";
  EXPECT_NO_THROW(JournalEntryToJson(w).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string BuildFile(int n, std::vector<size_t>* record_starts) {
  std::string data = EncodeJournalHeader(3);
  for (int i = 1; i <= n; ++i) {
    if (record_starts) record_starts->push_back(data.size());
    AppendJournalFrame(Sample(static_cast<uint64_t>(i), JournalOp::kWrite), data);
  }
  return data;
}

TEST(JournalReaderTest, ReadsAllRecords) {
  TempDir dir;
  std::string path = dir.path() + "/3.log";
  WriteFile(path, BuildFile(100, nullptr));
  Result<JournalFileContents> c = ReadJournalFile(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->generation, 3u);
  ASSERT_EQ(c->entries.size(), 100u);
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(c->entries[i], Sample(i + 1, JournalOp::kWrite));
  EXPECT_EQ(c->bad_tail_bytes, 0u);
}

// A crash can cut the file anywhere inside the last record: every cut must
// yield the earlier records and report (not fail on) the torn tail.
TEST(JournalReaderTest, TornTailAtEveryOffsetOfTheLastRecord) {
  TempDir dir;
  std::string path = dir.path() + "/3.log";
  std::vector<size_t> starts;
  std::string full = BuildFile(5, &starts);
  const size_t last = starts.back();
  for (size_t cut = last; cut < full.size(); ++cut) {
    WriteFile(path, full.substr(0, cut));
    Result<JournalFileContents> c = ReadJournalFile(path);
    ASSERT_TRUE(c.ok()) << cut << ": " << c.status().ToString();
    EXPECT_EQ(c->entries.size(), 4u) << cut;
    EXPECT_EQ(c->valid_end, last) << cut;
    EXPECT_EQ(c->bad_tail_bytes, cut - last) << cut;
    if (cut > last) {
      EXPECT_FALSE(c->bad_tail_reason.empty()) << cut;
    }
  }
  // Torn header: nothing, reported.
  for (size_t cut = 1; cut < kJournalHeaderSize; ++cut) {
    WriteFile(path, full.substr(0, cut));
    Result<JournalFileContents> c = ReadJournalFile(path);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->entries.empty());
    EXPECT_EQ(c->bad_tail_bytes, cut);
  }
}

TEST(JournalReaderTest, CorruptByteInLastRecordIsABadTail) {
  TempDir dir;
  std::string path = dir.path() + "/3.log";
  std::vector<size_t> starts;
  std::string full = BuildFile(5, &starts);
  for (size_t at = starts.back(); at < full.size(); ++at) {
    std::string bad = full;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    WriteFile(path, bad);
    Result<JournalFileContents> c = ReadJournalFile(path);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->entries.size(), 4u) << at;
    EXPECT_EQ(c->bad_tail_bytes, full.size() - starts.back()) << at;
  }
}

TEST(JournalReaderTest, NotAJournal) {
  TempDir dir;
  std::string path = dir.path() + "/3.log";
  WriteFile(path, std::string(100, 'x'));
  Result<JournalFileContents> c = ReadJournalFile(path);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->entries.empty());
  EXPECT_EQ(c->bad_tail_bytes, 100u);
  EXPECT_FALSE(ReadJournalFile(dir.path() + "/missing.log").ok());
}

TEST(JournalReaderTest, FollowsAGrowingFile) {
  TempDir dir;
  std::string path = dir.path() + "/3.log";
  std::vector<size_t> starts;
  std::string full = BuildFile(3, &starts);
  WriteFile(path, full.substr(0, starts[1] + 5));  // record 2 half written
  Result<JournalReader> r = JournalReader::Open(path);
  ASSERT_TRUE(r.ok());
  auto e = r->Next();
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->seq, 1u);
  e = r->Next();
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->has_value());
  EXPECT_TRUE(r->has_bad_tail());
  // The writer completes the record and appends another.
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << full.substr(starts[1] + 5);
  }
  e = r->Next();
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->seq, 2u);
  e = r->Next();
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->seq, 3u);
  e = r->Next();
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->has_value());
  EXPECT_FALSE(r->has_bad_tail());
}

TEST(JournalReaderTest, LargeFileAcrossBufferRefills) {
  TempDir dir;
  std::string path = dir.path() + "/3.log";
  WriteFile(path, BuildFile(5000, nullptr));  // ~700 KB: many refills
  Result<JournalFileContents> c = ReadJournalFile(path);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->entries.size(), 5000u);
  EXPECT_EQ(c->entries.back().seq, 5000u);
}

TEST(JournalFormatTest, ListGenerations) {
  TempDir dir;
  ASSERT_TRUE(ListJournalGenerations(dir.path()).ok());
  EXPECT_TRUE(ListJournalGenerations(dir.path())->empty());
  ASSERT_TRUE(MakeDirs(layout::JournalDir(dir.path())).ok());
  for (const char* n : {"10.log", "2.log", "1.log", "x.log", "0.log", "3.log.tmp", "4"}) {
    WriteFile(layout::JournalDir(dir.path()) + "/" + n, "");
  }
  Result<std::vector<uint64_t>> g = ListJournalGenerations(dir.path());
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, (std::vector<uint64_t>{1, 2, 10}));
}

}  // namespace
}  // namespace ctrsnap
