#include "fusefs/core/options.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace ctrsnap::fs {
namespace {

// Mount options libfuse understands (flags and key= prefixes).
constexpr std::array<std::string_view, 21> kFuseFlags = {
    "allow_other", "allow_root", "default_permissions", "ro", "rw", "dev", "nodev",
    "suid", "nosuid", "exec", "noexec", "atime", "noatime", "relatime", "norelatime",
    "strictatime", "dirsync", "sync", "async", "auto_unmount", "nodiratime"};
constexpr std::array<std::string_view, 5> kFusePrefixes = {"fsname=", "subtype=", "max_read=",
                                                           "blksize=", "context="};
// fuse-overlayfs options with no effect here (kept for mount_program use).
constexpr std::array<std::string_view, 8> kIgnoredFlags = {
    "fast_ino", "static_nlink", "noacl", "squash_to_root", "plugins", "xattr_permissions",
    "volatile", "userxattr"};
constexpr std::array<std::string_view, 5> kIgnoredPrefixes = {"uidmapping=", "gidmapping=",
                                                              "timeout=", "threaded=",
                                                              "squash_to_uid="};

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

template <size_t N>
bool Contains(const std::array<std::string_view, N>& a, std::string_view s) {
  return std::find(a.begin(), a.end(), s) != a.end();
}
template <size_t N>
bool HasPrefixIn(const std::array<std::string_view, N>& a, std::string_view s) {
  return std::any_of(a.begin(), a.end(), [&](std::string_view p) { return StartsWith(s, p); });
}

// Splits VALUE at SEP; a backslash before SEP makes it literal. Drops empty parts.
std::vector<std::string> SplitEscaped(const std::string& value, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size() && value[i + 1] == sep) {
      cur += sep;
      ++i;
    } else if (value[i] == sep) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += value[i];
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// Splits an -o value at commas, honouring "\," as a literal comma.
std::vector<std::string> SplitOptions(const std::string& value) { return SplitEscaped(value, ','); }

Status ApplyOption(const std::string& opt, FsOptions& o) {
  auto value = [&](std::string_view key) { return opt.substr(key.size()); };
  if (StartsWith(opt, "lowerdir=")) {
    o.lowerdirs = SplitLowerdirs(value("lowerdir="));
    if (o.lowerdirs.empty()) return Status::InvalidArgument("lowerdir= is empty");
  } else if (StartsWith(opt, "upperdir=")) {
    o.upperdir = value("upperdir=");
  } else if (StartsWith(opt, "workdir=")) {
    o.workdir = value("workdir=");
  } else if (StartsWith(opt, "state=")) {
    o.state = value("state=");
  } else if (StartsWith(opt, "log_level=")) {
    o.log_level = value("log_level=");
  } else if (StartsWith(opt, "writeback_cache=")) {
    const std::string v = value("writeback_cache=");
    if (v != "on" && v != "off") {
      return Status::InvalidArgument("-o writeback_cache= takes on or off, not '" + v + "'");
    }
    o.writeback_cache = v == "on";
  } else if (opt == "debug") {
    o.debug = true;
  } else if (Contains(kFuseFlags, opt) || HasPrefixIn(kFusePrefixes, opt)) {
    o.fuse_options.push_back(opt);
  } else if (Contains(kIgnoredFlags, opt) || HasPrefixIn(kIgnoredPrefixes, opt)) {
    o.ignored_options.push_back(opt);
  } else {
    return Status::InvalidArgument("unknown option -o " + opt);
  }
  return Status::Ok();
}

Status Validate(const FsOptions& o) {
  if (o.help || o.version) return Status::Ok();
  if (o.mountpoint.empty()) return Status::InvalidArgument("missing MOUNTPOINT");
  // state= alone resumes an existing state dir (its fs.json names the lowers).
  if (o.lowerdirs.empty() && o.state.empty()) {
    return Status::InvalidArgument("missing -o lowerdir=");
  }
  bool plain = !o.upperdir.empty() || !o.workdir.empty();
  if (plain && !o.state.empty()) {
    return Status::InvalidArgument("state= excludes upperdir=/workdir=");
  }
  if (!plain && o.state.empty()) {
    return Status::InvalidArgument("need upperdir= and workdir=, or state=");
  }
  if (plain && (o.upperdir.empty() || o.workdir.empty())) {
    return Status::InvalidArgument("upperdir= and workdir= go together");
  }
  for (const auto& p : o.lowerdirs) {
    if (p.empty() || p[0] != '/') return Status::InvalidArgument("lowerdir not absolute: " + p);
  }
  for (const auto* p : {&o.upperdir, &o.workdir, &o.state, &o.mountpoint}) {
    if (!p->empty() && (*p)[0] != '/') {
      return Status::InvalidArgument("path not absolute: " + *p);
    }
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::string> SplitLowerdirs(const std::string& value) {
  return SplitEscaped(value, ':');
}

Result<FsOptions> ParseCommandLine(const std::vector<std::string>& args) {
  FsOptions o;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-f") {
      o.foreground = true;
    } else if (a == "-d" || a == "--debug") {
      o.debug = true;
      o.foreground = true;
    } else if (a == "-h" || a == "--help") {
      o.help = true;
    } else if (a == "-V" || a == "--version") {
      o.version = true;
    } else if (a == "-o" || StartsWith(a, "-o")) {
      std::string v;
      if (a == "-o") {
        if (i + 1 >= args.size()) return Status::InvalidArgument("-o needs a value");
        v = args[++i];
      } else {
        v = a.substr(2);
      }
      for (const auto& opt : SplitOptions(v)) RETURN_IF_ERROR(ApplyOption(opt, o));
    } else if (!a.empty() && a[0] == '-') {
      return Status::InvalidArgument("unknown flag " + a);
    } else {
      positional.push_back(a);
    }
  }
  // mount(8) runs helpers as "PROG SOURCE MOUNTPOINT -o ...": SOURCE is ignored.
  if (positional.size() > 2) return Status::InvalidArgument("unexpected argument " + positional[2]);
  if (!positional.empty()) o.mountpoint = positional.back();
  if (o.debug) o.foreground = true;
  RETURN_IF_ERROR(Validate(o));
  return o;
}

}  // namespace ctrsnap::fs
