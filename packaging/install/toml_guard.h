// Guards in front of toml++ 3.3 (Debian 12's libtomlplusplus), whose parser
// has undefined behaviour (TOML_UNREACHABLE, or an assert that NDEBUG turns
// into an optimizer assumption) on some malformed documents. Each guard is a
// finding of fuzz_engine_install; the document is refused with where and why
// before toml++ sees it. Also the scanner of table-header lines that the
// guards and the line-preserving editor (toml_edit.cc) share, with its line
// splitting.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ctrsnap::install {

// The text as lines, and whether it ended with a newline.
struct Lines {
  std::vector<std::string> lines;
  bool trailing_newline = true;

  static Lines Split(std::string_view text) {
    Lines l;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) {
        l.lines.emplace_back(text.substr(pos));
        l.trailing_newline = false;
        break;
      }
      l.lines.emplace_back(text.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return l;
  }
  std::string Join() const {
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      out += lines[i];
      if (i + 1 < lines.size() || trailing_newline) out += '\n';
    }
    return out;
  }
};

// Calls FN(line index, the line from its '[') for each line of LINES that
// starts with a table header, skipping lines inside multi-line strings and
// multi-line arrays.
void ForEachTableHeaderLine(const std::vector<std::string>& lines,
                            const std::function<void(size_t, std::string_view)>& fn);

// OK, or InvalidArgument "SOURCE:LINE:COL: ..." for a document toml++ 3.3
// cannot parse safely: a NUL byte; a code point for which its whitespace
// test reaches TOML_UNREACHABLE; a table header whose first key character
// is neither a bare-key character nor a quote.
Status CheckTomlPlusPlus33Safe(std::string_view text, const std::string& source);

}  // namespace ctrsnap::install
