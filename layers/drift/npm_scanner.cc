// npm packages: PROJECT/node_modules/{pkg,@scope/pkg}/package.json, and the
// nested node_modules of each package (npm's non-hoisted copies). A package
// that is a symlink (npm link, pnpm) is resolved inside the root and read,
// but its own node_modules is not entered (it is found on its own path).
#include <dirent.h>
#include <fcntl.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "layers/drift/root_fs.h"
#include "layers/drift/scanners.h"

namespace ctrsnap::drift {
namespace {

constexpr size_t kPackageJsonMax = 4u << 20;
constexpr int kMaxNesting = 24;

bool KeepTopLevel(int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
  using E = nlohmann::json::parse_event_t;
  if (depth == 1 && (event == E::object_start || event == E::array_start)) return false;
  return depth <= 1 || event == E::object_end;
}

struct Walker {
  int rootfd;
  Inventory& inv;
  size_t packages = 0;

  void ReadPackage(int pkgfd, const std::string& nm_dir, const std::string& dir_name) {
    std::string name, version;
    auto fd = OpenFileNoFollow(pkgfd, "package.json");
    if (fd.ok()) {
      auto text = ReadPrefix(fd->get(), kPackageJsonMax);
      if (text.ok()) {
        auto j = nlohmann::json::parse(*text, KeepTopLevel, false);
        if (j.is_object()) {
          if (auto it = j.find("name"); it != j.end() && it->is_string()) name = *it;
          if (auto it = j.find("version"); it != j.end() && it->is_string()) version = *it;
        }
      }
    } else {
      return;  // not a package (stray directory)
    }
    Item it;
    it.ecosystem = kEcoNpm;
    it.name = name.empty() ? dir_name : name;
    it.version = version;
    it.location = "/" + nm_dir;
    inv.items.push_back(std::move(it));
    ++packages;
  }

  void Package(int nmfd, const std::string& nm_dir, const std::string& rel_name,
               unsigned char type, int nesting) {
    if (type == DT_LNK) {
      auto fd = OpenInRoot(rootfd, nm_dir + "/" + rel_name, O_RDONLY | O_DIRECTORY);
      if (fd.ok()) ReadPackage(fd->get(), nm_dir, rel_name);
      return;
    }
    if (type != DT_DIR) return;
    // REL_NAME may be "@scope/pkg": no component may be a symlink.
    auto fd = OpenBeneath(nmfd, rel_name, O_RDONLY | O_DIRECTORY);
    if (!fd.ok()) return;
    ReadPackage(fd->get(), nm_dir, rel_name);
    if (nesting < kMaxNesting) {
      auto nested = OpenSubdir(fd->get(), "node_modules");
      if (nested.ok()) Dir(nested->get(), nm_dir + "/" + rel_name + "/node_modules", nesting + 1);
    }
  }

  void Dir(int nmfd, const std::string& nm_dir, int nesting) {
    std::vector<std::pair<std::string, unsigned char>> entries;
    (void)ForEachEntry(nmfd, [&](std::string_view n, unsigned char type) {
      if (!n.empty() && n.front() == '.') return;  // .bin, .cache, .package-lock.json, .pnpm
      entries.emplace_back(std::string(n), type);
    });
    for (const auto& [n, type] : entries) {
      if (n.front() == '@' && type == DT_DIR) {
        auto scope = OpenSubdir(nmfd, n);
        if (!scope.ok()) continue;
        std::vector<std::pair<std::string, unsigned char>> subs;
        (void)ForEachEntry(scope->get(), [&](std::string_view s, unsigned char t) {
          subs.emplace_back(std::string(s), t);
        });
        for (const auto& [s, t] : subs) Package(nmfd, nm_dir, n + "/" + s, t, nesting);
      } else {
        Package(nmfd, nm_dir, n, type, nesting);
      }
    }
  }
};

}  // namespace

void ScanNodeModules(int rootfd, const std::string& node_modules_dir, Inventory& inv) {
  auto dir = OpenInRoot(rootfd, node_modules_dir, O_RDONLY | O_DIRECTORY);
  if (!dir.ok()) {
    inv.AddNote("npm: " + dir.status().ToString());
    return;
  }
  Walker w{rootfd, inv};
  w.Dir(dir->get(), node_modules_dir, 0);
}

}  // namespace ctrsnap::drift
