// Debian/Ubuntu packages: /var/lib/dpkg/status (installed packages only) and
// the distroless /var/lib/dpkg/status.d/<pkg> files.
#include <dirent.h>
#include <fcntl.h>

#include <string>
#include <vector>

#include "layers/drift/root_fs.h"
#include "layers/drift/scanners.h"

namespace ctrsnap::drift {
namespace {

constexpr char kStatusPath[] = "/var/lib/dpkg/status";
constexpr char kStatusDir[] = "/var/lib/dpkg/status.d";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

void ParseDpkgStatus(std::string_view text, bool status_optional, Inventory& inv) {
  std::string_view name, version, arch, status;
  bool have_status = false;
  auto flush = [&] {
    // "install ok installed": the third word is the state; only installed counts.
    bool installed = false;
    if (have_status) {
      size_t sp = status.rfind(' ');
      installed = (sp == std::string_view::npos ? status : status.substr(sp + 1)) == "installed";
    } else {
      installed = status_optional;
    }
    if (!name.empty() && installed) {
      Item it;
      it.ecosystem = kEcoDeb;
      it.name = std::string(name);
      it.version = std::string(version);
      it.arch = std::string(arch);
      inv.items.push_back(std::move(it));
    }
    name = version = arch = status = {};
    have_status = false;
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      flush();
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') continue;  // continuation
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    std::string_view value = Trim(line.substr(colon + 1));
    switch (key.size()) {
      case 7:
        if (key == "Package") name = value;
        else if (key == "Version") version = value;
        break;
      case 6:
        if (key == "Status") {
          status = value;
          have_status = true;
        }
        break;
      case 12:
        if (key == "Architecture") arch = value;
        break;
      default:
        break;
    }
  }
  flush();
}

void ScanDpkg(int rootfd, Inventory& inv) {
  auto status = ReadFileInRoot(rootfd, kStatusPath);
  if (status.ok()) {
    ParseDpkgStatus(*status, false, inv);
  } else if (status.status().code() != Code::kNotFound) {
    inv.AddNote("deb: " + status.status().ToString());
  }
  auto dir = OpenInRoot(rootfd, kStatusDir, O_RDONLY | O_DIRECTORY);
  if (!dir.ok()) return;
  std::vector<std::string> files;
  Status st = ForEachEntry(dir->get(), [&](std::string_view n, unsigned char type) {
    if (type != DT_REG) return;
    if (n.ends_with(".md5sums") || n.ends_with(".list")) return;
    files.emplace_back(n);
  });
  if (!st.ok()) inv.AddNote("deb: status.d: " + st.ToString());
  for (const auto& f : files) {
    auto fd = OpenFileNoFollow(dir->get(), f);
    if (!fd.ok()) continue;
    auto text = ReadPrefix(fd->get(), 16u << 20);
    if (text.ok()) ParseDpkgStatus(*text, true, inv);
  }
}

}  // namespace ctrsnap::drift
