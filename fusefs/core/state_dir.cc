#include "fusefs/core/state_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/file_util.h"
#include "common/log.h"
#include "common/state_layout.h"

namespace ctrsnap::fs {
namespace {

Status MakeGeneration(const std::string& state, uint64_t gen) {
  RETURN_IF_ERROR(MakeDirs(layout::UpperDir(state, gen), 0755));
  RETURN_IF_ERROR(MakeDirs(layout::WorkDir(state, gen), 0700));
  return Status::Ok();
}

Status FsyncDir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open", path);
  if (::fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync", path);
  return Status::Ok();
}

// Parses a generation directory name; 0 when it is not a positive number.
uint64_t ParseGenName(const char* name) {
  if (name[0] < '1' || name[0] > '9') return 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(name, &end, 10);
  return (end && *end == '\0') ? v : 0;
}

}  // namespace

Result<int> RemoveHalfMadeGenerations(const std::string& dir, const FsMeta& meta) {
  std::string gens = layout::GenerationsDir(dir);
  DIR* d = ::opendir(gens.c_str());
  if (!d) {
    if (errno == ENOENT) return 0;
    return Status::FromErrno(errno, "opendir", gens);
  }
  std::vector<std::string> doomed;
  while (dirent* e = ::readdir(d)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    uint64_t id = ParseGenName(e->d_name);
    if (id == 0 || meta.Find(id) == nullptr) doomed.push_back(gens + "/" + e->d_name);
  }
  ::closedir(d);
  for (const auto& p : doomed) {
    LogWarn("state: removing half-made generation " + p);
    RETURN_IF_ERROR(RemoveTree(p));
  }
  return static_cast<int>(doomed.size());
}

Result<StateDir> StateDir::Open(const std::string& dir, const std::vector<std::string>& lowerdirs,
                                int64_t now_unix_ns) {
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::string lock_path = layout::LockPath(dir);
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) return Status::FromErrno(errno, "open", lock_path);
  // A daemon that was just unmounted may still be exiting: wait up to 3 s.
  int tries = 0;
  while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK && ++tries < 30) {
      ::usleep(100000);
      continue;
    }
    if (errno == EWOULDBLOCK) {
      return Status(Code::kBusy, "state " + dir + " is in use by another process (lock held)",
                    EBUSY);
    }
    return Status::FromErrno(errno, "flock", lock_path);
  }
  FsMeta meta;
  struct stat st;
  if (::stat(layout::FsMetaPath(dir).c_str(), &st) == 0) {
    ASSIGN_OR_RETURN(meta, FsMeta::Load(dir));
    if (!lowerdirs.empty() && lowerdirs != meta.lowerdirs) {
      return Status::InvalidArgument("state " + dir +
                                     ": lowerdir differs from the one recorded in fs.json");
    }
    for (const auto& g : meta.generations) {
      if (::stat(layout::UpperDir(dir, g.id).c_str(), &st) != 0) {
        return Status::Corrupt("state " + dir + ": generation " + std::to_string(g.id) +
                               " listed in fs.json has no upper directory");
      }
    }
    RETURN_IF_ERROR(MakeDirs(layout::WorkDir(dir, meta.live().id), 0700));
  } else if (errno == ENOENT) {
    if (lowerdirs.empty()) return Status::InvalidArgument("new state " + dir + " needs lowerdir=");
    meta.lowerdirs = lowerdirs;
    GenerationMeta g;
    g.id = 1;
    g.created_unix_ns = now_unix_ns;
    meta.generations.push_back(g);
    // A leftover gen/1 from a crash before the first fs.json is empty or
    // holds unpublished writes of a daemon that never reported success.
    (void)RemoveTree(layout::GenerationDir(dir, 1));
    RETURN_IF_ERROR(MakeGeneration(dir, 1));
    RETURN_IF_ERROR(MakeDirs(layout::JournalDir(dir), 0700));
    RETURN_IF_ERROR(meta.Save(dir));
  } else {
    return Status::FromErrno(errno, "stat", layout::FsMetaPath(dir));
  }
  RETURN_IF_ERROR(RecoverCompaction(dir, meta));
  ASSIGN_OR_RETURN(int removed, RemoveHalfMadeGenerations(dir, meta));
  (void)removed;
  RETURN_IF_ERROR(MakeDirs(layout::JournalDir(dir), 0700));
  return StateDir(dir, std::move(meta), std::move(lock));
}

