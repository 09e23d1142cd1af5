// Byte offset -> "LINE:COLUMN" for error messages about files users edit
// (config.json, daemon.json, policy files, TOML engine configs).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace ctrsnap {

// "LINE:COLUMN" (both 1-based) of byte OFFSET in TEXT; past the end counts as the end.
inline std::string LineColumn(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

// nlohmann::json's parse_error::byte is 1-based (0 when nothing was read).
inline size_t JsonErrorOffset(size_t byte) { return byte > 0 ? byte - 1 : 0; }

}  // namespace ctrsnap
