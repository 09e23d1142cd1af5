// CDI specs (hooks/gpu): JSON and YAML parsing, and applying a spec's edits
// to an OCI runtime spec. Invariants:
//   - an accepted spec round-trips: CdiSpecToJson -> parse (as JSON and as
//     YAML) -> CdiSpecToJson gives the same document;
//   - ApplyCdiEdits never throws; applying the same edits twice leaves the
//     runtime spec as one application did (documented idempotence).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.h"
#include "hooks/gpu/cdi_apply.h"
#include "hooks/gpu/cdi_spec.h"

namespace gpu = ctrsnap::gpu;
using nlohmann::json;

namespace {

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void CheckApply(const gpu::CdiContainerEdits& edits) {
  json base = json::parse(R"({"ociVersion":"1.0.2","process":{"env":["PATH=/bin","A=1"],
      "user":{"uid":1000,"gid":1000}},"root":{"path":"rootfs"},
      "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/dev","type":"tmpfs","source":"tmpfs"}],
      "linux":{"devices":[],"resources":{"devices":[{"allow":false,"access":"rwm"}]}}})");
  json once = base;
  auto r1 = gpu::ApplyCdiEdits(&once, edits);
  if (!r1.ok()) return;
  json twice = once;
  auto r2 = gpu::ApplyCdiEdits(&twice, edits);
  FUZZ_CHECK(r2.ok(), "second application failed: %s", r2.status().ToString().c_str());
  FUZZ_CHECK(twice == once, "applying twice differs:\n%s\n%s", Dump(once).c_str(),
             Dump(twice).c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = gpu::ParseCdiSpec(text, "fuzz.yaml");
  if (!spec.ok()) return 0;

  (void)gpu::MinimumCdiVersion(*spec);
  CheckApply(spec->edits);
  for (const auto& dev : spec->devices) {
    gpu::CdiContainerEdits all = spec->edits;
    all.Append(dev.edits);
    CheckApply(all);
    (void)gpu::ParseQualifiedName(spec->kind + "=" + dev.name);
  }

  json j = gpu::CdiSpecToJson(*spec);
  // YAML accepts bytes that are not UTF-8; JSON cannot carry them, so only
  // specs that are valid UTF-8 can round-trip.
  try {
    (void)j.dump();
  } catch (const json::exception&) {
    return 0;
  }
  auto from_json = gpu::ParseCdiSpec(Dump(j), "roundtrip.json");
  FUZZ_CHECK(from_json.ok(), "CdiSpecToJson output rejected: %s\n%s",
             from_json.status().ToString().c_str(), Dump(j).c_str());
  FUZZ_CHECK(gpu::CdiSpecToJson(*from_json) == j, "JSON round trip changed the spec:\n%s",
             Dump(j).c_str());

  std::string yaml = gpu::JsonToYaml(j);
  auto from_yaml = gpu::ParseCdiSpec(yaml, "roundtrip.yaml");
  FUZZ_CHECK(from_yaml.ok(), "JsonToYaml output rejected: %s\n%s",
             from_yaml.status().ToString().c_str(), yaml.c_str());
  FUZZ_CHECK(gpu::CdiSpecToJson(*from_yaml) == j, "YAML round trip changed the spec:\n%s\n%s",
             Dump(j).c_str(), Dump(gpu::CdiSpecToJson(*from_yaml)).c_str());

  return 0;
}
