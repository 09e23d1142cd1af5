// Alpine packages: /lib/apk/db/installed, paragraphs of "K:value" lines
// (P: name, V: version, A: arch), separated by blank lines.
#include "layers/drift/root_fs.h"
#include "layers/drift/scanners.h"

namespace ctrsnap::drift {

void ParseApkInstalled(std::string_view text, Inventory& inv) {
  Item cur;
  auto flush = [&] {
    if (!cur.name.empty()) {
      cur.ecosystem = kEcoApk;
      inv.items.push_back(std::move(cur));
    }
    cur = Item();
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) {
      flush();
      continue;
    }
    if (line.size() < 2 || line[1] != ':') continue;
    std::string_view v = line.substr(2);
    switch (line[0]) {
      case 'P': cur.name = std::string(v); break;
      case 'V': cur.version = std::string(v); break;
      case 'A': cur.arch = std::string(v); break;
      default: break;
    }
  }
  flush();
}

void ScanApk(int rootfd, Inventory& inv) {
  // /lib is a symlink to usr/lib on merged-/usr systems: OpenInRoot resolves it
  // inside the root.
  auto text = ReadFileInRoot(rootfd, "/lib/apk/db/installed");
  if (text.ok()) {
    ParseApkInstalled(*text, inv);
  } else if (text.status().code() != Code::kNotFound) {
    inv.AddNote("apk: " + text.status().ToString());
  }
}

}  // namespace ctrsnap::drift
