// ctrsnap seal: close the live generation of a running ctrsnap-fs (through
// its control socket) and open a new one.
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/control_client.h"
#include "layers/cli/commands.h"
#include "layers/cli/state_arg.h"

namespace ctrsnap::cli {
namespace {

struct SealArgs {
  StateArgs state;
  std::string label;
  bool json = false;
  int timeout_s = 60;
};

int RunSeal(const SealArgs& a) {
  Result<std::string> state = ResolveStateDir(a.state);
  if (!state.ok()) {
    return ReportError("seal", state.status(), state.status().code() == Code::kInvalidArgument);
  }
  nlohmann::json req = {{"op", "seal"}};
  if (!a.label.empty()) req["label"] = a.label;
  Result<nlohmann::json> reply = ControlCall(*state, req, a.timeout_s * 1000);
  if (!reply.ok()) return ReportError("seal", reply.status());
  if (a.json) {
    std::printf("%s\n", reply->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  try {
    std::printf("sealed generation %llu%s; live generation is now %llu; writes blocked %llu us\n",
                static_cast<unsigned long long>(reply->value("sealed", uint64_t{0})),
                a.label.empty() ? "" : (" (" + a.label + ")").c_str(),
                static_cast<unsigned long long>(reply->value("live", uint64_t{0})),
                static_cast<unsigned long long>(reply->value("blocked_us", uint64_t{0})));
  } catch (const nlohmann::json::exception& e) {
    return ReportError("seal", Status::Corrupt(std::string("unexpected reply: ") + e.what()));
  }
  return 0;
}

}  // namespace

void AddSealCommand(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<SealArgs>();
  CLI::App* sub = root.add_subcommand(
      "seal", "Seal the live generation of a running container's filesystem (O(1), no pause)");
  AddStateArgs(sub, args->state);
  sub->add_option("--label", args->label, "label for the sealed generation");
  sub->add_flag("--json", args->json, "print the daemon's reply as JSON");
  sub->add_option("--timeout", args->timeout_s, "seconds to wait for the daemon")
      ->check(CLI::Range(1, 3600));
  sub->callback([args, &ctx] { ctx.exit_code = RunSeal(*args); });
}

}  // namespace ctrsnap::cli
