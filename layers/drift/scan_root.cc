#include "layers/drift/scan_root.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "layers/drift/root_fs.h"
#include "layers/drift/scanners.h"

namespace ctrsnap::drift {

Result<Inventory> ScanRoot(int rootfd, const ScanOptions& options) {
  struct stat st;
  if (::fstat(rootfd, &st) != 0) return Status::FromErrno(errno, "stat root");
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument("scan root: not a directory");
  Inventory inv;
  inv.source = options.source;
  ScanDpkg(rootfd, inv);
  ScanApk(rootfd, inv);
  ScanRpm(rootfd, inv);
  WalkOptions wo;
  wo.max_depth = options.max_depth;
  wo.max_dirs = options.max_dirs;
  WalkResult walk = WalkRoot(rootfd, wo);
  if (walk.truncated) {
    inv.AddNote("walk: stopped after " + std::to_string(options.max_dirs) +
                " directories; environments deeper in the tree may be missing");
  }
  // readdir order varies; duplicates (first wins in Normalize) must not.
  for (auto* v : {&walk.site_dirs, &walk.conda_meta_dirs, &walk.node_modules_dirs, &walk.cuda_files}) {
    std::sort(v->begin(), v->end());
  }
  for (const auto& d : walk.site_dirs) ScanPythonSiteDir(rootfd, d, inv);
  for (const auto& d : walk.conda_meta_dirs) ScanCondaMeta(rootfd, d, inv);
  for (const auto& d : walk.node_modules_dirs) ScanNodeModules(rootfd, d, inv);
  AddCudaLibraries(walk.cuda_files, inv);
  ScanCudaHeaders(rootfd, inv);
  if (options.scan_etc) ScanEtc(rootfd, inv);
  inv.Normalize();
  return inv;
}

Result<Inventory> ScanRootPath(const std::string& path, const ScanOptions& options) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open", path);
  ScanOptions o = options;
  if (o.source.empty()) o.source = "dir:" + path;
  return ScanRoot(fd.get(), o);
}

bool IsSecretName(std::string_view name) {
  std::string up;
  for (char c : name) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static constexpr std::string_view kWords[] = {
      "SECRET", "TOKEN",  "PASSWORD", "PASSWD", "PASS",    "PWD",  "KEY",
      "CREDENTIAL", "AUTH", "PRIVATE", "SESSION", "COOKIE", "DSN", "CERT", "SIGNATURE"};
  if (up == "PWD" || up == "OLDPWD") return false;  // working directories, not passwords
  for (auto w : kWords) {
    if (up.find(w) != std::string::npos) return true;
  }
  return false;
}

Status AddImageConfig(std::string_view config_json, Inventory& inv) {
  try {
    auto j = nlohmann::json::parse(config_json);
    if (!j.is_object()) return Status::Corrupt("image config: not a JSON object");
    auto cit = j.find("config");
    if (cit == j.end() || !cit->is_object()) return Status::Ok();
    const auto& c = *cit;
    auto add = [&](std::string name, std::string value, bool secret) {
      Item it;
      it.ecosystem = kEcoConfig;
      it.name = std::move(name);
      it.version = secret ? Sha256Digest(value) : std::move(value);
      it.secret = secret;
      inv.items.push_back(std::move(it));
    };
    if (auto e = c.find("Env"); e != c.end() && e->is_array()) {
      for (const auto& kv : *e) {
        if (!kv.is_string()) continue;
        std::string s = kv.get<std::string>();
        size_t eq = s.find('=');
        std::string name = s.substr(0, eq);
        std::string value = eq == std::string::npos ? "" : s.substr(eq + 1);
        // URLs with credentials ("postgres://u:p@host") count as secrets too.
        bool secret = IsSecretName(name) || (value.find("://") != std::string::npos &&
                                             value.find('@') != std::string::npos);
        add("Env:" + name, std::move(value), secret);
      }
    }
    for (const char* key : {"Entrypoint", "Cmd"}) {
      if (auto e = c.find(key); e != c.end() && !e->is_null()) add(key, e->dump(), false);
    }
    for (const char* key : {"WorkingDir", "User"}) {
      if (auto e = c.find(key); e != c.end() && e->is_string() && !e->get<std::string>().empty()) {
        add(key, e->get<std::string>(), false);
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corrupt(std::string("image config: ") + e.what());
  }
  inv.Normalize();
  return Status::Ok();
}

}  // namespace ctrsnap::drift
