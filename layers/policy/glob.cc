#include "layers/policy/glob.h"

namespace ctrsnap::policy {
namespace {

// Splits on '/', dropping empty components ("//", leading and trailing '/').
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Matches a bracket class starting at P[i] == '['. Returns the index just
// past ']' and sets *matched; returns npos when the class is unterminated
// (then '[' is taken literally by the caller).
size_t MatchClass(std::string_view p, size_t i, char c, bool* matched) {
  size_t j = i + 1;
  bool negate = false;
  if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
    negate = true;
    ++j;
  }
  bool hit = false;
  bool first = true;
  while (j < p.size() && (p[j] != ']' || first)) {
    first = false;
    char lo = p[j];
    if (lo == '\\' && j + 1 < p.size()) lo = p[++j];
    char hi = lo;
    if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
      hi = p[j + 2];
      if (hi == '\\' && j + 3 < p.size()) hi = p[j + 3], ++j;
      j += 2;
    }
    if (c >= lo && c <= hi) hit = true;
    ++j;
  }
  if (j >= p.size()) return std::string_view::npos;
  *matched = (hit != negate);
  return j + 1;
}

}  // namespace

// Classic wildcard matching with single-star backtracking: O(|p| * |s|).
bool MatchSegment(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      char pc = p[pi];
      if (pc == '*') {
        while (pi < p.size() && p[pi] == '*') ++pi;
        star_p = pi;
        star_s = si;
        continue;
      }
      if (pc == '?') {
        ++pi, ++si;
        continue;
      }
      if (pc == '[') {
        bool m = false;
        size_t next = MatchClass(p, pi, s[si], &m);
        if (next != std::string_view::npos) {
          if (m) {
            pi = next, ++si;
            continue;
          }
        } else if (s[si] == '[') {
          ++pi, ++si;
          continue;
        }
      } else if (pc == '\\' && pi + 1 < p.size()) {
        if (p[pi + 1] == s[si]) {
          pi += 2, ++si;
          continue;
        }
      } else if (pc == s[si]) {
        ++pi, ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

Result<GlobPattern> GlobPattern::Parse(std::string_view text) {
  GlobPattern g;
  g.text_ = std::string(text);
  std::string_view t = text;
  // Trailing unescaped spaces are ignored, as in gitignore.
  while (!t.empty() && t.back() == ' ' && !(t.size() >= 2 && t[t.size() - 2] == '\\')) {
    t.remove_suffix(1);
  }
  if (t.empty()) return Status::InvalidArgument("empty glob pattern");
  if (t[0] == '!') {
    g.negated_ = true;
    t.remove_prefix(1);
  }
  if (t.empty()) return Status::InvalidArgument("glob pattern \"" + g.text_ + "\" is only '!'");
  if (t.back() == '/' && !(t.size() >= 2 && t[t.size() - 2] == '\\')) {
    g.dir_only_ = true;
    t.remove_suffix(1);
  }
  // A '/' at the start or in the middle anchors the pattern.
  if (t.find('/') != std::string_view::npos) g.anchored_ = true;
  for (std::string_view seg : SplitPath(t)) g.segments_.emplace_back(seg);
  if (g.segments_.empty()) {
    return Status::InvalidArgument("glob pattern \"" + g.text_ + "\" matches nothing");
  }
  const std::string& first = g.segments_[0];
  if (first.find_first_of("*?[\\") == std::string::npos) g.literal_first_ = first;
  return g;
}

// dp[j] = segments_[0..i) match comps[0..j); one pass answers every prefix
// of PATH at once. '**' matches zero or more components.
bool GlobPattern::MatchExact(const std::vector<std::string_view>& comps, size_t n,
                             bool is_dir) const {
  const size_t m = segments_.size();
  // Two rows of n + 1 flags; on the stack for ordinary depths.
  char small[2][65];
  std::vector<char> big;
  char* dp = small[0];
  char* next = small[1];
  if (n + 1 > sizeof(small[0])) {
    big.assign(2 * (n + 1), 0);
    dp = big.data();
    next = big.data() + n + 1;
  }
  std::fill(dp, dp + n + 1, 0);
  dp[0] = 1;
  for (size_t i = 0; i < m; ++i) {
    const std::string& seg = segments_[i];
    std::fill(next, next + n + 1, 0);
    bool any_live = false;
    if (seg == "**") {
      // A trailing "/**" needs at least one component: "a/**" is what is
      // inside a, not a itself.
      const bool one_or_more = (i + 1 == m && m > 1);
      char any = 0;
      for (size_t j = 0; j <= n; ++j) {
        if (!one_or_more) any = any || dp[j];
        next[j] = any;
        if (one_or_more) any = any || dp[j];
        any_live = any_live || next[j];
      }
    } else {
      for (size_t j = 0; j < n; ++j) {
        if (dp[j] && MatchSegment(seg, comps[j])) {
          next[j + 1] = 1;
          any_live = true;
        }
      }
    }
    if (!any_live) return false;
    std::swap(dp, next);
  }
  // PATH itself, or one of its parents (a directory covers its contents).
  for (size_t j = 1; j <= n; ++j) {
    if (!dp[j]) continue;
    if (dir_only_ && j == n && !is_dir) continue;
    return true;
  }
  return false;
}

bool GlobPattern::Matches(std::string_view path, bool is_dir) const {
  return MatchesComponents(SplitPath(path), is_dir);
}

bool GlobPattern::MatchesComponents(const std::vector<std::string_view>& comps, bool is_dir) const {
  if (comps.empty()) return false;
  if (anchored_) {
    if (!literal_first_.empty() && comps[0] != literal_first_) return false;
    return MatchExact(comps, comps.size(), is_dir);
  }
  for (size_t n = comps.size(); n >= 1; --n) {
    bool n_is_dir = (n < comps.size()) || is_dir;
    if (dir_only_ && !n_is_dir) continue;
    if (MatchSegment(segments_[0], comps[n - 1])) return true;
  }
  return false;
}

Status GlobList::Add(std::string_view pattern) {
  ASSIGN_OR_RETURN(GlobPattern g, GlobPattern::Parse(pattern));
  patterns_.push_back(std::move(g));
  return Status::Ok();
}

void GlobList::Append(const GlobList& other) {
  patterns_.insert(patterns_.end(), other.patterns_.begin(), other.patterns_.end());
}

bool GlobList::Matches(std::string_view path, bool is_dir) const {
  if (patterns_.empty()) return false;
  return MatchesComponents(SplitPath(path), is_dir);
}

std::vector<std::string_view> SplitGlobPath(std::string_view path) { return SplitPath(path); }

bool GlobList::MatchesComponents(const std::vector<std::string_view>& comps, bool is_dir) const {
  for (auto it = patterns_.rbegin(); it != patterns_.rend(); ++it) {
    if (it->MatchesComponents(comps, is_dir)) return !it->negated();
  }
  return false;
}

}  // namespace ctrsnap::policy
