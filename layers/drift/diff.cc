#include "layers/drift/diff.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "layers/drift/version_compare.h"

namespace ctrsnap::drift {
namespace {

bool VersionedEcosystem(std::string_view eco) { return eco != kEcoEtc && eco != kEcoConfig; }

std::string Arrow(const std::string& a, const std::string& b) {
  return (a.empty() ? "(none)" : a) + " -> " + (b.empty() ? "(none)" : b);
}

// What differs between two items with the same key and equal-ordering versions.
std::string ChangedDetail(const Item& x, const Item& y) {
  std::vector<std::string> parts;
  if (x.version != y.version) {
    if (x.secret || y.secret) {
      parts.push_back("value (hidden)");
    } else if (x.ecosystem == kEcoConfig) {
      parts.push_back(Arrow(x.version, y.version));
    } else {
      parts.push_back("version " + Arrow(x.version, y.version));
    }
  }
  if (x.build != y.build) parts.push_back("build " + Arrow(x.build, y.build));
  if (x.channel != y.channel) parts.push_back("channel " + Arrow(x.channel, y.channel));
  if (x.digest != y.digest) {
    bool links = x.digest.starts_with("link:") || y.digest.starts_with("link:");
    parts.push_back(links ? "target " + Arrow(x.digest, y.digest) : std::string("content"));
  }
  if (x.mode != y.mode) parts.push_back("mode " + Arrow(x.mode, y.mode));
  if (x.owner != y.owner) parts.push_back("owner " + Arrow(x.owner, y.owner));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

Change MakeChange(ChangeKind kind, const Item& it) {
  Change c;
  c.kind = kind;
  c.ecosystem = it.ecosystem;
  c.name = it.name;
  c.arch = it.arch;
  c.location = it.location;
  c.secret = it.secret;
  return c;
}

}  // namespace

std::string_view ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAdded: return "added";
    case ChangeKind::kRemoved: return "removed";
    case ChangeKind::kUpgraded: return "upgraded";
    case ChangeKind::kDowngraded: return "downgraded";
    case ChangeKind::kChanged: return "changed";
  }
  return "?";
}

Result<ChangeKind> ParseChangeKind(std::string_view name) {
  if (name == "added" || name == "add") return ChangeKind::kAdded;
  if (name == "removed" || name == "remove") return ChangeKind::kRemoved;
  if (name == "upgraded" || name == "upgrade") return ChangeKind::kUpgraded;
  if (name == "downgraded" || name == "downgrade") return ChangeKind::kDowngraded;
  if (name == "changed" || name == "change") return ChangeKind::kChanged;
  return Status::InvalidArgument("unknown change kind '" + std::string(name) +
                                 "' (added, removed, upgraded, downgraded, changed, any)");
}

std::vector<Change> Diff(const Inventory& a, const Inventory& b) {
  std::vector<Change> out;
  size_t i = 0, j = 0;
  // Both item lists are sorted by Key() with unique keys (Inventory invariant).
  while (i < a.items.size() || j < b.items.size()) {
    int order;
    if (i == a.items.size()) {
      order = 1;
    } else if (j == b.items.size()) {
      order = -1;
    } else {
      order = a.items[i].Key().compare(b.items[j].Key());
    }
    if (order < 0) {
      Change c = MakeChange(ChangeKind::kRemoved, a.items[i]);
      c.old_version = a.items[i].version;
      out.push_back(std::move(c));
      ++i;
    } else if (order > 0) {
      Change c = MakeChange(ChangeKind::kAdded, b.items[j]);
      c.new_version = b.items[j].version;
      out.push_back(std::move(c));
      ++j;
    } else {
      const Item& x = a.items[i++];
      const Item& y = b.items[j++];
      int cmp = 0;
      if (VersionedEcosystem(x.ecosystem) && x.version != y.version) {
        cmp = CompareVersions(x.ecosystem, x.version, y.version);
      }
      Change c = MakeChange(ChangeKind::kChanged, y);
      c.secret = x.secret || y.secret;
      c.old_version = x.version;
      c.new_version = y.version;
      if (cmp < 0) {
        c.kind = ChangeKind::kUpgraded;
      } else if (cmp > 0) {
        c.kind = ChangeKind::kDowngraded;
      } else {
        c.detail = ChangedDetail(x, y);
        if (c.detail.empty()) continue;  // identical
      }
      out.push_back(std::move(c));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Change& x, const Change& y) {
    if (x.ecosystem != y.ecosystem) return x.ecosystem < y.ecosystem;
    if (x.kind != y.kind) return x.kind < y.kind;
    if (x.name != y.name) return x.name < y.name;
    return x.location < y.location;
  });
  return out;
}

