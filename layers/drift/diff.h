// Diff of two inventories: what software and configuration changed from A
// (old) to B (new), and how to present it (table, JSON, CI verdict).
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "layers/drift/inventory.h"

namespace ctrsnap::drift {

enum class ChangeKind { kAdded, kRemoved, kUpgraded, kDowngraded, kChanged };

std::string_view ChangeKindName(ChangeKind kind);
Result<ChangeKind> ParseChangeKind(std::string_view name);

struct Change {
  ChangeKind kind;
  std::string ecosystem;
  std::string name;
  std::string arch;
  std::string location;
  std::string old_version;  // empty for kAdded
  std::string new_version;  // empty for kRemoved
  // kChanged: what differs ("build py311_0 -> py312_0", "content", "mode 0644 -> 0600").
  std::string detail;
  bool secret = false;  // values are digests: print "changed", never the value
};

// Changes from A to B, ordered by ecosystem, then kind, then name.
// Same key, different version: upgraded/downgraded by the ecosystem's order
// (version_compare.h); versions that compare equal but differ as strings, or
// same version with different build/channel/digest/mode/owner: changed.
std::vector<Change> Diff(const Inventory& a, const Inventory& b);

// A --fail-on rule: a change kind, optionally limited to one ecosystem
// ("downgraded", "python:removed"); "any" matches every change.
struct FailRule {
  std::string ecosystem;  // empty: all
  std::set<ChangeKind> kinds;
};
// Parses "downgrade,removed,python:added" (singular or past tense accepted).
Result<FailRule> ParseFailRule(std::string_view spec);
std::vector<const Change*> Matching(const std::vector<Change>& changes,
                                    const std::vector<FailRule>& rules);

// Human table grouped by ecosystem; NOTES of both sides listed at the end.
std::string FormatTable(const std::vector<Change>& changes, const Inventory& a,
                        const Inventory& b);
// {"a":..,"b":..,"changes":[..],"counts":{eco:{kind:n}},"notes":{"a":[..],"b":[..]}}
std::string FormatJson(const std::vector<Change>& changes, const Inventory& a, const Inventory& b,
                       size_t failed);

}  // namespace ctrsnap::drift
