// Decoding and dispatch of one control request line (no I/O here).
#include <algorithm>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/control_client.h"
#include "fusefs/control/control_server.h"

namespace ctrsnap {
namespace {

using nlohmann::json;

constexpr size_t kMaxLabel = 128;
// More generations than a daemon could ever hold in its overlay stack.
constexpr size_t kMaxMarkedGenerations = 4096;

std::string Dump(const json& j) {
  // Container-controlled strings may be invalid UTF-8: never throw on them.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ErrorReply(std::string_view message) {
  json r = {{"v", kControlProtocolVersion}, {"ok", false}, {"error", std::string(message)}};
  return Dump(r);
}

// A short, printable rendering of a peer-supplied value for error messages.
std::string Quote(const json& v) {
  std::string s = Dump(v);
  if (s.size() > 64) s = s.substr(0, 61) + "...";
  return s;
}

Status CheckLabel(const std::string& label) {
  if (label.size() > kMaxLabel) {
    return Status::InvalidArgument("label longer than " + std::to_string(kMaxLabel) + " bytes");
  }
  for (char c : label) {
    if (c < 0x20 || c > 0x7e || c == '/') {
      return Status::InvalidArgument("label may hold only printable ASCII without '/'");
    }
  }
  return Status::Ok();
}

// A layer digest as `ctrsnap snapshot` writes it: sha256:<64 lowercase hex>.
Status CheckDigest(const json& v) {
  if (!v.is_string()) return Status::InvalidArgument("\"digest\" must be a string");
  const std::string& d = v.get_ref<const std::string&>();
  constexpr std::string_view kPrefix = "sha256:";
  bool ok = d.size() == kPrefix.size() + 64 && d.compare(0, kPrefix.size(), kPrefix) == 0;
  for (size_t i = kPrefix.size(); ok && i < d.size(); ++i) {
    ok = (d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f');
  }
  if (!ok) return Status::InvalidArgument("\"digest\" must be sha256:<64 lowercase hex>");
  return Status::Ok();
}

Result<std::vector<uint64_t>> ParseGenerations(const json& req) {
  auto it = req.find("generations");
  if (it == req.end() || !it->is_array() || it->empty()) {
    return Status::InvalidArgument("\"generations\" must be a non-empty array of generation numbers");
  }
  if (it->size() > kMaxMarkedGenerations) {
    return Status::InvalidArgument("more than " + std::to_string(kMaxMarkedGenerations) +
                                   " generations");
  }
  std::vector<uint64_t> gens;
  for (const auto& g : *it) {
    if (!g.is_number_unsigned() || g.get<uint64_t>() == 0) {
      return Status::InvalidArgument("generation " + Quote(g) + " is not a generation number");
    }
    gens.push_back(g.get<uint64_t>());
  }
  std::sort(gens.begin(), gens.end());
  gens.erase(std::unique(gens.begin(), gens.end()), gens.end());
  return gens;
}

Result<json> Dispatch(ControlHandler& handler, const json& req) {
  auto op_it = req.find("op");
  if (op_it == req.end()) return Status::InvalidArgument("missing \"op\"");
  if (!op_it->is_string()) return Status::InvalidArgument("\"op\" must be a string");
  const std::string& op = op_it->get_ref<const std::string&>();

  if (op == "status") return handler.GetStatus();
  if (op == "flush") return handler.Flush();
  if (op == "seal") {
    std::string label;
    if (auto it = req.find("label"); it != req.end() && !it->is_null()) {
      if (!it->is_string()) return Status::InvalidArgument("\"label\" must be a string");
      label = it->get<std::string>();
      RETURN_IF_ERROR(CheckLabel(label));
    }
    return handler.Seal(label);
  }
  if (op == "compact") {
    CompactArgs args;
    if (auto it = req.find("through"); it != req.end() && !it->is_null()) {
      if (!it->is_number_unsigned()) {
        return Status::InvalidArgument("\"through\" must be a generation number");
      }
      args.through = it->get<uint64_t>();
    }
    return handler.Compact(args);
  }
  if (op == "mark_exported") {
    ASSIGN_OR_RETURN(std::vector<uint64_t> gens, ParseGenerations(req));
    auto d = req.find("digest");
    if (d == req.end()) return Status::InvalidArgument("missing \"digest\"");
    RETURN_IF_ERROR(CheckDigest(*d));
    return handler.MarkExported(gens, d->get<std::string>());
  }
  return Status::InvalidArgument("unknown op " + Quote(*op_it) +
                                 " (known: status, seal, flush, compact, mark_exported)");
}

}  // namespace

std::string HandleControlRequest(ControlHandler& handler, std::string_view line) {
  try {
    json req = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded()) return ErrorReply("malformed request: not JSON");
    if (!req.is_object()) return ErrorReply("malformed request: not a JSON object");
    if (auto v = req.find("v"); v != req.end()) {
      if (!v->is_number_integer() || v->get<int64_t>() != kControlProtocolVersion) {
        return ErrorReply("unsupported protocol version " + Quote(*v) + " (this daemon speaks " +
                          std::to_string(kControlProtocolVersion) + ")");
      }
    }
    Result<json> result = Dispatch(handler, req);
    if (!result.ok()) return ErrorReply(result.status().ToString());
    json reply = result->is_object() ? std::move(result).value() : json{{"result", *result}};
    reply["v"] = kControlProtocolVersion;
    reply["ok"] = true;
    std::string out = Dump(reply);
    if (out.size() >= kControlMaxMessage) {
      return ErrorReply("reply of " + std::to_string(out.size()) +
                        " bytes exceeds the protocol's 64 KiB limit");
    }
    return out;
  } catch (const std::exception& e) {
    return ErrorReply(std::string("internal error: ") + e.what());
  } catch (...) {
    return ErrorReply("internal error");
  }
}

}  // namespace ctrsnap
