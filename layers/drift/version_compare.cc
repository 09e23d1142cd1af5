#include "layers/drift/version_compare.h"

#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "layers/drift/inventory.h"

namespace ctrsnap::drift {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

int Sign(int v) { return v < 0 ? -1 : (v > 0 ? 1 : 0); }

// Compares two runs of decimal digits of any length without overflow.
int CompareDigits(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return Sign(a.compare(b));
}

// ---- dpkg ----

int DebOrder(char c) {
  if (IsDigit(c)) return 0;
  if (IsAlpha(c)) return static_cast<unsigned char>(c);
  if (c == '~') return -1;
  if (c != 0) return static_cast<unsigned char>(c) + 256;
  return 0;
}

int DebVerRevCmp(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto at = [](std::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !IsDigit(a[i])) || (j < b.size() && !IsDigit(b[j]))) {
      int ac = DebOrder(at(a, i));
      int bc = DebOrder(at(b, j));
      if (ac != bc) return Sign(ac - bc);
      ++i;
      ++j;
    }
    while (at(a, i) == '0') ++i;
    while (at(b, j) == '0') ++j;
    while (IsDigit(at(a, i)) && IsDigit(at(b, j))) {
      if (first_diff == 0) first_diff = at(a, i) - at(b, j);
      ++i;
      ++j;
    }
    if (IsDigit(at(a, i))) return 1;
    if (IsDigit(at(b, j))) return -1;
    if (first_diff != 0) return Sign(first_diff);
  }
  return 0;
}

struct Evr {
  std::string_view epoch, version, release;
};

// [epoch:]version[-release]; release split at the last '-'.
Evr SplitEvr(std::string_view s) {
  Evr e;
  size_t colon = s.find(':');
  if (colon != std::string_view::npos) {
    bool digits = colon > 0;
    for (size_t k = 0; k < colon; ++k) digits = digits && IsDigit(s[k]);
    if (digits) {
      e.epoch = s.substr(0, colon);
      s.remove_prefix(colon + 1);
    }
  }
  size_t dash = s.rfind('-');
  if (dash != std::string_view::npos) {
    e.version = s.substr(0, dash);
    e.release = s.substr(dash + 1);
  } else {
    e.version = s;
  }
  return e;
}

int CompareEpoch(std::string_view a, std::string_view b) {
  return CompareDigits(a.empty() ? "0" : a, b.empty() ? "0" : b);
}

// ---- rpm ----

int RpmVerCmp(std::string_view a, std::string_view b) {
  if (a == b) return 0;
  size_t i = 0, j = 0;
  auto at = [](std::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };
  auto alnum = [](char c) { return IsDigit(c) || IsAlpha(c); };
  while (i < a.size() || j < b.size()) {
    while (i < a.size() && !alnum(a[i]) && a[i] != '~' && a[i] != '^') ++i;
    while (j < b.size() && !alnum(b[j]) && b[j] != '~' && b[j] != '^') ++j;
    char ca = at(a, i), cb = at(b, j);
    if (ca == '~' || cb == '~') {
      if (ca != '~') return 1;
      if (cb != '~') return -1;
      ++i;
      ++j;
      continue;
    }
    if (ca == '^' || cb == '^') {
      if (ca == 0) return -1;
      if (cb == 0) return 1;
      if (ca != '^') return 1;
      if (cb != '^') return -1;
      ++i;
      ++j;
      continue;
    }
    if (ca == 0 || cb == 0) break;
    size_t ei = i, ej = j;
    bool num = IsDigit(ca);
    if (num) {
      while (IsDigit(at(a, ei))) ++ei;
      while (IsDigit(at(b, ej))) ++ej;
    } else {
      while (IsAlpha(at(a, ei))) ++ei;
      while (IsAlpha(at(b, ej))) ++ej;
    }
    if (ej == j) return num ? 1 : -1;  // numeric segment beats alpha
    int rc = num ? CompareDigits(a.substr(i, ei - i), b.substr(j, ej - j))
                 : Sign(a.substr(i, ei - i).compare(b.substr(j, ej - j)));
    if (rc != 0) return rc;
    i = ei;
    j = ej;
  }
  bool ra = i < a.size(), rb = j < b.size();
  if (!ra && !rb) return 0;
  return ra ? 1 : -1;
}

