// StateDir: compaction of exported sealed generations (protocol in state_dir.h).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/file_util.h"
#include "common/log.h"
#include "common/state_layout.h"
#include "fusefs/core/state_dir.h"

namespace ctrsnap::fs {
namespace {

Status Exchange(const std::string& a, const std::string& b) {
  if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) != 0) {
    return Status::FromErrno(errno, "renameat2 exchange", a + " <-> " + b);
  }
  return Status::Ok();
}

// The "from" a compacted generation directory says it holds; 0: none.
uint64_t ReadMarker(const std::string& gen_dir) {
  auto text = ReadFileToString(layout::CompactMarkerPath(gen_dir));
  if (!text.ok()) return 0;
  return std::strtoull(text->c_str(), nullptr, 10);
}

bool IsEmptyDir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return true;
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

// Makes gen/ID's upper empty: exchanged with a fresh gen/ID.old, deleted later.
Status EmptyGeneration(const std::string& state, uint64_t id) {
  const std::string old = layout::CompactOldDir(state, id);
  (void)RemoveTree(old);
  RETURN_IF_ERROR(MakeDirs(old + "/upper", 0755));
  RETURN_IF_ERROR(MakeDirs(old + "/work", 0700));
  return Exchange(layout::GenerationDir(state, id), old);
}

Status SyncFsOf(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::syncfs(fd.get()) != 0) return Status::FromErrno(errno, "syncfs", path);
  return Status::Ok();
}

}  // namespace

void ApplyCompaction(const std::vector<CompactRun>& runs, FsMeta* meta) {
  for (const auto& run : runs) {
    for (auto& g : meta->generations) {
      if (g.id >= run.from && g.id < run.into) {
        g.compacted_into = run.into;
        g.compacted_from = 0;
      } else if (g.id == run.into) {
        g.compacted_from = run.from;
      }
    }
  }
}

Status RecoverCompaction(const std::string& dir, const FsMeta& meta) {
  for (const auto& g : meta.generations) {
    const std::string gen = layout::GenerationDir(dir, g.id);
    if (g.compacted_from != 0 && ReadMarker(gen) != g.compacted_from) {
      const std::string built = layout::CompactBuildDir(dir, g.id);
      if (ReadMarker(built) != g.compacted_from) {
        return Status::Corrupt("state " + dir + ": generation " + std::to_string(g.id) +
                               " is recorded as compacted but its merged tree is missing");
      }
      LogWarn("state: completing the compaction into generation " + std::to_string(g.id));
      RETURN_IF_ERROR(Exchange(gen, built));
    }
    if (g.compacted_into != 0 && !IsEmptyDir(layout::UpperDir(dir, g.id))) {
      LogWarn("state: emptying compacted generation " + std::to_string(g.id));
      RETURN_IF_ERROR(EmptyGeneration(dir, g.id));
    }
  }
  return Status::Ok();
}

std::vector<CompactRun> StateDir::PlanCompaction(std::optional<uint64_t> through) const {
  std::vector<CompactRun> runs;
  CompactRun cur;
  auto close = [&] {
    if (cur.members.size() >= 2) {
      cur.into = cur.members.back();
      runs.push_back(cur);
    }
    cur = CompactRun();
  };
  for (const auto& g : meta_.generations) {
    if (g.compacted_into != 0) continue;  // empty: transparent inside a run
    bool eligible = g.sealed && !g.exported_in.empty() && (!through || g.id <= *through);
    if (!eligible) {
      close();
      continue;
    }
    if (cur.members.empty()) cur.from = g.compacted_from != 0 ? g.compacted_from : g.id;
    cur.members.push_back(g.id);
  }
  close();
  return runs;
}

