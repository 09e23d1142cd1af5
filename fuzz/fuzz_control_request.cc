// The control socket's request decoding and dispatch (HandleControlRequest,
// fusefs/control) with a fake handler: every line gets exactly one reply line
// that is a JSON object {"v":1,"ok":bool,...}; errors carry a message; the
// handler sees only labels that passed the documented checks.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/control_client.h"
#include "fusefs/control/control_server.h"
#include "fuzz/fuzz_check.h"

namespace {

using nlohmann::json;
using ctrsnap::Result;
using ctrsnap::Status;

// Answers every op; the first input byte picks whether it fails and whether
// it returns strings that are not valid UTF-8 (a container can name files so).
class FakeHandler final : public ctrsnap::ControlHandler {
 public:
  explicit FakeHandler(uint8_t mode) : mode_(mode) {}
  Result<json> GetStatus() override {
    if (mode_ & 1) return Status::Internal("status \xff failed");
    return json{{"live", 3}, {"generations", json::array({{{"id", 1}, {"label", "\xc3("}}})}};
  }
  Result<json> Seal(const std::string& label) override {
    FUZZ_CHECK(label.size() <= 128, "label of %zu bytes reached the handler", label.size());
    for (char c : label) {
      FUZZ_CHECK(c >= 0x20 && c <= 0x7e && c != '/', "label byte 0x%02x reached the handler",
                 static_cast<unsigned char>(c));
    }
    if (mode_ & 2) return Status::InvalidArgument("cannot seal");
    return json{{"sealed", 2}, {"live", 3}, {"blocked_us", 7}};
  }
  Result<json> Flush() override {
    if (mode_ & 4) return Status::Internal("flush");
    return json::object();
  }
  Result<json> Compact(const ctrsnap::CompactArgs& args) override {
    if (mode_ & 8) throw std::runtime_error("handler threw");  // the server must catch it
    return json{{"through", args.through ? static_cast<int64_t>(*args.through) : -1}};
  }
  Result<json> MarkExported(const std::vector<uint64_t>& generations, const std::string&) override {
    if (mode_ & 16) return Status::Internal("mark_exported");
    return json{{"marked", generations}};
  }

 private:
  uint8_t mode_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  FakeHandler handler(data[0]);
  std::string_view line(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string reply = ctrsnap::HandleControlRequest(handler, line);
  FUZZ_CHECK(reply.find('\n') == std::string::npos, "reply holds a newline: %s", reply.c_str());
  FUZZ_CHECK(reply.size() <= ctrsnap::kControlMaxMessage + 1024, "reply of %zu bytes",
             reply.size());
  json j = json::parse(reply, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(j.is_object(), "reply is not a JSON object: %s", reply.c_str());
  FUZZ_CHECK(j.value("v", 0) == ctrsnap::kControlProtocolVersion, "reply without v:1: %s",
             reply.c_str());
  auto ok = j.find("ok");
  FUZZ_CHECK(ok != j.end() && ok->is_boolean(), "reply without boolean ok: %s", reply.c_str());
  if (!ok->get<bool>()) {
    auto err = j.find("error");
    FUZZ_CHECK(err != j.end() && err->is_string() && !err->get<std::string>().empty(),
               "error reply without a message: %s", reply.c_str());
  }
  return 0;
}
