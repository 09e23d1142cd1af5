// The bundle's config.json handling in the shim (shim/spec.h): parsing a
// hostile spec and the edits the shim makes to it never crash or throw;
// UpsertHook is idempotent and leaves the hook in place; RemoveHook removes it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.h"
#include "shim/spec.h"

namespace sh = ctrsnap::shim;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = sh::ParseSpec(text, "config.json");
  if (!spec.ok()) return 0;
  FUZZ_CHECK(spec->is_object(), "ParseSpec accepted a non-object root");

  // Read-only accessors: any result is fine, no crash, no throw.
  auto root = sh::RootPath(*spec, "/run/bundle");
  if (root.ok()) FUZZ_CHECK(!root->empty() && (*root)[0] == '/', "relative root path");
  (void)sh::RootReadonly(*spec);
  (void)sh::Annotation(*spec, "ctrsnap.disable");
  (void)sh::ProcessEnv(*spec);
  (void)sh::EnvValue(*spec, "CTRSNAP_DISABLE");
  (void)sh::DisabledBy(*spec);

  sh::Hook hook;
  hook.path = "/usr/bin/ctrsnap-hook";
  hook.args = {"ctrsnap-hook", "poststop"};
  hook.timeout = 30;
  for (const char* point : {"poststop", "prestart", "createRuntime"}) {
    nlohmann::json once = *spec;
    if (!sh::UpsertHook(once, point, hook).ok()) continue;
    FUZZ_CHECK(sh::CountHooks(once, point, "ctrsnap-hook") >= 1, "hook missing after upsert");
    nlohmann::json twice = once;
    auto st = sh::UpsertHook(twice, point, hook);
    FUZZ_CHECK(st.ok(), "second upsert failed: %s", st.ToString().c_str());
    FUZZ_CHECK(twice == once, "UpsertHook is not idempotent at %s", point);
    sh::RemoveHook(twice, point, hook);
    nlohmann::json again = twice;
    FUZZ_CHECK(sh::UpsertHook(again, point, hook).ok(), "upsert after remove failed");
    // Dumping what goes back to the runtime must not throw on invalid UTF-8.
    (void)once.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return 0;
}
