#include "fusefs/journal/change_journal.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "common/state_layout.h"
#include "fusefs/journal/journal_format.h"

namespace ctrsnap {
namespace {

class ChangeJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "change_journal.XXXXXX";
    state_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { (void)RemoveTree(state_); }

  std::unique_ptr<ChangeJournal> OpenJournal(uint64_t gen, JournalOptions o = {}) {
    Result<std::unique_ptr<ChangeJournal>> j = ChangeJournal::Open(state_, gen, o);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return j.ok() ? std::move(j).value() : nullptr;
  }
  std::vector<JournalEntry> Read(uint64_t gen, uint64_t* bad_tail = nullptr) {
    Result<JournalFileContents> c = ReadJournalFile(layout::JournalPath(state_, gen));
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return {};
    EXPECT_EQ(c->generation, gen);
    if (bad_tail) *bad_tail = c->bad_tail_bytes;
    return c->entries;
  }

  std::string state_;
};

JournalEntry Op(JournalOp op, std::string path, int32_t pid = 77) {
  JournalEntry e;
  e.op = op;
  e.path = std::move(path);
  e.ino = 42;
  e.uid = 1000;
  e.gid = 1000;
  e.pid = pid;
  e.comm = "test";
  return e;
}

JournalEntry Write(uint64_t off, uint64_t len, int32_t pid = 77) {
  JournalEntry e = Op(JournalOp::kWrite, "/data.bin", pid);
  e.offset = off;
  e.length = len;
  return e;
}

TEST_F(ChangeJournalTest, RecordsRoundTripWithSeqTimeAndGeneration) {
  auto j = OpenJournal(1);
  ASSERT_TRUE(j);
  JournalEntry r = Op(JournalOp::kRename, "/a");
  r.path2 = "/b";
  r.flags = 1;
  j->Record(Op(JournalOp::kCreate, "/a"));
  j->Record(r);
  j->Record(Op(JournalOp::kUnlink, "/b"));
  ASSERT_TRUE(j->Flush().ok());
  std::vector<JournalEntry> got = Read(1);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].op, JournalOp::kCreate);
  EXPECT_EQ(got[1].op, JournalOp::kRename);
  EXPECT_EQ(got[1].path2, "/b");
  EXPECT_EQ(got[1].flags, 1u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].seq, i + 1);
    EXPECT_EQ(got[i].generation, 1u);
    EXPECT_GT(got[i].time_ns, 0);
    EXPECT_EQ(got[i].comm, "test");
  }
  EXPECT_LE(got[0].time_ns, got[2].time_ns);
}

TEST_F(ChangeJournalTest, ResolvesCommOfTheCaller) {
  auto j = OpenJournal(1);
  ASSERT_TRUE(j);
  JournalEntry e = Op(JournalOp::kMkdir, "/d", static_cast<int32_t>(::getpid()));
  e.comm.clear();
  j->Record(e);
  ASSERT_TRUE(j->Flush().ok());
  std::vector<JournalEntry> got = Read(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].comm, ReadProcComm(::getpid()));
  EXPECT_FALSE(got[0].comm.empty());
}

