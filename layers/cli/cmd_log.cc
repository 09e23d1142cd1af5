// ctrsnap log: print the write journal ("who changed what, when") of a
// container's filesystem. Reads STATE/journal/*.log directly, so it works
// whether or not the daemon runs; --follow keeps reading as it grows,
// across seals.
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/state_layout.h"
#include "fusefs/journal/journal_format.h"
#include "layers/cli/commands.h"
#include "layers/cli/state_arg.h"

namespace ctrsnap::cli {
namespace {

struct LogArgs {
  StateArgs state;
  bool json = false;
  bool follow = false;
  std::string path_glob;
  std::optional<uint64_t> gen;
  std::optional<int32_t> pid;
  std::string op;
};

struct Filter {
  std::string glob;
  std::optional<int32_t> pid;
  std::optional<JournalOp> op;

  bool Match(const JournalEntry& e) const {
    if (pid && e.pid != *pid) return false;
    if (op && e.op != *op) return false;
    if (!glob.empty() && ::fnmatch(glob.c_str(), e.path.c_str(), 0) != 0 &&
        (e.path2.empty() || ::fnmatch(glob.c_str(), e.path2.c_str(), 0) != 0)) {
      return false;
    }
    return true;
  }
};

std::string Detail(const JournalEntry& e) {
  char buf[128];
  switch (e.op) {
    case JournalOp::kRename:
    case JournalOp::kLink:
      return "-> " + EscapeForTerminal(e.path2);
    case JournalOp::kSymlink:
      return "=> " + EscapeForTerminal(e.path2);
    case JournalOp::kCopyFileRange:
      std::snprintf(buf, sizeof(buf), "[%" PRIu64 ", +%" PRIu64 ") from ", e.offset, e.length);
      return buf + EscapeForTerminal(e.path2);
    case JournalOp::kWrite:
      std::snprintf(buf, sizeof(buf), "[%" PRIu64 ", +%" PRIu64 ") %u write%s", e.offset,
                    e.length, e.count, e.count == 1 ? "" : "s");
      return buf;
    case JournalOp::kFallocate:
      std::snprintf(buf, sizeof(buf), "[%" PRIu64 ", +%" PRIu64 ") mode %u", e.offset, e.length,
                    e.flags);
      return buf;
    case JournalOp::kTruncate:
      return "size " + std::to_string(e.length);
    case JournalOp::kCreate:
    case JournalOp::kMkdir:
    case JournalOp::kChmod:
    case JournalOp::kMknod:
      std::snprintf(buf, sizeof(buf), "mode %04o", e.mode & 07777);
      return buf;
    case JournalOp::kChown:
      return "owner " +
             (e.owner_uid == UINT32_MAX ? std::string("-") : std::to_string(e.owner_uid)) + ":" +
             (e.owner_gid == UINT32_MAX ? std::string("-") : std::to_string(e.owner_gid));
    case JournalOp::kSetxattr:
      return EscapeForTerminal(e.name) + " (" + std::to_string(e.length) + " bytes)";
    case JournalOp::kRemovexattr:
      return EscapeForTerminal(e.name);
    case JournalOp::kUnlink:
    case JournalOp::kRmdir:
    case JournalOp::kUtimes:
      return "";
  }
  return "";
}

class Printer {
 public:
  explicit Printer(bool json) : json_(json) {
    if (!json_) {
      std::printf("%-8s %-24s %4s %-15s %-7s %-16s %5s  %s\n", "SEQ", "TIME", "GEN", "OP", "PID",
                  "COMM", "UID", "PATH");
    }
  }
  void Print(const JournalEntry& e) {
    if (json_) {
      std::printf("%s\n", JournalEntryToJson(e)
                              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                              .c_str());
    } else {
      std::string detail = Detail(e);
      std::printf("%-8" PRIu64 " %-24s %4" PRIu64 " %-15s %-7d %-16s %5u  %s%s%s\n", e.seq,
                  FormatTimeNs(e.time_ns).c_str(), e.generation,
                  std::string(JournalOpName(e.op)).c_str(), e.pid,
                  EscapeForTerminal(e.comm.empty() ? "-" : e.comm).c_str(), e.uid,
                  EscapeForTerminal(e.path).c_str(), detail.empty() ? "" : "  ",
                  detail.c_str());
    }
  }

