#include "layers/cli/state_arg.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <vector>

#include "common/env.h"

namespace ctrsnap::cli {

void AddStateArgs(CLI::App* sub, StateArgs& args) {
  sub->add_option("container", args.container,
                  "container id or unique id prefix (state in $CTRSNAP_ROOT/<id>)");
  sub->add_option("--state", args.state, "the container's ctrsnap state directory");
}

Result<std::string> ResolveStateDirIn(const std::string& root, const StateArgs& args) {
  if (!args.state.empty() && !args.container.empty()) {
    return Status::InvalidArgument("give either --state or a CONTAINER, not both");
  }
  if (!args.state.empty()) return args.state;
  if (args.container.empty()) return Status::InvalidArgument("need --state DIR or a CONTAINER");
  const std::string& id = args.container;
  if (id == "." || id == ".." || id.find('/') != std::string::npos) {
    return Status::InvalidArgument("not a container id: " + id);
  }
  struct stat st {};
  const std::string exact = root + "/" + id;
  if (::lstat(exact.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return exact;
  DIR* d = ::opendir(root.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "open state root", root);
  std::vector<std::string> matches;
  while (dirent* de = ::readdir(d)) {
    std::string_view name(de->d_name);
    if (name == "." || name == ".." || !name.starts_with(id)) continue;
    std::string path = root + "/" + std::string(name);
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) matches.push_back(path);
  }
  ::closedir(d);
  if (matches.empty()) return Status::NotFound("no container " + id + " in " + root);
  if (matches.size() > 1) {
    return Status::InvalidArgument("container prefix " + id + " is ambiguous (" +
                                   std::to_string(matches.size()) + " matches in " + root + ")");
  }
  return matches[0];
}

Result<std::string> ResolveStateDir(const StateArgs& args) {
  return ResolveStateDirIn(StateRoot(), args);
}

int ReportError(const char* cmd, const Status& st, bool usage) {
  std::fprintf(stderr, "ctrsnap %s: %s\n", cmd, st.ToString().c_str());
  return usage ? 2 : 1;
}

std::string EscapeForTerminal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string HumanSize(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes) / 1024.0;
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(kUnits)) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", v, kUnits[u]);
  return buf;
}

std::string FormatTimeNs(int64_t unix_ns) {
  time_t secs = static_cast<time_t>(unix_ns / 1000000000);
  int ms = static_cast<int>((unix_ns % 1000000000) / 1000000);
  struct tm tm {};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

}  // namespace ctrsnap::cli