TEST_F(ChangeJournalTest, CoalescesContiguousAndOverlappingWritesPerHandle) {
  auto j = OpenJournal(1, JournalOptions{.start_flusher = false});
  ASSERT_TRUE(j);
  j->RecordWrite(10, Write(0, 4096));
  j->RecordWrite(10, Write(4096, 4096));     // contiguous
  j->RecordWrite(10, Write(1000, 100));      // inside
  j->RecordWrite(10, Write(8192, 10));       // contiguous again
  j->RecordWrite(11, Write(0, 1));           // another handle
  j->RecordWrite(10, Write(100000, 5));      // gap: emits [0, 8202)
  j->RecordWrite(10, Write(100005, 5, 99));  // another caller: emits [100000, 100005)
  j->Record(Op(JournalOp::kChmod, "/x"));
  j->ReleaseHandle(10);
  j->FlushHandle(11);
  j->FlushHandle(11);  // nothing pending any more: no-op
  ASSERT_TRUE(j->Flush().ok());
  std::vector<JournalEntry> got = Read(1);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].op, JournalOp::kWrite);
  EXPECT_EQ(got[0].offset, 0u);
  EXPECT_EQ(got[0].length, 8202u);
  EXPECT_EQ(got[0].count, 4u);
  EXPECT_EQ(got[1].offset, 100000u);
  EXPECT_EQ(got[1].length, 5u);
  EXPECT_EQ(got[1].count, 1u);
  EXPECT_EQ(got[2].op, JournalOp::kChmod);
  EXPECT_EQ(got[3].offset, 100005u);
  EXPECT_EQ(got[3].pid, 99);
  EXPECT_EQ(got[4].offset, 0u);  // handle 11
  EXPECT_EQ(got[4].length, 1u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].seq, i + 1);
  EXPECT_EQ(j->stats().writes_coalesced, 3u);
  EXPECT_EQ(j->stats().pending_writes, 0u);
}

TEST_F(ChangeJournalTest, BackwardContiguousWriteMerges) {
  auto j = OpenJournal(1, JournalOptions{.start_flusher = false});
  ASSERT_TRUE(j);
  j->RecordWrite(1, Write(4096, 4096));
  j->RecordWrite(1, Write(0, 4096));
  ASSERT_TRUE(j->Flush().ok());
  std::vector<JournalEntry> got = Read(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].offset, 0u);
  EXPECT_EQ(got[0].length, 8192u);
  EXPECT_EQ(got[0].count, 2u);
}

TEST_F(ChangeJournalTest, FlusherWritesWithoutExplicitFlushIncludingOpenHandles) {
  JournalOptions o;
  o.flush_interval = std::chrono::milliseconds(20);
  auto j = OpenJournal(1, o);
  ASSERT_TRUE(j);
  j->Record(Op(JournalOp::kCreate, "/f"));
  j->RecordWrite(5, Write(0, 10));  // handle stays open
  // Wait (generously) for the flusher; not a timing assertion.
  std::vector<JournalEntry> got;
  for (int i = 0; i < 3000 && got.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    got = Read(1);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].op, JournalOp::kWrite);
}

TEST_F(ChangeJournalTest, RotateSplitsFilesAndKeepsSeqIncreasing) {
  auto j = OpenJournal(1);
  ASSERT_TRUE(j);
  j->Record(Op(JournalOp::kCreate, "/one"));
  j->RecordWrite(3, Write(0, 100));  // pending across the seal: belongs to gen 1
  ASSERT_TRUE(j->Rotate(2).ok());
  EXPECT_EQ(j->generation(), 2u);
  // Visible in gen 1's file right after Rotate, without a Flush.
  std::vector<JournalEntry> g1 = Read(1);
  ASSERT_EQ(g1.size(), 2u);
  EXPECT_EQ(g1[1].op, JournalOp::kWrite);
  EXPECT_EQ(g1[1].generation, 1u);
  j->RecordWrite(3, Write(100, 100));  // same handle after the seal: gen 2
  j->Record(Op(JournalOp::kUnlink, "/one"));
  EXPECT_FALSE(j->Rotate(2).ok());
  ASSERT_TRUE(j->Rotate(3).ok());
  ASSERT_TRUE(j->Flush().ok());
  std::vector<JournalEntry> g2 = Read(2);
  ASSERT_EQ(g2.size(), 2u);
  EXPECT_EQ(g2[0].seq, 3u);
  EXPECT_EQ(g2[0].generation, 2u);
  EXPECT_EQ(g2[1].seq, 4u);
  EXPECT_TRUE(Read(3).empty());
  Result<std::vector<uint64_t>> gens = ListJournalGenerations(state_);
  ASSERT_TRUE(gens.ok());
  EXPECT_EQ(*gens, (std::vector<uint64_t>{1, 2, 3}));
}