 private:
  bool json_;
};

// Reads READER to its current end, printing matching entries.
Status Drain(JournalReader& reader, const Filter& filter, Printer& printer) {
  for (;;) {
    ASSIGN_OR_RETURN(std::optional<JournalEntry> e, reader.Next());
    if (!e) return Status::Ok();
    if (filter.Match(*e)) printer.Print(*e);
  }
}

void WarnTornTail(const JournalReader& r) {
  if (!r.has_bad_tail()) return;
  std::fprintf(stderr,
               "ctrsnap log: warning: %s: skipped %" PRIu64
               " bytes at the end that are not a complete record (%s; torn by a crash?)\n",
               r.path().c_str(), r.bad_tail_bytes(), r.bad_tail_reason().c_str());
}

int RunLog(const LogArgs& a) {
  Result<std::string> state = ResolveStateDir(a.state);
  if (!state.ok()) {
    return ReportError("log", state.status(), state.status().code() == Code::kInvalidArgument);
  }
  Filter filter{a.path_glob, a.pid, std::nullopt};
  if (!a.op.empty()) {
    filter.op = ParseJournalOp(a.op);
    if (!filter.op) return ReportError("log", Status::InvalidArgument("unknown op " + a.op), true);
  }
  struct stat st {};
  if (::stat(state->c_str(), &st) != 0) {
    return ReportError("log", Status::FromErrno(errno, "state directory", *state));
  }
  Result<std::vector<uint64_t>> gens = ListJournalGenerations(*state);
  if (!gens.ok()) return ReportError("log", gens.status());
  if (a.gen) {
    bool have = std::find(gens->begin(), gens->end(), *a.gen) != gens->end();
    gens->clear();
    if (have) gens->push_back(*a.gen);
    if (!have && !a.follow) {
      return ReportError("log", Status::NotFound("no journal for generation " +
                                                 std::to_string(*a.gen) + " in " + *state));
    }
  }
  std::setvbuf(stdout, nullptr, a.follow ? _IOLBF : _IOFBF, 0);
  Printer printer(a.json);
  std::optional<JournalReader> current;
  uint64_t current_gen = 0;
  for (uint64_t g : *gens) {
    Result<JournalReader> r = JournalReader::Open(layout::JournalPath(*state, g));
    if (!r.ok()) return ReportError("log", r.status());
    Status s = Drain(*r, filter, printer);
    if (!s.ok()) return ReportError("log", s);
    current = std::move(r).value();
    current_gen = g;
    if (!a.follow || g != gens->back()) WarnTornTail(*current);
  }
  if (!a.follow) return 0;

  // Follow: poll the newest file; move on when a newer generation's file
  // appears (after reading what the old one got before the seal).
  for (;;) {
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (current) {
      Status s = Drain(*current, filter, printer);
      if (!s.ok()) return ReportError("log", s);
    }
    std::optional<uint64_t> next;
    if (a.gen) {
      if (!current) next = *a.gen;
    } else {
      Result<std::vector<uint64_t>> now = ListJournalGenerations(*state);
      if (!now.ok()) return ReportError("log", now.status());
      for (uint64_t g : *now) {
        if (g > current_gen) {
          next = g;
          break;
        }
      }
    }
    if (!next) continue;
    Result<JournalReader> r = JournalReader::Open(layout::JournalPath(*state, *next));
    if (!r.ok()) continue;  // not there (yet)
    if (current) {
      Status s = Drain(*current, filter, printer);  // the rest of the sealed file
      if (!s.ok()) return ReportError("log", s);
      WarnTornTail(*current);
    }
    current = std::move(r).value();
    current_gen = *next;
    Status s = Drain(*current, filter, printer);
    if (!s.ok()) return ReportError("log", s);
  }
}

}  // namespace

void AddLogCommand(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<LogArgs>();
  CLI::App* sub = root.add_subcommand(
      "log", "Print the write journal: who changed what, when (works without the daemon)");
  AddStateArgs(sub, args->state);
  sub->add_flag("--json", args->json, "one JSON object per line");
  sub->add_flag("-f,--follow", args->follow, "keep printing new records as they are written");
  sub->add_option("--path", args->path_glob,
                  "only records whose path (or second path) matches this glob; '*' also "
                  "matches '/'");
  sub->add_option("--gen", args->gen, "only this generation");
  sub->add_option("--pid", args->pid, "only records of this host pid");
  sub->add_option("--op", args->op, "only this operation (create, write, rename, ...)");
  sub->callback([args, &ctx] { ctx.exit_code = RunLog(*args); });
}

}  // namespace ctrsnap::cli
