#include "layers/policy/report_format.h"

#include <map>
#include <nlohmann/json.hpp>

#include "common/version.h"
#include "layers/policy/detector.h"
#include "layers/policy/policy.h"

namespace ctrsnap::policy {

bool ShownInReport(const FilterFinding& f, bool all) {
  return all || f.kind == kKindSecret || f.kind == kKindCredentialPath || f.kind == kKindScanLimit;
}

namespace {

std::string Location(const FilterFinding& f) {
  return f.line > 0 ? f.path + ":" + std::to_string(f.line) : f.path;
}

std::string HumanBytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace

std::string FormatTable(const ScanReport& report, bool all) {
  std::vector<const ScanFinding*> shown;
  for (const ScanFinding& f : report.findings) {
    if (ShownInReport(f.finding, all)) shown.push_back(&f);
  }
  size_t w_action = 6, w_rule = 4, w_loc = 8;
  for (const ScanFinding* f : shown) {
    w_action = std::max(w_action, ActionName(f->finding.action).size());
    w_rule = std::max(w_rule, f->finding.rule.size());
    w_loc = std::max(w_loc, std::min<size_t>(Location(f->finding).size(), 70));
  }
  std::string out;
  char line[1024];
  std::snprintf(line, sizeof(line), "%-*s  %-*s  %-*s  %s\n", int(w_action), "ACTION", int(w_rule),
                "RULE", int(w_loc), "LOCATION", "DETAIL");
  out += line;
  for (const ScanFinding* f : shown) {
    const FilterFinding& x = f->finding;
    std::string detail = x.masked.empty() ? x.reason : x.masked + "  " + x.reason;
    if (x.kind == kKindLargeDownload || x.kind == kKindCache) detail += " [" + HumanBytes(x.bytes) + "]";
    std::snprintf(line, sizeof(line), "%-*s  %-*s  %-*s  %s\n", int(w_action),
                  std::string(ActionName(x.action)).c_str(), int(w_rule), x.rule.c_str(), int(w_loc),
                  Location(x).c_str(), detail.c_str());
    out += line;
  }
  uint64_t secrets = 0, cred = 0, cache_bytes = 0, large_bytes = 0;
  for (const ScanFinding& f : report.findings) {
    if (f.finding.kind == kKindSecret) ++secrets;
    if (f.finding.kind == kKindCredentialPath) ++cred;
    if (f.finding.kind == kKindCache) cache_bytes += f.finding.bytes;
    if (f.finding.kind == kKindLargeDownload) large_bytes += f.finding.bytes;
  }
  out += "\n" + std::to_string(report.files) + " files, " + HumanBytes(report.bytes) +
         " scanned: " + std::to_string(secrets) + " secret(s), " + std::to_string(cred) +
         " credential file(s); caches " + HumanBytes(cache_bytes) + ", large downloads " +
         HumanBytes(large_bytes) + "\n";
  for (const std::string& w : report.warnings) out += "warning: " + w + "\n";
  return out;
}

std::string FormatJsonLines(const ScanReport& report, bool all) {
  std::string out;
  for (const ScanFinding& f : report.findings) {
    if (!ShownInReport(f.finding, all)) continue;
    const FilterFinding& x = f.finding;
    nlohmann::json j = {{"path", x.path},       {"rule", x.rule},     {"kind", x.kind},
                        {"line", x.line},       {"masked", x.masked}, {"action", ActionName(x.action)},
                        {"reason", x.reason},   {"bytes", x.bytes}};
    if (!f.fingerprint.empty()) j["fingerprint"] = f.fingerprint;
    if (!f.source.empty()) j["source"] = f.source;
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  return out;
}

std::string FormatSarif(const ScanReport& report, bool all) {
  using nlohmann::json;
  std::map<std::string, std::string> descriptions;
  for (const RuleInfo& r : Detector::Catalog()) descriptions[r.id] = r.description;
  std::map<std::string, size_t> rule_index;
  json rules = json::array();
  json results = json::array();
  for (const ScanFinding& f : report.findings) {
    if (!ShownInReport(f.finding, all)) continue;
    const FilterFinding& x = f.finding;
    auto it = rule_index.find(x.rule);
    if (it == rule_index.end()) {
      std::string desc = descriptions.count(x.rule) ? descriptions[x.rule] : x.reason;
      rules.push_back({{"id", x.rule},
                       {"shortDescription", {{"text", desc}}},
                       {"properties", {{"kind", x.kind}}}});
      it = rule_index.emplace(x.rule, rules.size() - 1).first;
    }
    std::string uri = x.path;
    while (!uri.empty() && uri[0] == '/') uri.erase(0, 1);
    json loc = {{"physicalLocation", {{"artifactLocation", {{"uri", uri}}}}}};
    if (x.line > 0) loc["physicalLocation"]["region"] = {{"startLine", x.line}};
    std::string text = x.reason;
    if (!x.masked.empty()) text += ": " + x.masked;
    json r = {{"ruleId", x.rule},
              {"ruleIndex", it->second},
              {"level", x.kind == kKindSecret || x.kind == kKindCredentialPath ? "error" : "note"},
              {"message", {{"text", text}}},
              {"locations", json::array({loc})}};
    if (!f.fingerprint.empty()) r["partialFingerprints"] = {{"secretSha256/v1", f.fingerprint}};
    results.push_back(std::move(r));
  }
  json sarif = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs", json::array({{{"tool", {{"driver", {{"name", "ctrsnap"},
                                                   {"version", CTRSNAP_VERSION},
                                                   {"rules", rules}}}}},
                             {"results", results}}})}};
  return sarif.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace ctrsnap::policy