// ---- PEP 440 ----

struct Pep440 {
  std::string epoch = "0";
  std::vector<std::string> release;
  int pre_phase = -1;  // -1 none, 0 a, 1 b, 2 rc
  std::string pre_num = "0";
  std::optional<std::string> post, dev;
  std::vector<std::string> local;
};

class Pep440Parser {
 public:
  explicit Pep440Parser(std::string s) : s_(std::move(s)) {}

  std::optional<Pep440> Parse() {
    Pep440 v;
    if (Peek() == 'v') ++p_;
    std::string first = Digits();
    if (first.empty()) return std::nullopt;
    if (Peek() == '!') {
      ++p_;
      v.epoch = first;
      first = Digits();
      if (first.empty()) return std::nullopt;
    }
    v.release.push_back(first);
    while (Peek() == '.' && IsDigit(PeekAt(1))) {
      ++p_;
      v.release.push_back(Digits());
    }
    // pre-release
    size_t save = p_;
    SkipSep();
    if (int phase = PrePhase(); phase >= 0) {
      v.pre_phase = phase;
      SkipSep();
      std::string n = Digits();
      v.pre_num = n.empty() ? "0" : n;
    } else {
      p_ = save;
    }
    // post-release
    save = p_;
    if (Peek() == '-' && IsDigit(PeekAt(1))) {
      ++p_;
      v.post = Digits();
    } else {
      SkipSep();
      if (Word("post") || Word("rev") || Word("r")) {
        SkipSep();
        std::string n = Digits();
        v.post = n.empty() ? "0" : n;
      } else {
        p_ = save;
      }
    }
    // dev-release
    save = p_;
    SkipSep();
    if (Word("dev")) {
      SkipSep();
      std::string n = Digits();
      v.dev = n.empty() ? "0" : n;
    } else {
      p_ = save;
    }
    if (Peek() == '+') {
      ++p_;
      std::string seg;
      while (p_ < s_.size()) {
        char c = s_[p_++];
        if (c == '.' || c == '-' || c == '_') {
          if (seg.empty()) return std::nullopt;
          v.local.push_back(seg);
          seg.clear();
        } else if (IsDigit(c) || IsAlpha(c)) {
          seg += c;
        } else {
          return std::nullopt;
        }
      }
      if (seg.empty()) return std::nullopt;
      v.local.push_back(seg);
    }
    if (p_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  char Peek() const { return PeekAt(0); }
  char PeekAt(size_t k) const { return p_ + k < s_.size() ? s_[p_ + k] : '\0'; }
  std::string Digits() {
    size_t b = p_;
    while (IsDigit(Peek())) ++p_;
    return s_.substr(b, p_ - b);
  }
  void SkipSep() {
    if (Peek() == '.' || Peek() == '-' || Peek() == '_') ++p_;
  }
  bool Word(std::string_view w) {
    if (s_.compare(p_, w.size(), w) == 0) {
      p_ += w.size();
      return true;
    }
    return false;
  }
  int PrePhase() {
    // Longest spellings first.
    if (Word("preview") || Word("pre") || Word("rc") || Word("c")) return 2;
    if (Word("alpha") || Word("a")) return 0;
    if (Word("beta") || Word("b")) return 1;
    return -1;
  }

  std::string s_;
  size_t p_ = 0;
};

std::optional<Pep440> ParsePep440(std::string_view in) {
  std::string s;
  for (char c : in) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return Pep440Parser(s.substr(b)).Parse();
}

int CompareOptNum(const std::optional<std::string>& a, const std::optional<std::string>& b,
                  int none_rank) {
  // none_rank: where "absent" sorts: -1 below every number, +1 above.
  if (a && b) return CompareDigits(*a, *b);
  if (!a && !b) return 0;
  return a ? -none_rank : none_rank;
}

int ComparePep440Parsed(const Pep440& a, const Pep440& b) {
  if (int c = CompareDigits(a.epoch, b.epoch)) return c;
  size_t n = std::max(a.release.size(), b.release.size());
  for (size_t k = 0; k < n; ++k) {
    std::string_view x = k < a.release.size() ? std::string_view(a.release[k]) : "0";
    std::string_view y = k < b.release.size() ? std::string_view(b.release[k]) : "0";
    if (int c = CompareDigits(x, y)) return c;
  }
  // Pre-release key: a dev release of a final (no pre, no post) sorts before
  // any pre-release; a final sorts after all of them.
  auto pre_rank = [](const Pep440& v) {
    if (v.pre_phase >= 0) return v.pre_phase;
    if (!v.post && v.dev) return -2;
    return 3;
  };
  int pa = pre_rank(a), pb = pre_rank(b);
  if (pa != pb) return pa < pb ? -1 : 1;
  if (a.pre_phase >= 0) {
    if (int c = CompareDigits(a.pre_num, b.pre_num)) return c;
  }
  if (int c = CompareOptNum(a.post, b.post, -1)) return c;
  if (int c = CompareOptNum(a.dev, b.dev, +1)) return c;
  // Local: absent < present; segment-wise, numeric > alphanumeric.
  size_t m = std::max(a.local.size(), b.local.size());
  for (size_t k = 0; k < m; ++k) {
    if (k >= a.local.size()) return -1;
    if (k >= b.local.size()) return 1;
    const std::string& x = a.local[k];
    const std::string& y = b.local[k];
    bool xn = x.find_first_not_of("0123456789") == std::string::npos;
    bool yn = y.find_first_not_of("0123456789") == std::string::npos;
    if (xn != yn) return xn ? 1 : -1;
    int c = xn ? CompareDigits(x, y) : Sign(x.compare(y));
    if (c != 0) return c;
  }
  return 0;
}

// ---- semver ----

struct Semver {
  std::string_view major, minor, patch;
  std::vector<std::string_view> pre;
};

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

std::optional<Semver> ParseSemver(std::string_view s) {
  while (!s.empty() && (s.front() == 'v' || s.front() == '=' || s.front() == ' ')) s.remove_prefix(1);
  if (size_t plus = s.find('+'); plus != std::string_view::npos) s = s.substr(0, plus);
  std::string_view pre;
  if (size_t dash = s.find('-'); dash != std::string_view::npos) {
    pre = s.substr(dash + 1);
    s = s.substr(0, dash);
    if (pre.empty()) return std::nullopt;
  }
  Semver v;
  size_t d1 = s.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  size_t d2 = s.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  v.major = s.substr(0, d1);
  v.minor = s.substr(d1 + 1, d2 - d1 - 1);
  v.patch = s.substr(d2 + 1);
  if (!AllDigits(v.major) || !AllDigits(v.minor) || !AllDigits(v.patch)) return std::nullopt;
  while (!pre.empty()) {
    size_t dot = pre.find('.');
    std::string_view id = pre.substr(0, dot);
    if (id.empty()) return std::nullopt;
    v.pre.push_back(id);
    if (dot == std::string_view::npos) break;
    pre.remove_prefix(dot + 1);
  }
  return v;
}

// ---- apk ----

struct Apk {
  std::vector<std::string_view> nums;
  char letter = 0;
  std::vector<std::pair<int, std::string_view>> suffixes;
  std::string_view rev;
};

int ApkSuffixRank(std::string_view w) {
  static constexpr std::string_view kPre[] = {"alpha", "beta", "pre", "rc"};
  static constexpr std::string_view kPost[] = {"cvs", "svn", "git", "hg", "p"};
  for (int k = 0; k < 4; ++k) {
    if (w == kPre[k]) return k - 4;  // -4..-1: below a release
  }
  for (int k = 0; k < 5; ++k) {
    if (w == kPost[k]) return k + 1;  // 1..5: above it
  }
  return 100;
}

std::optional<Apk> ParseApk(std::string_view s) {
  Apk v;
  if (size_t r = s.rfind("-r"); r != std::string_view::npos && AllDigits(s.substr(r + 2))) {
    v.rev = s.substr(r + 2);
    s = s.substr(0, r);
  }
  size_t i = 0;
  for (;;) {
    size_t b = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == b) return std::nullopt;
    v.nums.push_back(s.substr(b, i - b));
    if (i < s.size() && s[i] == '.' && i + 1 < s.size() && IsDigit(s[i + 1])) {
      ++i;
      continue;
    }
    break;
  }
  if (i < s.size() && s[i] >= 'a' && s[i] <= 'z') v.letter = s[i++];
  while (i < s.size() && s[i] == '_') {
    size_t b = ++i;
    while (i < s.size() && s[i] >= 'a' && s[i] <= 'z') ++i;
    int rank = ApkSuffixRank(s.substr(b, i - b));
    if (rank == 100) return std::nullopt;
    size_t nb = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    v.suffixes.emplace_back(rank, s.substr(nb, i - nb));
  }
  if (i != s.size()) return std::nullopt;
  return v;
}

}  // namespace

