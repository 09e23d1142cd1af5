// Config::Parse (/etc/ctrsnap/config.json): any bytes give a Config or an
// error, never a crash; an accepted config survives ToJson -> Parse unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/config.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cfg = ctrsnap::Config::Parse(text, "fuzz.json");
  if (!cfg.ok()) {
    FUZZ_CHECK(!cfg.status().ToString().empty(), "an error without a message");
    return 0;
  }
  std::string json = cfg->ToJson();
  auto again = ctrsnap::Config::Parse(json, "roundtrip.json");
  FUZZ_CHECK(again.ok(), "ToJson output rejected: %s\n%s", again.status().ToString().c_str(),
             json.c_str());
  FUZZ_CHECK(again->ToJson() == json, "round trip changed the config:\n%s\n%s", json.c_str(),
             again->ToJson().c_str());
  return 0;
}
