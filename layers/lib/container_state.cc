#include "layers/lib/container_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/state_layout.h"

namespace ctrsnap::layers {

using nlohmann::json;

Result<ContainerMetaView> LoadContainerMeta(const std::string& state) {
  ContainerMetaView m;
  std::string path = layout::ContainerMetaPath(state);
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound || text.status().err() == ENOENT) return m;
    return text.status();
  }
  try {
    json j = json::parse(*text);
    if (!j.is_object()) return Status::Corrupt(path + ": not a JSON object");
    m.present = true;
    m.id = j.value("id", "");
    m.bundle = j.value("bundle", "");
    m.rootfs = j.value("rootfs", "");
    m.engine = j.value("engine", "");
    m.engine_namespace = j.value("engine_namespace", "");
    m.image = j.value("image", "");
    m.created_unix_ns = j.value("created_unix_ns", int64_t{0});
    if (j.contains("env") && j["env"].is_array()) m.env = j["env"].get<std::vector<std::string>>();
    if (j.contains("annotations") && j["annotations"].is_object()) {
      const auto& a = j["annotations"];
      if (a.contains("ctrsnap.policy") && a["ctrsnap.policy"].is_string()) {
        m.policy_path = a["ctrsnap.policy"].get<std::string>();
      }
    }
    if (j.contains("mounts") && j["mounts"].is_array()) {
      for (const auto& mt : j["mounts"]) {
        if (mt.is_string()) m.mounts.push_back(mt.get<std::string>());
        if (mt.is_object()) m.mounts.push_back(mt.value("destination", ""));
      }
    }
  } catch (const json::exception& e) {
    return Status::Corrupt(path + ": " + e.what());
  }
  return m;
}

std::vector<std::string> ListStateDirs(const std::string& root) {
  std::vector<std::string> out;
  DIR* d = ::opendir(root.c_str());
  if (d == nullptr) return out;
  while (dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n == "." || n == "..") continue;
    struct stat st {};
    if (::stat(layout::FsMetaPath(root + "/" + n).c_str(), &st) == 0) out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::string> ResolveStateDir(const std::string& root, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return Status::InvalidArgument("bad container id '" + name + "'");
  }
  auto all = ListStateDirs(root);
  if (std::find(all.begin(), all.end(), name) != all.end()) return root + "/" + name;
  std::vector<std::string> matches;
  for (const auto& n : all) {
    if (n.rfind(name, 0) == 0) matches.push_back(n);
  }
  if (matches.size() == 1) return root + "/" + matches[0];
  if (matches.empty()) return Status::NotFound("no container '" + name + "' under " + root);
  std::string list;
  for (const auto& m : matches) list += " " + m;
  return Status::InvalidArgument("'" + name + "' matches several containers:" + list);
}

namespace {
uint64_t UsageAt(int dirfd, int depth) {
  if (depth > 256) return 0;
  int fd = ::dup(dirfd);
  if (fd < 0) return 0;
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return 0;
  }
  uint64_t total = 0;
  while (dirent* de = ::readdir(d)) {
    std::string_view n(de->d_name);
    if (n == "." || n == "..") continue;
    struct stat st {};
    if (::fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    total += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode)) {
      int sub = ::openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) {
        total += UsageAt(sub, depth + 1);
        ::close(sub);
      }
    }
  }
  ::closedir(d);
  return total;
}
}  // namespace

uint64_t DiskUsage(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t n = UsageAt(fd, 0);
  ::close(fd);
  return n;
}

namespace {
std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}
bool IsHex40(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}
std::string StripCredentials(std::string url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  auto at = url.find('@', scheme + 3);
  auto slash = url.find('/', scheme + 3);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    url.erase(scheme + 3, at - scheme - 2);
  }
  return url;
}
}  // namespace