int CompareDebian(std::string_view a, std::string_view b) {
  Evr x = SplitEvr(a), y = SplitEvr(b);
  if (int c = CompareEpoch(x.epoch, y.epoch)) return c;
  if (int c = DebVerRevCmp(x.version, y.version)) return c;
  return DebVerRevCmp(x.release, y.release);
}

int CompareRpm(std::string_view a, std::string_view b) {
  Evr x = SplitEvr(a), y = SplitEvr(b);
  if (int c = CompareEpoch(x.epoch, y.epoch)) return c;
  if (int c = RpmVerCmp(x.version, y.version)) return c;
  return RpmVerCmp(x.release, y.release);
}

int ComparePep440(std::string_view a, std::string_view b) {
  auto x = ParsePep440(a), y = ParsePep440(b);
  if (!x || !y) return RpmVerCmp(a, b);
  return ComparePep440Parsed(*x, *y);
}

int CompareSemver(std::string_view a, std::string_view b) {
  auto x = ParseSemver(a), y = ParseSemver(b);
  if (!x || !y) return RpmVerCmp(a, b);
  if (int c = CompareDigits(x->major, y->major)) return c;
  if (int c = CompareDigits(x->minor, y->minor)) return c;
  if (int c = CompareDigits(x->patch, y->patch)) return c;
  if (x->pre.empty() != y->pre.empty()) return x->pre.empty() ? 1 : -1;
  for (size_t k = 0; k < std::max(x->pre.size(), y->pre.size()); ++k) {
    if (k >= x->pre.size()) return -1;
    if (k >= y->pre.size()) return 1;
    bool xn = AllDigits(x->pre[k]), yn = AllDigits(y->pre[k]);
    if (xn != yn) return xn ? -1 : 1;  // numeric identifiers sort first
    int c = xn ? CompareDigits(x->pre[k], y->pre[k]) : Sign(x->pre[k].compare(y->pre[k]));
    if (c != 0) return c;
  }
  return 0;
}

