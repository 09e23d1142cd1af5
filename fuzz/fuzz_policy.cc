// Policy files (layers/policy: MergePolicyText): any bytes merge cleanly or
// give an error, never a crash; a merged policy's globs all compile and its
// JSON form can be dumped.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_check.h"
#include "layers/policy/glob.h"
#include "layers/policy/policy.h"

namespace pol = ctrsnap::policy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  pol::Policy policy = pol::DefaultPolicy();
  size_t rules_before = policy.path_rules.size();
  ctrsnap::Status st = pol::MergePolicyText(text, "fuzz.json", &policy);
  if (!st.ok()) {
    FUZZ_CHECK(!st.message().empty(), "error without a message");
    return 0;
  }
  FUZZ_CHECK(policy.path_rules.size() >= rules_before, "merging dropped built-in rules");
  // Include/exclude lists were accepted: they must be usable globs.
  pol::GlobList list;
  for (const auto& g : policy.include) {
    auto s = list.Add(g);
    FUZZ_CHECK(s.ok(), "accepted include glob '%s' does not compile: %s", g.c_str(),
               s.ToString().c_str());
  }
  for (const auto& g : policy.exclude) {
    auto s = list.Add(g);
    FUZZ_CHECK(s.ok(), "accepted exclude glob '%s' does not compile: %s", g.c_str(),
               s.ToString().c_str());
  }
  (void)list.Matches("/root/.cache/pip/x", false);
  for (const auto& kind : {"cache", "secret", "credential-path", "large-download"}) {
    (void)pol::ActionName(policy.ActionFor(kind));
  }
  nlohmann::json j = pol::PolicyToJson(policy);
  (void)j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