std::optional<GitInfo> ReadGitInfo(const std::string& dir) {
  std::string git = dir + "/.git";
  struct stat st {};
  if (::lstat(git.c_str(), &st) != 0) return std::nullopt;
  if (S_ISREG(st.st_mode)) {
    auto text = ReadFileToString(git);
    if (!text.ok() || text->rfind("gitdir:", 0) != 0) return std::nullopt;
    std::string p = Trim(text->substr(7));
    git = p.empty() || p[0] == '/' ? p : dir + "/" + p;
  } else if (!S_ISDIR(st.st_mode)) {
    return std::nullopt;
  }
  auto head = ReadFileToString(git + "/HEAD");
  if (!head.ok()) return std::nullopt;
  GitInfo info;
  std::string h = Trim(*head);
  if (h.rfind("ref:", 0) == 0) {
    std::string ref = Trim(h.substr(4));
    if (ref.find("..") != std::string::npos) return std::nullopt;
    auto loose = ReadFileToString(git + "/" + ref);
    if (loose.ok()) {
      info.revision = Trim(*loose);
    } else {
      // packed-refs lives in the common dir (worktrees: see commondir).
      std::string common = git;
      auto cd = ReadFileToString(git + "/commondir");
      if (cd.ok()) {
        std::string c = Trim(*cd);
        common = c.empty() || c[0] == '/' ? c : git + "/" + c;
      }
      auto packed = ReadFileToString(common + "/packed-refs");
      if (packed.ok()) {
        size_t pos = 0;
        while (pos < packed->size()) {
          size_t end = packed->find('\n', pos);
          if (end == std::string::npos) end = packed->size();
          std::string line = packed->substr(pos, end - pos);
          if (line.size() > 41 && line.substr(41) == ref) info.revision = line.substr(0, 40);
          pos = end + 1;
        }
      }
    }
  } else {
    info.revision = h;
  }
  if (!IsHex40(info.revision)) return std::nullopt;
  auto config = ReadFileToString(git + "/config");
  if (!config.ok()) {
    auto cd = ReadFileToString(git + "/commondir");
    if (cd.ok()) config = ReadFileToString(git + "/" + Trim(*cd) + "/config");
  }
  if (config.ok()) {
    bool in_origin = false;
    size_t pos = 0;
    while (pos < config->size()) {
      size_t end = config->find('\n', pos);
      if (end == std::string::npos) end = config->size();
      std::string line = Trim(config->substr(pos, end - pos));
      pos = end + 1;
      if (!line.empty() && line[0] == '[') {
        in_origin = line == "[remote \"origin\"]";
        continue;
      }
      if (in_origin && line.rfind("url", 0) == 0) {
        auto eq = line.find('=');
        if (eq != std::string::npos) info.source = StripCredentials(Trim(line.substr(eq + 1)));
      }
    }
  }
  return info;
}

FilterDecision OverrideFilter::Adjust(FilterDecision d) const {
  if (d.action == FilterAction::kKeep) return d;
  bool secret = false;
  for (const auto& f : d.findings) {
    if (f.kind == "secret" || f.kind == "credential-path") secret = true;
  }
  bool keep = allow_secrets_ || (full_ && !secret);
  if (keep && (d.action == FilterAction::kDrop || d.action == FilterAction::kFail)) {
    d.action = FilterAction::kKeepReport;
    for (auto& f : d.findings) f.action = FilterAction::kKeepReport;
  }
  return d;
}

FilterDecision OverrideFilter::EvaluatePath(const FilterEntry& entry) const {
  return Adjust(inner_->EvaluatePath(entry));
}
FilterDecision OverrideFilter::EvaluateContent(const FilterEntry& entry, int fd) const {
  return Adjust(inner_->EvaluateContent(entry, fd));
}
std::vector<FilterFinding> OverrideFilter::FilterEnv(std::vector<std::string>* env) const {
  if (allow_secrets_) return {};
  return inner_->FilterEnv(env);
}

}  // namespace ctrsnap::layers