int CompareApk(std::string_view a, std::string_view b) {
  auto x = ParseApk(a), y = ParseApk(b);
  if (!x || !y) return RpmVerCmp(a, b);
  for (size_t k = 0; k < std::max(x->nums.size(), y->nums.size()); ++k) {
    if (k >= x->nums.size()) return -1;
    if (k >= y->nums.size()) return 1;
    if (int c = CompareDigits(x->nums[k], y->nums[k])) return c;
  }
  if (x->letter != y->letter) return x->letter < y->letter ? -1 : 1;
  for (size_t k = 0; k < std::max(x->suffixes.size(), y->suffixes.size()); ++k) {
    int rx = k < x->suffixes.size() ? x->suffixes[k].first : 0;
    int ry = k < y->suffixes.size() ? y->suffixes[k].first : 0;
    if (rx != ry) return rx < ry ? -1 : 1;
    std::string_view nx = k < x->suffixes.size() ? x->suffixes[k].second : "0";
    std::string_view ny = k < y->suffixes.size() ? y->suffixes[k].second : "0";
    if (int c = CompareDigits(nx.empty() ? "0" : nx, ny.empty() ? "0" : ny)) return c;
  }
  return CompareDigits(x->rev.empty() ? "0" : x->rev, y->rev.empty() ? "0" : y->rev);
}

int CompareDotted(std::string_view a, std::string_view b) { return RpmVerCmp(a, b); }

int CompareVersions(std::string_view ecosystem, std::string_view a, std::string_view b) {
  if (ecosystem == kEcoDeb) return CompareDebian(a, b);
  if (ecosystem == kEcoPython) return ComparePep440(a, b);
  if (ecosystem == kEcoNpm) return CompareSemver(a, b);
  if (ecosystem == kEcoApk) return CompareApk(a, b);
  if (ecosystem == kEcoCuda) return CompareDotted(a, b);
  return CompareRpm(a, b);
}

}  // namespace ctrsnap::drift
