#include "layers/policy/tree_scan.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"

namespace ctrsnap::policy {
namespace {

constexpr int kMaxDepth = 512;

void Record(const FilterDecision& d, const std::vector<std::string>* fps, const std::string& source,
            ScanReport* report) {
  for (size_t i = 0; i < d.findings.size(); ++i) {
    ScanFinding f;
    f.finding = d.findings[i];
    if (fps != nullptr && i < fps->size()) f.fingerprint = (*fps)[i];
    f.source = source;
    report->findings.push_back(std::move(f));
  }
}

// User-excluded files are not looked into at all.
bool IsExcluded(const FilterDecision& d) {
  for (const FilterFinding& f : d.findings) {
    if (f.kind == kKindExcluded) return true;
  }
  return false;
}

bool IsWhiteout(const struct stat& st, std::string_view name) {
  return (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) || name.rfind(".wh.", 0) == 0;
}

struct Walker {
  const PolicyFilter& filter;
  bool upper;
  std::string source;
  ScanReport* report;

  void Walk(int dirfd, const std::string& path, int depth) {
    if (depth > kMaxDepth) {
      report->warnings.push_back(path + ": deeper than " + std::to_string(kMaxDepth) + " levels, skipped");
      return;
    }
    int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      report->warnings.push_back(path + ": " + std::string(strerror(errno)));
      return;
    }
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      ::close(fd);
      return;
    }
    std::vector<std::string> names;
    while (struct dirent* de = ::readdir(dir)) {
      std::string_view n = de->d_name;
      if (n == "." || n == "..") continue;
      names.emplace_back(n);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      const std::string child = path == "/" ? "/" + name : path + "/" + name;
      struct stat st;
      if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        report->warnings.push_back(child + ": " + std::string(strerror(errno)));
        continue;
      }
      if (upper && IsWhiteout(st, name)) continue;
      if (S_ISDIR(st.st_mode)) {
        UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) {
          report->warnings.push_back(child + ": " + std::string(strerror(errno)));
          continue;
        }
        Walk(sub.get(), child, depth + 1);
        continue;
      }
      FilterEntry e{child, st.st_mode, st.st_uid, st.st_gid, static_cast<uint64_t>(st.st_size)};
      FilterDecision pd = filter.EvaluatePath(e);
      Record(pd, nullptr, source, report);
      if (!S_ISREG(st.st_mode) || IsExcluded(pd)) continue;
      ++report->files;
      // Content is scanned even when the path is dropped: a scan reports what
      // is in the tree. (The layer writer asks only for kept files.)
      UniqueFd file(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      if (!file) {
        report->warnings.push_back(child + ": " + std::string(strerror(errno)));
        continue;
      }
      ContentResult cr = filter.EvaluateFd(e, file.get());
      report->bytes += std::min<uint64_t>(e.size, filter.policy().max_file_bytes);
      Record(cr.decision, &cr.fingerprints, source, report);
    }
    ::closedir(dir);
  }
};

Result<ScanReport> Scan(const PolicyFilter& filter, const std::string& root, bool upper,
                        const std::string& source, ScanReport report) {
  UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open", root);
  Walker w{filter, upper, source, &report};
  w.Walk(fd.get(), "/", 0);
  return report;
}

Result<nlohmann::json> ReadBlobJson(int layout_fd, const std::string& digest) {
  if (digest.rfind("sha256:", 0) != 0 || digest.size() != 71 ||
      digest.find_first_not_of("0123456789abcdef", 7) != std::string::npos) {
    return Status::Corrupt("bad digest \"" + digest + "\"");
  }
  ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(layout_fd, "blobs/sha256/" + digest.substr(7), O_RDONLY));
  ASSIGN_OR_RETURN(std::string text, ReadFdToString(fd.get()));
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corrupt("blob " + digest + ": " + e.what());
  }
}