Result<FailRule> ParseFailRule(std::string_view spec) {
  FailRule rule;
  size_t colon = spec.find(':');
  if (colon != std::string_view::npos) {
    rule.ecosystem = std::string(spec.substr(0, colon));
    spec.remove_prefix(colon + 1);
  }
  if (spec == "any") {
    for (auto k : {ChangeKind::kAdded, ChangeKind::kRemoved, ChangeKind::kUpgraded,
                   ChangeKind::kDowngraded, ChangeKind::kChanged}) {
      rule.kinds.insert(k);
    }
    return rule;
  }
  ASSIGN_OR_RETURN(ChangeKind kind, ParseChangeKind(spec));
  rule.kinds.insert(kind);
  return rule;
}

std::vector<const Change*> Matching(const std::vector<Change>& changes,
                                    const std::vector<FailRule>& rules) {
  std::vector<const Change*> out;
  for (const auto& c : changes) {
    for (const auto& r : rules) {
      if ((r.ecosystem.empty() || r.ecosystem == c.ecosystem) && r.kinds.count(c.kind) > 0) {
        out.push_back(&c);
        break;
      }
    }
  }
  return out;
}

static std::string DisplayName(const Change& c) {
  std::string n = c.name;
  if (!c.arch.empty()) n += ":" + c.arch;
  return n;
}

static std::string Versions(const Change& c) {
  if (c.secret && c.ecosystem == kEcoConfig) {
    return c.kind == ChangeKind::kChanged ? "changed (value hidden)" : "(value hidden)";
  }
  switch (c.kind) {
    case ChangeKind::kAdded: return c.new_version;
    case ChangeKind::kRemoved: return c.old_version;
    case ChangeKind::kUpgraded:
    case ChangeKind::kDowngraded: return c.old_version + " -> " + c.new_version;
    case ChangeKind::kChanged: return c.detail;
  }
  return {};
}

std::string FormatTable(const std::vector<Change>& changes, const Inventory& a,
                        const Inventory& b) {
  std::string out;
  if (changes.empty()) out += "no changes\n";
  size_t i = 0;
  while (i < changes.size()) {
    size_t end = i;
    std::map<ChangeKind, size_t> counts;
    size_t width = 4;
    while (end < changes.size() && changes[end].ecosystem == changes[i].ecosystem) {
      ++counts[changes[end].kind];
      width = std::max(width, DisplayName(changes[end]).size());
      ++end;
    }
    width = std::min<size_t>(width, 48);
    out += changes[i].ecosystem + ":";
    bool first = true;
    for (const auto& [k, n] : counts) {
      out += (first ? " " : ", ") + std::to_string(n) + " " + std::string(ChangeKindName(k));
      first = false;
    }
    out += "\n";
    for (size_t k = i; k < end; ++k) {
      const Change& c = changes[k];
      std::string kind(ChangeKindName(c.kind));
      std::string name = DisplayName(c);
      std::string line = "  " + kind + std::string(12 - kind.size(), ' ') + name;
      if (name.size() < width) line += std::string(width - name.size(), ' ');
      line += "  " + Versions(c);
      if (!c.location.empty() && c.ecosystem != kEcoEtc) line += "  [" + c.location + "]";
      out += line + "\n";
    }
    i = end;
  }
  for (const auto* inv : {&a, &b}) {
    for (const auto& n : inv->notes) {
      out += "note (" + std::string(inv == &a ? "A" : "B") + "): " + n + "\n";
    }
  }
  return out;
}

std::string FormatJson(const std::vector<Change>& changes, const Inventory& a, const Inventory& b,
                       size_t failed) {
  nlohmann::json j;
  j["a"] = a.source;
  j["b"] = b.source;
  nlohmann::json arr = nlohmann::json::array();
  std::map<std::string, std::map<std::string, size_t>> counts;
  for (const auto& c : changes) {
    std::string kind(ChangeKindName(c.kind));
    nlohmann::json e = {{"ecosystem", c.ecosystem}, {"kind", kind}, {"name", c.name}};
    if (!c.arch.empty()) e["arch"] = c.arch;
    if (!c.location.empty()) e["location"] = c.location;
    if (c.secret && c.ecosystem == kEcoConfig) {
      e["secret"] = true;  // digests of secret values are not printed either
    } else {
      if (!c.old_version.empty()) e["old"] = c.old_version;
      if (!c.new_version.empty()) e["new"] = c.new_version;
    }
    if (!c.detail.empty()) e["detail"] = c.detail;
    arr.push_back(std::move(e));
    ++counts[c.ecosystem][kind];
  }
  j["changes"] = std::move(arr);
  j["counts"] = counts;
  j["notes"] = {{"a", a.notes}, {"b", b.notes}};
  j["failed"] = failed;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace ctrsnap::drift