std::string StateDir::UpperDir(uint64_t gen) const { return layout::UpperDir(dir_, gen); }
std::string StateDir::WorkDir(uint64_t gen) const { return layout::WorkDir(dir_, gen); }

Status StateDir::PrepareNext() {
  uint64_t next = live() + 1;
  (void)RemoveTree(layout::GenerationDir(dir_, next));
  RETURN_IF_ERROR(MakeGeneration(dir_, next));
  RETURN_IF_ERROR(FsyncDir(layout::GenerationDir(dir_, next)));
  return FsyncDir(layout::GenerationsDir(dir_));
}

void StateDir::AbortNext() {
  // REQUIRES: live() is the generation before the aborted one.
  Status st = RemoveTree(layout::GenerationDir(dir_, live() + 1));
  if (!st.ok()) LogWarn("seal abort: " + st.ToString());
}

Status StateDir::CommitSeal(const std::string& label, int64_t now_unix_ns,
                            const std::vector<CompactRun>* runs) {
  // Other tools (`ctrsnap snapshot`) may have recorded exported_in in fs.json
  // since we last wrote it: keep what they wrote.
  if (auto disk = FsMeta::Load(dir_); disk.ok()) {
    for (auto& g : meta_.generations) {
      const GenerationMeta* d = disk->Find(g.id);
      if (d && !d->exported_in.empty()) g.exported_in = d->exported_in;
    }
  }
  FsMeta next = meta_;
  GenerationMeta& sealed = next.generations.back();
  sealed.sealed = true;
  sealed.sealed_unix_ns = now_unix_ns;
  if (!label.empty()) sealed.label = label;
  const uint64_t sealed_id = sealed.id;  // `sealed` dangles after push_back
  GenerationMeta live;
  live.id = sealed_id + 1;
  live.created_unix_ns = now_unix_ns;
  next.generations.push_back(live);
  if (runs) ApplyCompaction(*runs, &next);
  RETURN_IF_ERROR(next.Validate());
  RETURN_IF_ERROR(next.Save(dir_).WithContext("seal gen " + std::to_string(sealed_id)));
  previous_ = std::move(meta_);
  meta_ = std::move(next);
  return Status::Ok();
}

Result<std::vector<uint64_t>> StateDir::MarkExported(const std::vector<uint64_t>& gens,
                                                     const std::string& digest) {
  FsMeta next = meta_;
  std::vector<uint64_t> marked;
  for (uint64_t id : gens) {
    if (next.Find(id) == nullptr) {
      return Status::NotFound("no generation " + std::to_string(id) + " (live is " +
                              std::to_string(live()) + ")");
    }
    GenerationMeta& g = next.generations[id - 1];
    if (!g.sealed) {
      return Status::InvalidArgument("generation " + std::to_string(id) +
                                     " is live: only sealed generations can be exported");
    }
    if (g.exported_in.empty()) {
      g.exported_in = digest;
      marked.push_back(id);
    }
  }
  if (marked.empty()) return marked;
  RETURN_IF_ERROR(next.Save(dir_).WithContext("mark exported"));
  meta_ = std::move(next);
  return marked;
}

Status StateDir::UndoSeal() {
  if (previous_.generations.empty()) return Status::Internal("no seal to undo");
  RETURN_IF_ERROR(previous_.Save(dir_).WithContext("undo seal"));
  meta_ = std::move(previous_);
  previous_ = FsMeta();
  return Status::Ok();
}

}  // namespace ctrsnap::fs
