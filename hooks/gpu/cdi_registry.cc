#include "hooks/gpu/cdi_registry.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "common/file_util.h"

namespace ctrsnap::gpu {

namespace {

bool HasSpecExtension(const std::string& name) {
  auto ends = [&](std::string_view ext) {
    return name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0;
  };
  return ends(".json") || ends(".yaml");
}

// Regular files (or links to them) with a spec extension, sorted by name.
Result<std::vector<std::string>> ListSpecFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "opendir", dir);
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || !HasSpecExtension(name)) continue;
    std::string path = JoinPath(dir, name);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.push_back(std::move(path));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

void CdiRegistry::Add(std::unique_ptr<CdiSpec> spec, size_t priority) {
  for (const auto& dev : spec->devices) {
    std::string q = spec->kind + "=" + dev.name;
    auto it = devices_.find(q);
    if (it != devices_.end()) {
      if (it->second.priority > priority) continue;
      if (it->second.priority == priority) {
        auto& paths = conflicts_[q];
        if (paths.empty()) paths.push_back(it->second.spec->path);
        paths.push_back(spec->path);
        continue;
      }
      conflicts_.erase(q);  // a higher priority definition settles an older conflict
    }
    devices_[q] = Entry{spec.get(), &dev, priority};
  }
  specs_.push_back(std::move(spec));
}

void CdiRegistry::DropConflicts() {
  for (const auto& [name, paths] : conflicts_) {
    std::string msg = "conflicting CDI device \"" + name + "\" in";
    for (const auto& p : paths) msg += " " + p;
    errors_.push_back(std::move(msg));
    devices_.erase(name);
  }
  conflicts_.clear();
}

CdiRegistry CdiRegistry::Load(const std::vector<std::string>& spec_dirs) {
  CdiRegistry reg;
  for (size_t prio = 0; prio < spec_dirs.size(); ++prio) {
    auto files = ListSpecFiles(spec_dirs[prio]);
    if (!files.ok()) {
      if (files.status().err() != ENOENT) reg.errors_.push_back(files.status().ToString());
      continue;
    }
    for (const auto& path : *files) {
      auto text = ReadFileToString(path);
      if (!text.ok()) {
        reg.errors_.push_back(text.status().ToString());
        continue;
      }
      auto spec = ParseCdiSpec(*text, path);
      if (!spec.ok()) {
        reg.errors_.push_back(spec.status().message());
        continue;
      }
      reg.Add(std::make_unique<CdiSpec>(std::move(spec).value()), prio);
    }
  }
  reg.DropConflicts();
  return reg;
}

CdiRegistry CdiRegistry::FromSpecs(std::vector<CdiSpec> specs) {
  CdiRegistry reg;
  for (auto& s : specs) reg.Add(std::make_unique<CdiSpec>(std::move(s)), 0);
  reg.DropConflicts();
  return reg;
}

std::vector<std::string> CdiRegistry::DeviceNames() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : devices_) out.push_back(name);
  return out;
}

Result<CdiContainerEdits> CdiRegistry::EditsFor(const std::vector<std::string>& devices) const {
  CdiContainerEdits edits;
  std::set<const CdiSpec*> specs_done;
  std::set<std::string> devices_done;
  std::vector<std::string> unresolved;
  for (const auto& name : devices) {
    auto it = devices_.find(name);
    if (it == devices_.end()) {
      unresolved.push_back(name);
      continue;
    }
    if (!devices_done.insert(name).second) continue;
    if (specs_done.insert(it->second.spec).second) edits.Append(it->second.spec->edits);
    edits.Append(it->second.device->edits);
  }
  if (!unresolved.empty()) {
    std::string msg = "unresolvable CDI devices";
    for (size_t i = 0; i < unresolved.size(); ++i) msg += (i ? ", " : " ") + unresolved[i];
    return Status::NotFound(std::move(msg));
  }
  return edits;
}

}  // namespace ctrsnap::gpu