Status StateDir::BuildCompaction(std::vector<CompactRun>* runs) {
  for (auto& run : *runs) {
    MergeInput in;
    for (auto it = run.members.rbegin(); it != run.members.rend(); ++it) {
      in.range.push_back(UpperDir(*it));
    }
    for (auto it = meta_.generations.rbegin(); it != meta_.generations.rend(); ++it) {
      if (it->id < run.members.front() && it->compacted_into == 0) in.below.push_back(UpperDir(it->id));
    }
    for (const auto& l : meta_.lowerdirs) in.below.push_back(l);
    const std::string build = layout::CompactBuildDir(dir_, run.into);
    (void)RemoveTree(build);
    RETURN_IF_ERROR(MakeDirs(build + "/upper", 0755));
    RETURN_IF_ERROR(MakeDirs(build + "/work", 0700));
    in.out = build + "/upper";
    auto stats = MergeGenerations(in);
    if (!stats.ok()) {
      (void)RemoveTree(build);
      return stats.status().WithContext("compact generations " + std::to_string(run.from) + "-" +
                                        std::to_string(run.into));
    }
    run.stats = *stats;
    RETURN_IF_ERROR(WriteFileAtomic(layout::CompactMarkerPath(build),
                                    std::to_string(run.from) + "\n", 0600));
  }
  // Everything built reaches the disk before fs.json may name it.
  return runs->empty() ? Status::Ok() : SyncFsOf(layout::GenerationsDir(dir_));
}

Result<std::vector<CompactRun>> StateDir::CompactOffline(std::optional<uint64_t> through) {
  std::vector<CompactRun> runs = PlanCompaction(through);
  if (runs.empty()) return runs;
  RETURN_IF_ERROR(BuildCompaction(&runs));
  if (Status st = CommitCompaction(runs); !st.ok()) {
    AbortCompaction(runs);
    return st;
  }
  // From here a failure is finished by RecoverCompaction at the next Open().
  RETURN_IF_ERROR(SwapCompaction(runs));
  FinishCompaction(runs);
  return runs;
}

void StateDir::AbortCompaction(const std::vector<CompactRun>& runs) {
  for (const auto& run : runs) (void)RemoveTree(layout::CompactBuildDir(dir_, run.into));
}

Status StateDir::CommitCompaction(const std::vector<CompactRun>& runs) {
  FsMeta next = meta_;
  ApplyCompaction(runs, &next);
  RETURN_IF_ERROR(next.Save(dir_).WithContext("compact"));
  previous_ = std::move(meta_);
  meta_ = std::move(next);
  return Status::Ok();
}

Status StateDir::SwapCompaction(const std::vector<CompactRun>& runs) {
  for (const auto& run : runs) {
    RETURN_IF_ERROR(Exchange(layout::GenerationDir(dir_, run.into), layout::CompactBuildDir(dir_, run.into)));
    for (uint64_t id : run.members) {
      if (id != run.into) RETURN_IF_ERROR(EmptyGeneration(dir_, id));
    }
  }
  return Status::Ok();
}

Status StateDir::UnswapCompaction(const std::vector<CompactRun>& runs) {
  for (const auto& run : runs) {
    for (uint64_t id : run.members) {
      if (id != run.into) {
        RETURN_IF_ERROR(Exchange(layout::GenerationDir(dir_, id), layout::CompactOldDir(dir_, id)));
      }
    }
    RETURN_IF_ERROR(Exchange(layout::GenerationDir(dir_, run.into), layout::CompactBuildDir(dir_, run.into)));
  }
  return Status::Ok();
}

void StateDir::FinishCompaction(const std::vector<CompactRun>& runs) {
  for (const auto& run : runs) {
    std::vector<std::string> doomed = {layout::CompactBuildDir(dir_, run.into)};
    for (uint64_t id : run.members) {
      if (id != run.into) doomed.push_back(layout::CompactOldDir(dir_, id));
    }
    for (const auto& d : doomed) {
      Status st = RemoveTree(d);
      if (!st.ok()) LogWarn("compact: " + st.ToString() + " (removed at the next start)");
    }
  }
}

}  // namespace ctrsnap::fs
