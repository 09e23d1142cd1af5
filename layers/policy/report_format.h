// Renderings of a ScanReport: a table for people, JSON lines for scripts,
// SARIF 2.1.0 for CI systems (GitHub code scanning, GitLab, ...). None of
// them ever contains a whole secret: only FilterFinding::masked.
#pragma once

#include <string>

#include "layers/policy/tree_scan.h"

namespace ctrsnap::policy {

// Which findings a report shows: secrets and credential files always; caches,
// large downloads and exclusions only with ALL.
bool ShownInReport(const FilterFinding& f, bool all);

std::string FormatTable(const ScanReport& report, bool all);
// One JSON object per finding and line: path, rule, kind, line, masked,
// fingerprint, action, reason, bytes, source.
std::string FormatJsonLines(const ScanReport& report, bool all);
std::string FormatSarif(const ScanReport& report, bool all);

}  // namespace ctrsnap::policy
