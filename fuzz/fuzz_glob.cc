// Gitignore globs (layers/policy/glob.h). Input: PATTERN '\0' PATH.
// Invariants (from the header's contract):
//   - a pattern that matches a directory matches everything below it;
//   - in a GlobList, "P" followed by "!P" matches nothing P matched;
//   - a name with every special character escaped matches itself, anchored;
//   - Matches(path) == MatchesComponents(SplitGlobPath(path)).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "layers/policy/glob.h"

namespace pol = ctrsnap::policy;

namespace {

std::string EscapeLiteral(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\' || c == '!' || c == '#' ||
        c == ' ') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view pattern = in.substr(0, nul);
  std::string_view path = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  if (path.find('\0') != std::string_view::npos) return 0;

  auto g = pol::GlobPattern::Parse(pattern);
  if (g.ok()) {
    for (bool is_dir : {false, true}) {
      bool m = g->Matches(path, is_dir);
      FUZZ_CHECK(m == g->MatchesComponents(pol::SplitGlobPath(path), is_dir),
                 "Matches and MatchesComponents disagree");
      (void)m;
    }
    if (!pol::SplitGlobPath(path).empty() && g->Matches(path, true)) {
      std::string below = std::string(path) + "/child";
      FUZZ_CHECK(g->Matches(below, false),
                 "'%s' matches directory '%.*s' but not '%s' below it", g->text().c_str(),
                 static_cast<int>(path.size()), path.data(), below.c_str());
    }
    if (!g->negated()) {
      pol::GlobList list;
      FUZZ_CHECK(list.Add(pattern).ok(), "GlobList rejects a pattern Parse accepts");
      std::string neg = "!" + std::string(pattern);
      if (list.Add(neg).ok()) {
        FUZZ_CHECK(!list.Matches(path, false) && !list.Matches(path, true),
                   "'%s' then '%s' still matches", std::string(pattern).c_str(), neg.c_str());
      }
    }
  }

  // The last path component, escaped, must match itself.
  auto comps = pol::SplitGlobPath(path);
  if (!comps.empty()) {
    std::string_view name = comps.back();
    auto lit = pol::GlobPattern::Parse("/" + EscapeLiteral(name));
    FUZZ_CHECK(lit.ok(), "escaped literal '%s' rejected: %s", EscapeLiteral(name).c_str(),
               lit.status().ToString().c_str());
    FUZZ_CHECK(lit->Matches("/" + std::string(name), false), "escaped literal '%s' misses '%.*s'",
               EscapeLiteral(name).c_str(), static_cast<int>(name.size()), name.data());
    FUZZ_CHECK(pol::MatchSegment(EscapeLiteral(name), name), "MatchSegment misses its literal");
  }
  return 0;
}
