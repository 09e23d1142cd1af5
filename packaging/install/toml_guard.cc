#include "packaging/install/toml_guard.h"

#include <algorithm>
#include <cstdio>

#include "common/line_column.h"

namespace ctrsnap::install {
namespace {

bool IsBareKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// The code point at S[I] and its length in bytes (lenient: a byte that does
// not start a whole sequence is U+FFFD, one byte long).
char32_t DecodeAt(std::string_view s, size_t i, size_t* len) {
  const auto b = static_cast<unsigned char>(s[i]);
  *len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
  if (*len == 1 || i + *len > s.size()) {
    *len = 1;
    return b < 0x80 ? b : 0xFFFD;
  }
  char32_t c = b & (0xFF >> (*len + 1));
  for (size_t k = 1; k < *len; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return c;
}

// What toml++ skips as blank between tokens: tab, space and the Unicode
// horizontal spaces (its is_horizontal_whitespace()).
bool IsTomlBlank(char32_t c) {
  return c == ' ' || c == '\t' || c == 0xA0 || c == 0x1680 || c == 0x180E || (c >= 0x2000 && c <= 0x200B) ||
         c == 0x202F || c == 0x205F || c == 0x2060 || c == 0x3000 || c == 0xFEFF;
}

size_t SkipBlank(std::string_view s, size_t i) {
  size_t len = 1;
  while (i < s.size() && IsTomlBlank(DecodeAt(s, i, &len))) i += len;
  return i;
}

// The first code point (byte offset, value) toml++ 3.3's
// is_non_ascii_horizontal_whitespace() has no case for: it reaches
// TOML_UNREACHABLE (__builtin_unreachable), and the parser asks it about
// characters after keys, after line-ending backslashes and while recording
// values ("U\xce\xa3"). Decoded leniently: malformed UTF-8 is toml++'s to
// report. Returns false when there is none.
bool FindUnsafeCodePoint(std::string_view text, size_t* offset, char32_t* code_point) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) < 0x80) continue;
    size_t len = 1;
    const char32_t c = DecodeAt(text, i, &len);
    // The ranges its lookup leaves to the switch's default (checked against
    // the function for every code point).
    if ((c >= 0xA1 && c <= 0x499) || (c >= 0x2C5E && c <= 0x3057 && c != 0x3000) ||
        (c >= 0xFB26 && c <= 0xFEFE)) {
      *offset = i;
      *code_point = c;
      return true;
    }
    i += len - 1;
  }
  return false;
}

}  // namespace

void ForEachTableHeaderLine(const std::vector<std::string>& lines,
                            const std::function<void(size_t, std::string_view)>& fn) {
  enum class In { kCode, kMlBasic, kMlLiteral } in = In::kCode;
  int depth = 0;
  for (size_t n = 0; n < lines.size(); ++n) {
    std::string_view s = lines[n];
    if (in == In::kCode && depth == 0) {
      size_t ind = SkipBlank(s, 0);
      if (ind < s.size() && s[ind] == '[') {
        fn(n, s.substr(ind));
        continue;
      }
    }
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (in == In::kMlBasic) {
        if (c == '\\') ++i;
        else if (s.substr(i, 3) == "\"\"\"") in = In::kCode, i += 2;
        continue;
      }
      if (in == In::kMlLiteral) {
        if (s.substr(i, 3) == "'''") in = In::kCode, i += 2;
        continue;
      }
      if (c == '#') break;
      if (s.substr(i, 3) == "\"\"\"") {
        in = In::kMlBasic;
        i += 2;
      } else if (s.substr(i, 3) == "'''") {
        in = In::kMlLiteral;
        i += 2;
      } else if (c == '"') {
        for (++i; i < s.size() && s[i] != '"'; ++i) {
          if (s[i] == '\\') ++i;
        }
      } else if (c == '\'') {
        size_t end = s.find('\'', i + 1);
        i = end == std::string_view::npos ? s.size() : end;
      } else if (c == '[') {
        ++depth;
      } else if (c == ']') {
        depth = std::max(0, depth - 1);
      }
    }
  }
}

Status CheckTomlPlusPlus33Safe(std::string_view text, const std::string& source) {
  // TOML forbids NUL; toml++ asserts on one inside a key ("[\0crio...").
  if (auto nul = text.find('\0'); nul != std::string_view::npos) {
    return Status::InvalidArgument(source + ":" + LineColumn(text, nul) + ": malformed TOML: a NUL byte");
  }
  size_t offset = 0;
  char32_t cp = 0;
  if (FindUnsafeCodePoint(text, &offset, &cp)) {
    char name[16];
    std::snprintf(name, sizeof(name), "U+%04X", static_cast<unsigned>(cp));
    return Status::InvalidArgument(source + ":" + LineColumn(text, offset) + ": " + name +
                                   " cannot be read safely by Debian 12's TOML library (toml++ 3.3 "
                                   "has undefined behaviour on it); remove it, or write it as a \\u "
                                   "escape inside a string");
  }
  // parse_table_header() calls parse_key() on whatever follows "[" or "[["
  // and blanks; parse_key() asserts it is a bare-key character or a quote
  // ("[\x1a", "[=]").
  const Lines split = Lines::Split(text);
  const std::vector<std::string>& lines = split.lines;
  std::string error;
  ForEachTableHeaderLine(lines, [&](size_t n, std::string_view header) {
    if (!error.empty()) return;
    size_t i = SkipBlank(header, 1);
    if (i < header.size() && header[i] == '[') i = SkipBlank(header, i + 1);
    // At the very end of the document toml++ reports the cut-short header
    // itself; at the end of a line it asserts on the line break.
    if (i >= header.size() && n + 1 == lines.size() && !split.trailing_newline) return;
    const char c = i < header.size() ? header[i] : '\n';
    if (IsBareKeyChar(c) || c == '"' || c == '\'' || c == ']') return;
    const size_t col = lines[n].size() - header.size() + i + 1;
    error = source + ":" + std::to_string(n + 1) + ":" + std::to_string(col) +
            ": malformed TOML: a table name must start with a letter, digit, '_', '-' or a quote";
  });
  if (!error.empty()) return Status::InvalidArgument(error);
  return Status::Ok();
}

}  // namespace ctrsnap::install
