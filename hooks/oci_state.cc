#include "hooks/oci_state.h"

#include <nlohmann/json.hpp>

namespace ctrsnap::hooks {

Result<OciState> ParseOciState(std::string_view text) {
  OciState s;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return s;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("hook state on stdin is not a JSON object");
  }
  auto str = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  s.oci_version = str("ociVersion");
  s.id = str("id");
  s.status = str("status");
  s.bundle = str("bundle");
  if (auto it = j.find("pid"); it != j.end() && it->is_number_integer()) s.pid = it->get<int>();
  return s;
}

}  // namespace ctrsnap::hooks