TEST_F(ChangeJournalTest, ReopenContinuesSeqAndCutsATornTail) {
  {
    auto j = OpenJournal(1);
    ASSERT_TRUE(j);
    for (int i = 0; i < 5; ++i) j->Record(Op(JournalOp::kMkdir, "/d" + std::to_string(i)));
    ASSERT_TRUE(j->Rotate(2).ok());
    j->Record(Op(JournalOp::kMkdir, "/e"));
  }
  // A crash in the middle of an append: garbage after the last record.
  {
    std::ofstream out(layout::JournalPath(state_, 2), std::ios::binary | std::ios::app);
    out << std::string("\x30\x00\x00\x00garbage", 11);
  }
  uint64_t bad = 0;
  EXPECT_EQ(Read(2, &bad).size(), 1u);
  EXPECT_EQ(bad, 11u);
  {
    auto j = OpenJournal(2);
    ASSERT_TRUE(j);
    EXPECT_EQ(j->stats().torn_bytes_dropped, 11u);
    j->Record(Op(JournalOp::kRmdir, "/e"));
  }
  std::vector<JournalEntry> g2 = Read(2, &bad);
  EXPECT_EQ(bad, 0u);
  ASSERT_EQ(g2.size(), 2u);
  EXPECT_EQ(g2[0].seq, 6u);
  EXPECT_EQ(g2[1].seq, 7u);
  // A new generation with an empty file continues from the older journal.
  {
    auto j = OpenJournal(5);
    ASSERT_TRUE(j);
    j->Record(Op(JournalOp::kRmdir, "/f"));
  }
  std::vector<JournalEntry> g5 = Read(5);
  ASSERT_EQ(g5.size(), 1u);
  EXPECT_EQ(g5[0].seq, 8u);
}

TEST_F(ChangeJournalTest, OpenRefusesAnotherGenerationsFile) {
  { auto j = OpenJournal(1); }
  ASSERT_EQ(::rename(layout::JournalPath(state_, 1).c_str(),
                     layout::JournalPath(state_, 2).c_str()),
            0);
  EXPECT_FALSE(ChangeJournal::Open(state_, 2).ok());
  EXPECT_FALSE(ChangeJournal::Open(state_, 0).ok());
}

TEST_F(ChangeJournalTest, ConcurrentWritersLoseNothing) {
  JournalOptions o;
  o.max_queued_entries = 256;  // forces back-pressure now and then
  o.flush_interval = std::chrono::milliseconds(5);
  auto j = OpenJournal(1, o);
  ASSERT_TRUE(j);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (i % 3 == 0) {
          // Each thread its own handle: contiguous writes coalesce.
          j->RecordWrite(static_cast<uint64_t>(t), Write(static_cast<uint64_t>(i) * 10, 10, t));
        } else {
          JournalEntry e = Op(JournalOp::kUtimes, "/t" + std::to_string(t), t);
          e.offset = static_cast<uint64_t>(i);  // the thread's own order
          j->Record(e);
        }
        if (i % 1000 == 999) j->ReleaseHandle(static_cast<uint64_t>(t));
      }
      j->ReleaseHandle(static_cast<uint64_t>(t));
    });
  }
  std::thread rotator([&] {
    for (uint64_t g = 2; g <= 4; ++g) {
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
      EXPECT_TRUE(j->Rotate(g).ok());
    }
  });
  for (auto& t : threads) t.join();
  rotator.join();
  ASSERT_TRUE(j->Flush().ok());
  JournalStats s = j->stats();
  EXPECT_LE(s.queue_high_water, o.max_queued_entries);

  std::vector<JournalEntry> all;
  for (uint64_t g = 1; g <= 4; ++g) {
    for (auto& e : Read(g)) {
      EXPECT_EQ(e.generation, g);
      all.push_back(std::move(e));
    }
  }
  // seq: 1..N without gaps or duplicates, increasing through the files.
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].seq, i + 1);
  std::vector<int> utimes(kThreads, 0);
  std::vector<uint64_t> write_bytes(kThreads, 0);
  std::vector<int> last_order(kThreads, -1);
  for (const auto& e : all) {
    if (e.op == JournalOp::kUtimes) {
      ++utimes[static_cast<size_t>(e.pid)];
      EXPECT_GT(static_cast<int>(e.offset), last_order[static_cast<size_t>(e.pid)]);
      last_order[static_cast<size_t>(e.pid)] = static_cast<int>(e.offset);
    } else {
      ASSERT_EQ(e.op, JournalOp::kWrite);
      write_bytes[static_cast<size_t>(e.pid)] += e.length;
    }
  }
  const int writes_per_thread = (kPerThread + 2) / 3;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(utimes[static_cast<size_t>(t)], kPerThread - writes_per_thread);
    EXPECT_EQ(write_bytes[static_cast<size_t>(t)], static_cast<uint64_t>(writes_per_thread) * 10);
  }
}

