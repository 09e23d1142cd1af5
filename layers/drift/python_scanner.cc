// Python distributions: every *.dist-info/METADATA, *.egg-info/PKG-INFO,
// *.egg-info file and *.egg/EGG-INFO/PKG-INFO in one site-packages or
// dist-packages directory. Only the header block of each file is read.
#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "layers/drift/root_fs.h"
#include "layers/drift/scanners.h"

namespace ctrsnap::drift {
namespace {

// The header block of METADATA is small; the long description follows it.
constexpr size_t kMetadataPrefix = 16 * 1024;
constexpr size_t kMetadataMax = 4u << 20;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// "/usr/local/lib/python3.11/site-packages" -> "/usr/local";
// "/usr/lib/python3/dist-packages" -> "/usr"; anything else: its parent.
std::string EnvironmentOf(const std::string& site_dir) {
  for (const char* marker : {"/lib/python", "/lib64/python"}) {
    size_t p = site_dir.rfind(marker);
    if (p != std::string::npos) return "/" + site_dir.substr(0, p);
  }
  if (site_dir.starts_with("lib/python") || site_dir.starts_with("lib64/python")) return "/";
  size_t slash = site_dir.rfind('/');
  return slash == std::string::npos ? "/" : "/" + site_dir.substr(0, slash);
}

// Reads the metadata header of the file FD; falls back to the whole file when
// the prefix has no Version (headers larger than the prefix).
bool ReadMetadata(int fd, std::string* name, std::string* version) {
  auto text = ReadPrefix(fd, kMetadataPrefix);
  if (!text.ok()) return false;
  ParseCoreMetadata(*text, name, version);
  if (version->empty() && text->size() == kMetadataPrefix) {
    text = ReadPrefix(fd, kMetadataMax);
    if (!text.ok()) return false;
    ParseCoreMetadata(*text, name, version);
  }
  return !name->empty();
}

// "name-1.2.3.dist-info" -> ("name", "1.2.3") when the file is unreadable.
void SplitDistDirName(std::string_view stem, std::string* name, std::string* version) {
  size_t dash = stem.find('-');
  if (dash == std::string_view::npos) {
    *name = std::string(stem);
    return;
  }
  *name = std::string(stem.substr(0, dash));
  std::string_view rest = stem.substr(dash + 1);
  *version = std::string(rest.substr(0, rest.find('-')));  // drop -pyX.Y of eggs
}

}  // namespace

void ParseCoreMetadata(std::string_view text, std::string* name, std::string* version) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header block
    if (line.starts_with("Name:")) {
      if (name->empty()) *name = std::string(Trim(line.substr(5)));
    } else if (line.starts_with("Version:")) {
      if (version->empty()) *version = std::string(Trim(line.substr(8)));
    }
    if (!name->empty() && !version->empty()) break;
  }
}

std::string NormalizePythonName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  bool sep = false;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      sep = true;
      continue;
    }
    if (sep && !out.empty()) out += '-';
    sep = false;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

void ScanPythonSiteDir(int rootfd, const std::string& site_dir, Inventory& inv) {
  auto dir = OpenInRoot(rootfd, site_dir, O_RDONLY | O_DIRECTORY);
  if (!dir.ok()) {
    inv.AddNote("python: " + dir.status().ToString());
    return;
  }
  struct Entry {
    std::string name;
    unsigned char type;
  };
  std::vector<Entry> entries;
  Status st = ForEachEntry(dir->get(), [&](std::string_view n, unsigned char type) {
    if (n.ends_with(".dist-info") || n.ends_with(".egg-info") || n.ends_with(".egg")) {
      entries.push_back({std::string(n), type});
    }
  });
  if (!st.ok()) inv.AddNote("python: " + site_dir + ": " + st.ToString());
  // Deterministic order: of two records of one distribution (a broken
  // uninstall), the same one wins every time.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& x, const Entry& y) { return x.name < y.name; });
  std::string env = EnvironmentOf(site_dir);
  for (const auto& e : entries) {
    std::string name, version;
    std::string_view stem = e.name;
    const char* meta = nullptr;
    if (stem.ends_with(".dist-info")) {
      stem.remove_suffix(10);
      meta = "METADATA";
    } else if (stem.ends_with(".egg-info")) {
      stem.remove_suffix(9);
      meta = "PKG-INFO";
    } else {
      stem.remove_suffix(4);
      meta = "EGG-INFO/PKG-INFO";
    }
    if (e.type == DT_DIR) {
      auto sub = OpenSubdir(dir->get(), e.name);
      if (sub.ok()) {
        std::string_view m = meta;
        int base = sub->get();
        UniqueFd egg;
        if (m.starts_with("EGG-INFO/")) {
          auto eg = OpenSubdir(base, "EGG-INFO");
          if (eg.ok()) {
            egg = std::move(*eg);
            base = egg.get();
          }
          m.remove_prefix(9);
        }
        auto fd = OpenFileNoFollow(base, m);
        if (fd.ok()) ReadMetadata(fd->get(), &name, &version);
      }
    } else if (e.type == DT_REG && e.name.ends_with(".egg-info")) {
      auto fd = OpenFileNoFollow(dir->get(), e.name);
      if (fd.ok()) ReadMetadata(fd->get(), &name, &version);
    } else {
      continue;
    }
    if (name.empty() || version.empty()) {
      std::string dn, dv;
      SplitDistDirName(stem, &dn, &dv);
      if (name.empty()) name = dn;
      if (version.empty()) version = dv;
    }
    if (name.empty()) continue;
    Item it;
    it.ecosystem = kEcoPython;
    it.name = NormalizePythonName(name);
    it.version = std::move(version);
    it.location = env;
    it.path = "/" + site_dir;
    inv.items.push_back(std::move(it));
  }
}

}  // namespace ctrsnap::drift
