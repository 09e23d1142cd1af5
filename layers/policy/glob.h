// Gitignore-syntax path globs, used by policy include/exclude lists, the
// built-in path rules and allow-lists.
//
// Syntax (as gitignore(5)):
//   *        any run of characters except '/'
//   ?        one character except '/'
//   [a-z]    a class; [!a-z] or [^a-z] negates it
//   \x       the character x literally (\*, \?, \[, \!, \#, "\ ")
//   **       "**/" at the start: in any directory; "/**" at the end: everything
//            inside; "/**/" in the middle: zero or more directories. Any other
//            "**" acts like "*".
//   leading '/'  anchors the pattern at the root; so does a '/' in the middle.
//            Without one the pattern matches a name at any depth.
//   trailing '/' the pattern matches directories only (a file matches when
//            one of its parent directories does).
//   leading '!'  negation inside a GlobList: re-includes what an earlier
//            pattern matched. The last matching pattern wins.
// A pattern that matches a directory also matches everything below it.
// Matching is linear in (pattern length x path length); no backtracking
// blow-up on hostile paths.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ctrsnap::policy {

class GlobPattern {
 public:
  // Parses one gitignore line. Blank lines and '#' comments are errors here
  // (callers filter them); a lone "!" or "/" is an error.
  static Result<GlobPattern> Parse(std::string_view text);

  // PATH is absolute ("/root/.cache/pip/x") or relative to the scanned root
  // (same thing: a leading '/' is ignored). IS_DIR says PATH is a directory.
  // True when this pattern matches PATH itself or one of its parents.
  bool Matches(std::string_view path, bool is_dir) const;
  // Same, for a path already split on '/' (empty components dropped).
  bool MatchesComponents(const std::vector<std::string_view>& comps, bool is_dir) const;

  bool negated() const { return negated_; }
  const std::string& text() const { return text_; }

 private:
  // True when the segments match COMPS[0..j) for some 1 <= j <= N (PATH or
  // one of its parents; j == N only when !dir_only_ or IS_DIR).
  bool MatchExact(const std::vector<std::string_view>& comps, size_t n, bool is_dir) const;

  std::string text_;                  // as written
  bool negated_ = false;
  bool dir_only_ = false;
  bool anchored_ = false;
  std::vector<std::string> segments_;  // "**" segments kept as "**"
  std::string literal_first_;          // first segment when it has no wildcard: fast reject
};

// PATH split on '/', empty components dropped (what MatchesComponents takes).
std::vector<std::string_view> SplitGlobPath(std::string_view path);

// Matches one path segment (no '/') against one glob segment.
bool MatchSegment(std::string_view pattern, std::string_view name);

// An ordered list of patterns with gitignore's last-match-wins rule.
class GlobList {
 public:
  Status Add(std::string_view pattern);
  void Append(const GlobList& other);
  // True when the last pattern matching PATH is not negated.
  bool Matches(std::string_view path, bool is_dir) const;
  bool MatchesComponents(const std::vector<std::string_view>& comps, bool is_dir) const;
  bool empty() const { return patterns_.empty(); }
  const std::vector<GlobPattern>& patterns() const { return patterns_; }

 private:
  std::vector<GlobPattern> patterns_;
};

}  // namespace ctrsnap::policy
