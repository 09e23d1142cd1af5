// Engine configuration editing (packaging/install): `ctrsnap install` on a
// fuzzed existing file (docker daemon.json, containerd config.toml, podman
// containers.conf, cri-o drop-in: the first byte picks) either refuses with
// an error or produces a file that parses, registers the runtime at the
// requested path, and plans nothing more when installed again. Uninstall of
// that result must succeed.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "fuzz/scratch_dir.h"
#include "packaging/install/engine_config.h"

namespace fs = std::filesystem;
namespace in = ctrsnap::install;

namespace {

const std::string& Scratch() {
  static ctrsnap::fuzz::ScratchDir dir("fuzz_engine_install");
  return dir.path();
}
const std::string& Dir() {
  static const std::string dir = Scratch() + "/t";
  return dir;
}

void Put(const std::string& path, std::string_view text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  in::Engine engine = in::kAllEngines[data[0] % 4];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::error_code ec;
  fs::remove_all(Dir(), ec);
  auto cfg = in::MakeEngineConfig(engine, Dir() + "/root");
  static const char* kFiles[] = {"/etc/docker/daemon.json", "/etc/containerd/config.toml",
                                 "/etc/containers/containers.conf",
                                 "/etc/crio/crio.conf.d/99-ctrsnap.conf"};
  in::InstallRequest req;
  req.file = Dir() + "/root" + kFiles[data[0] % 4];
  req.runtime_path = "/usr/local/bin/ctrsnap-runtime";
  req.make_default = data[0] & 0x80;
  Put(req.file, text);

  auto plan = cfg->PlanInstall(req);
  if (!plan.ok()) {
    FUZZ_CHECK(!plan.status().message().empty(), "refusal without a message");
    return 0;
  }
  for (const auto& change : plan->changes) {
    if (change.content) {
      Put(change.path, *change.content);
    } else {
      fs::remove(change.path, ec);
    }
  }
  auto reg = cfg->Inspect(req.file);
  FUZZ_CHECK(reg.ok(), "%s: installed file does not parse: %s",
             std::string(in::EngineName(engine)).c_str(), reg.status().ToString().c_str());
  FUZZ_CHECK(reg->installed, "%s: runtime not registered after install",
             std::string(in::EngineName(engine)).c_str());
  FUZZ_CHECK(reg->runtime_path == req.runtime_path, "%s: registered '%s'",
             std::string(in::EngineName(engine)).c_str(), reg->runtime_path.c_str());
  auto again = cfg->PlanInstall(req);
  FUZZ_CHECK(again.ok(), "%s: second install refused: %s",
             std::string(in::EngineName(engine)).c_str(), again.status().ToString().c_str());
  FUZZ_CHECK(again->changes.empty(), "%s: install again plans %zu changes",
             std::string(in::EngineName(engine)).c_str(), again->changes.size());
  auto un = cfg->PlanUninstall(req);
  FUZZ_CHECK(un.ok(), "%s: uninstall of an installed file refused: %s",
             std::string(in::EngineName(engine)).c_str(), un.status().ToString().c_str());
  // TOML files are edited line by line: uninstall gives back the original
  // text (toml_edit.h). Only when install changed the file itself (not a
  // drop-in) and the original was ctrsnap-free.
  bool toml = engine == in::Engine::kContainerd || engine == in::Engine::kPodman;
  bool edited_in_place = false;
  for (const auto& c : plan->changes) edited_in_place |= c.path == req.file;
  if (toml && edited_in_place && text.find("ctrsnap") == std::string_view::npos &&
      text.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    for (const auto& change : un->changes) {
      if (change.content) {
        Put(change.path, *change.content);
      } else {
        fs::remove(change.path, ec);
      }
    }
    std::ifstream f(req.file, std::ios::binary);
    std::string back((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // A missing final newline may be added: edits are by whole lines.
    std::string orig(text);
    if (!orig.empty() && orig.back() != '\n') orig.push_back('\n');
    if (!back.empty() && back.back() != '\n') back.push_back('\n');
    FUZZ_CHECK(back == orig, "%s: install + uninstall did not give the original back:\n%s\n--\n%s",
               std::string(in::EngineName(engine)).c_str(), orig.c_str(), back.c_str());
  }
  return 0;
}