Status ScanLayer(const PolicyFilter& filter, int layout_fd, const std::string& digest,
                 ScanReport* report) {
  if (digest.rfind("sha256:", 0) != 0 || digest.size() != 71 ||
      digest.find_first_not_of("0123456789abcdef", 7) != std::string::npos) {
    return Status::Corrupt("bad layer digest \"" + digest + "\"");
  }
  ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(layout_fd, "blobs/sha256/" + digest.substr(7), O_RDONLY));
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_fd(a, fd.get(), 1 << 16) != ARCHIVE_OK) {
    Status st = Status::Corrupt("layer " + digest + ": " + archive_error_string(a));
    archive_read_free(a);
    return st;
  }
  const std::string source = "layer " + digest;
  const uint64_t limit = filter.policy().max_file_bytes;
  struct archive_entry* entry = nullptr;
  Status result;
  int rc;
  while ((rc = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    while (name.rfind("./", 0) == 0) name = name.substr(2);
    while (!name.empty() && name.back() == '/') name.pop_back();
    std::string base = name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
    if (name.empty() || base.rfind(".wh.", 0) == 0) continue;
    mode_t mode = archive_entry_mode(entry);
    if (S_ISDIR(mode)) continue;
    FilterEntry e{"/" + name, mode, static_cast<uid_t>(archive_entry_uid(entry)),
                  static_cast<gid_t>(archive_entry_gid(entry)),
                  static_cast<uint64_t>(std::max<la_int64_t>(0, archive_entry_size(entry)))};
    FilterDecision pd = filter.EvaluatePath(e);
    Record(pd, nullptr, source, report);
    if (!S_ISREG(mode) || archive_entry_hardlink(entry) != nullptr || IsExcluded(pd)) continue;
    ++report->files;
    std::string data;
    data.resize(static_cast<size_t>(std::min<uint64_t>(e.size, limit)));
    la_ssize_t got = data.empty() ? 0 : archive_read_data(a, data.data(), data.size());
    if (got < 0) {
      result = Status::Corrupt("layer " + digest + ": " + e.path + ": " + archive_error_string(a));
      break;
    }
    data.resize(static_cast<size_t>(got));
    report->bytes += data.size();
    ContentResult cr = filter.EvaluateBuffer(e, data);
    Record(cr.decision, &cr.fingerprints, source, report);
  }
  if (result.ok() && rc != ARCHIVE_EOF) {
    result = Status::Corrupt("layer " + digest + ": " + archive_error_string(a));
  }
  archive_read_free(a);
  return result;
}

Status ScanManifestOrIndex(const PolicyFilter& filter, int layout_fd, const nlohmann::json& j,
                           int depth, ScanReport* report) {
  if (depth > 4) return Status::Corrupt("image index nested too deeply");
  try {
    if (j.contains("manifests")) {
      for (const auto& m : j.at("manifests")) {
        ASSIGN_OR_RETURN(nlohmann::json sub, ReadBlobJson(layout_fd, m.at("digest").get<std::string>()));
        RETURN_IF_ERROR(ScanManifestOrIndex(filter, layout_fd, sub, depth + 1, report));
      }
      return Status::Ok();
    }
    if (j.contains("config")) {
      auto cfg = ReadBlobJson(layout_fd, j.at("config").at("digest").get<std::string>());
      if (cfg.ok() && cfg->contains("config") && (*cfg)["config"].contains("Env") &&
          (*cfg)["config"]["Env"].is_array()) {
        std::vector<std::string> env;
        for (const auto& v : (*cfg)["config"]["Env"]) {
          if (v.is_string()) env.push_back(v.get<std::string>());
        }
        FilterDecision d;
        d.findings = filter.FilterEnv(&env);
        Record(d, nullptr, "config", report);
      }
    }
    for (const auto& l : j.value("layers", nlohmann::json::array())) {
      RETURN_IF_ERROR(ScanLayer(filter, layout_fd, l.at("digest").get<std::string>(), report));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corrupt(std::string("OCI layout: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace

bool ScanReport::FoundSecret() const {
  for (const ScanFinding& f : findings) {
    if (f.finding.kind == kKindSecret || f.finding.kind == kKindCredentialPath) return true;
  }
  return false;
}

Result<ScanReport> ScanDirectory(const PolicyFilter& filter, const std::string& root, bool upper) {
  return Scan(filter, root, upper, "", ScanReport());
}

Result<ScanReport> ScanOciLayout(const PolicyFilter& filter, const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open", dir);
  ASSIGN_OR_RETURN(UniqueFd idx, OpenBeneath(fd.get(), "index.json", O_RDONLY));
  ASSIGN_OR_RETURN(std::string text, ReadFdToString(idx.get()));
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corrupt(dir + "/index.json: " + e.what());
  }
  ScanReport report;
  RETURN_IF_ERROR(ScanManifestOrIndex(filter, fd.get(), index, 0, &report).WithContext(dir));
  return report;
}

Result<ScanReport> ScanContainerState(const PolicyFilter& filter, const std::string& state_dir) {
  ASSIGN_OR_RETURN(FsMeta meta, FsMeta::Load(state_dir));
  ScanReport report;
  for (const GenerationMeta& g : meta.generations) {
    ASSIGN_OR_RETURN(report, Scan(filter, layout::UpperDir(state_dir, g.id), true,
                                  "gen " + std::to_string(g.id), std::move(report)));
  }
  return report;
}

}  // namespace ctrsnap::policy
