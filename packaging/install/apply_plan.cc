#include "packaging/install/apply_plan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "common/file_util.h"

namespace ctrsnap::install {
namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Writes DATA to a new file PATH(.N), never replacing one; returns the name.
Result<std::string> WriteBackup(const std::string& path, const std::string& data, mode_t mode) {
  for (int n = 0; n < 1000; ++n) {
    std::string name = n == 0 ? path : path + "." + std::to_string(n);
    UniqueFd fd(::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
    if (!fd) {
      if (errno == EEXIST) continue;
      return Status::FromErrno(errno, "create backup", name);
    }
    RETURN_IF_ERROR(WriteAll(fd.get(), data));
    if (::fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync", name);
    return name;
  }
  return Status(Code::kAlreadyExists, "too many backups named " + path);
}

struct Previous {
  std::string path;
  std::optional<std::string> content;
  mode_t mode = 0644;
};

Status Restore(const Previous& p) {
  if (p.content) return WriteFileAtomic(p.path, *p.content, p.mode);
  if (::unlink(p.path.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "unlink", p.path);
  }
  return Status::Ok();
}

}  // namespace

std::string BackupStamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Result<ApplyReport> ApplyPlan(const Plan& plan, const std::string& backup_stamp,
                              const std::function<Status()>& validate) {
  ApplyReport report;
  std::vector<Previous> done;
  auto rollback = [&](Status cause) -> Status {
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      Status st = Restore(*it);
      if (!st.ok()) cause = cause.WithContext("rollback failed (" + st.ToString() + ")");
    }
    return cause;
  };
  for (const FileChange& change : plan.changes) {
    Previous prev{change.path, std::nullopt, 0644};
    ASSIGN_OR_RETURN(prev.content, ReadOptionalFile(change.path));
    if (prev.content == change.content) continue;
    struct stat st;
    if (prev.content && ::stat(change.path.c_str(), &st) == 0) prev.mode = st.st_mode & 07777;
    if (prev.content && change.backup) {
      auto backup = WriteBackup(change.path + ".ctrsnap-backup-" + backup_stamp, *prev.content,
                                prev.mode);
      if (!backup.ok()) return rollback(backup.status());
      report.backups.push_back(*backup);
    }
    Status st_write;
    if (change.content) {
      st_write = MakeDirs(DirName(change.path));
      if (st_write.ok()) st_write = WriteFileAtomic(change.path, *change.content, prev.mode);
      if (st_write.ok()) report.written.push_back(change.path);
    } else if (::unlink(change.path.c_str()) != 0 && errno != ENOENT) {
      st_write = Status::FromErrno(errno, "unlink", change.path);
    } else {
      report.removed.push_back(change.path);
    }
    if (!st_write.ok()) return rollback(st_write);
    done.push_back(std::move(prev));
  }
  if (!done.empty() && validate) {
    Status st = validate();
    if (!st.ok()) return rollback(st.WithContext("validation failed; changes rolled back"));
  }
  return report;
}

}  // namespace ctrsnap::install
