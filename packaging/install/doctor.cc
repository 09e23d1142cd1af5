#include "packaging/install/doctor.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ctrsnap::install {

std::string_view CheckLevelName(CheckLevel level) {
  switch (level) {
    case CheckLevel::kOk: return "OK";
    case CheckLevel::kNote: return "NOTE";
    case CheckLevel::kWarn: return "WARN";
    case CheckLevel::kFail: return "FAIL";
  }
  return "FAIL";
}

CheckResult EngineDiffNote() {
  return {"docker diff/commit", CheckLevel::kNote,
          "`docker diff` and `docker commit` do not see what containers write under ctrsnap "
          "(their root is ctrsnap-fs, not Docker's overlay upper)",
          "use `ctrsnap diff CONTAINER` and `ctrsnap snapshot CONTAINER` instead"};
}

std::vector<CheckResult> RunDoctor(const DoctorOptions& o) {
  std::vector<CheckResult> out;
  auto add = [&](CheckResult r) { out.push_back(std::move(r)); };
  auto add_all = [&](std::vector<CheckResult> rs) {
    for (auto& r : rs) out.push_back(std::move(r));
  };
  add(CheckConfig(o));
  add(CheckFuse(o));
  add(CheckOverlay(o));
  add(CheckOpenat2());
  add(CheckMountApi());
  add(CheckRuntime(o));
  add_all(CheckBinaries(o));
  add_all(CheckEngines(o));
  add_all(CheckStateDir(o));
  add(CheckGpu(o));
  add(EngineDiffNote());
  return out;
}

bool AnyFailed(const std::vector<CheckResult>& results) {
  return std::any_of(results.begin(), results.end(),
                     [](const CheckResult& r) { return r.level == CheckLevel::kFail; });
}

std::string FormatTable(const std::vector<CheckResult>& results) {
  size_t width = 0;
  for (const auto& r : results) width = std::max(width, r.name.size());
  std::string out;
  int fails = 0, warns = 0;
  for (const auto& r : results) {
    std::string level(CheckLevelName(r.level));
    out += level + std::string(6 - level.size(), ' ') + r.name +
           std::string(width - r.name.size() + 2, ' ') + r.message + "\n";
    if (!r.fix.empty()) out += std::string(width + 8, ' ') + "fix: " + r.fix + "\n";
    fails += r.level == CheckLevel::kFail;
    warns += r.level == CheckLevel::kWarn;
  }
  out += std::to_string(results.size()) + " checks, " + std::to_string(fails) + " failed, " +
         std::to_string(warns) + " warnings\n";
  return out;
}

std::string FormatJson(const std::vector<CheckResult>& results) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : results) {
    j.push_back({{"check", r.name},
                 {"level", CheckLevelName(r.level)},
                 {"message", r.message},
                 {"fix", r.fix}});
  }
  return j.dump(2) + "\n";
}

}  // namespace ctrsnap::install