TEST_F(ChangeJournalTest, MemoryStaysBoundedWithoutAFlusher) {
  JournalOptions o;
  o.max_queued_entries = 32;
  o.start_flusher = false;
  auto j = OpenJournal(1, o);
  ASSERT_TRUE(j);
  for (int i = 0; i < 10000; ++i) {
    j->Record(Op(JournalOp::kUtimes, "/u"));
    // Many open handles with pending writes count against the bound too.
    j->RecordWrite(static_cast<uint64_t>(i % 100), Write(static_cast<uint64_t>(i) * 1000, 1));
  }
  JournalStats s = j->stats();
  EXPECT_LE(s.queue_high_water, 32u);
  EXPECT_GT(s.blocked_records, 0u);
  ASSERT_TRUE(j->Flush().ok());
  EXPECT_EQ(Read(1).size(), 20000u);
}

// Cost of Record() on the calling thread (a printout, not an assertion):
// first a burst that fits in the queue (what a FUSE thread pays), then a
// sustained stream far above any real operation rate (where the flusher's
// encode + write throughput and back-pressure decide).
TEST_F(ChangeJournalTest, RecordCostPrintout) {
  auto ns = [](auto d) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  };
  JournalEntry proto = Op(JournalOp::kSetxattr, "/usr/lib/python3/dist-packages/some/module.py");
  {
    auto j = OpenJournal(1);
    ASSERT_TRUE(j);
    constexpr int kBurst = 30000;  // below max_queued_entries
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kBurst; ++i) j->Record(proto);
    auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < kBurst; ++i) j->RecordWrite(1, Write(static_cast<uint64_t>(i) * 4096, 4096));
    auto t2 = std::chrono::steady_clock::now();
    ASSERT_TRUE(j->Flush().ok());
    auto t3 = std::chrono::steady_clock::now();
    std::printf("journal burst: Record() %.0f ns/op, RecordWrite() coalesced %.0f ns/op, "
                "Flush of %d records %.1f ms (%.0f ns/record encode+write+fdatasync)\n",
                ns(t1 - t0) / kBurst, ns(t2 - t1) / kBurst, kBurst + 1, ns(t3 - t2) / 1e6,
                ns(t3 - t2) / (kBurst + 1));
    EXPECT_EQ(j->stats().records_written, static_cast<uint64_t>(kBurst) + 1);
  }
  {
    auto j = OpenJournal(2);
    ASSERT_TRUE(j);
    constexpr int kN = 500000;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kN; ++i) j->Record(proto);
    ASSERT_TRUE(j->Flush().ok());
    auto t1 = std::chrono::steady_clock::now();
    JournalStats s = j->stats();
    std::printf("journal sustained: %.0f ns/record end to end (%.2f M records/s), %llu bytes "
                "(%.0f B/record), Record calls that waited for the flusher: %llu\n",
                ns(t1 - t0) / kN, kN / ns(t1 - t0) * 1e3,
                static_cast<unsigned long long>(s.bytes_written),
                static_cast<double>(s.bytes_written) / static_cast<double>(s.records_written),
                static_cast<unsigned long long>(s.blocked_records));
    EXPECT_EQ(s.records_written, static_cast<uint64_t>(kN));
  }
}

}  // namespace
}  // namespace ctrsnap
