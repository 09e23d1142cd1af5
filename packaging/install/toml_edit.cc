#include "packaging/install/toml_edit.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "common/line_column.h"
#include "packaging/install/toml_guard.h"

namespace ctrsnap::install {

// ---- TomlDoc ----


TomlDoc::TomlDoc(std::unique_ptr<toml::table> root) : root_(std::move(root)) {}
TomlDoc::TomlDoc(TomlDoc&&) noexcept = default;
TomlDoc& TomlDoc::operator=(TomlDoc&&) noexcept = default;
TomlDoc::~TomlDoc() = default;

Result<TomlDoc> TomlDoc::Parse(std::string_view text, const std::string& source) {
  RETURN_IF_ERROR(CheckTomlPlusPlus33Safe(text, source));
  try {
    auto table = std::make_unique<toml::table>(toml::parse(text, source));
    return TomlDoc(std::move(table));
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(source + ":" + std::to_string(e.source().begin.line) + ":" +
                                   std::to_string(e.source().begin.column) +
                                   ": malformed TOML: " + std::string(e.description()));
  }
}

const toml::node* TomlDoc::Find(const TomlPath& path) const {
  const toml::node* n = root_.get();
  for (const std::string& key : path) {
    if (n == nullptr || !n->is_table()) return nullptr;
    n = n->as_table()->get(key);
  }
  return n;
}

std::optional<std::string> TomlDoc::GetString(const TomlPath& path) const {
  const toml::node* n = Find(path);
  if (n == nullptr || !n->is_string()) return std::nullopt;
  return n->as_string()->get();
}

namespace {

bool IsBareKey(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
}

std::string FormatKey(std::string_view key) {
  if (IsBareKey(key)) return std::string(key);
  std::string out = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string_view RTrim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

size_t IndentOf(std::string_view s) { return std::min(s.find_first_not_of(" \t"), s.size()); }

bool IsBlank(std::string_view s) { return IndentOf(s) == s.size(); }

bool IsOurs(std::string_view line) { return RTrim(line).ends_with(kAddedMarker); }

struct Header {
  size_t index;  // line index
  TomlPath path;
  bool array_of_tables;
};

// Parses "[a."b.c".d]" (or "[[...]]") at the start of TRIMMED.
std::optional<Header> ParseHeader(std::string_view s, size_t index) {
  Header h{index, {}, false};
  size_t i = 1;
  if (s.size() > 1 && s[1] == '[') {
    h.array_of_tables = true;
    i = 2;
  }
  auto skip_ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  while (true) {
    skip_ws();
    if (i >= s.size()) return std::nullopt;
    std::string key;
    if (s[i] == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        key += s[i++];
      }
      if (i >= s.size()) return std::nullopt;
      ++i;
    } else if (s[i] == '\'') {
      size_t end = s.find('\'', i + 1);
      if (end == std::string_view::npos) return std::nullopt;
      key = std::string(s.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      size_t start = i;
      while (i < s.size() && IsBareKey(s.substr(i, 1))) ++i;
      if (i == start) return std::nullopt;
      key = std::string(s.substr(start, i - start));
    }
    h.path.push_back(std::move(key));
    skip_ws();
    if (i < s.size() && s[i] == '.') {
      ++i;
      continue;
    }
    if (i < s.size() && s[i] == ']') return h;
    return std::nullopt;
  }
}

// Finds the table headers, skipping lines inside multi-line strings and
// multi-line arrays.
std::vector<Header> ScanHeaders(const std::vector<std::string>& lines) {
  std::vector<Header> headers;
  ForEachTableHeaderLine(lines, [&](size_t n, std::string_view line) {
    if (auto h = ParseHeader(line, n)) headers.push_back(std::move(*h));
  });
  return headers;
}

// True when LINE assigns KEY (bare or quoted), e.g. `  runtime = "crun"`.
bool DefinesKey(std::string_view line, const std::string& key) {
  line.remove_prefix(IndentOf(line));
  for (const std::string& form : {key, "\"" + key + "\"", "'" + key + "'"}) {
    if (!line.starts_with(form)) continue;
    std::string_view rest = line.substr(form.size());
    rest.remove_prefix(IndentOf(rest));
    if (rest.starts_with("=")) return true;
  }
  return false;
}

// Same type and same value (toml::node itself has no operator==).
bool NodeEquals(const toml::node& a, const toml::node& b) {
  if (a.type() != b.type()) return false;
  return a.visit([&](const auto& x) {
    using T = std::remove_cvref_t<decltype(x)>;
    return x == static_cast<const T&>(b);
  });
}

std::string Located(const std::string& source, size_t line) {
  return source + ":" + std::to_string(line);
}

}  // namespace

std::string FormatTomlPath(const TomlPath& path) {
  std::string out;
  for (const std::string& key : path) {
    if (!out.empty()) out += '.';
    out += FormatKey(key);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ScalarEntries(const TomlDoc& doc,
                                                               const TomlPath& path) {
  std::vector<std::pair<std::string, std::string>> out;
  const toml::node* n = doc.Find(path);
  if (n == nullptr || !n->is_table()) return out;
  std::vector<std::pair<uint32_t, std::string>> keys;
  for (const auto& [key, value] : *n->as_table()) {
    if (value.is_table() || value.is_array_of_tables()) continue;
    keys.emplace_back(value.source().begin.line, std::string(key.str()));
  }
  std::sort(keys.begin(), keys.end());  // document order
  for (const auto& entry : keys) {
    const std::string& key = entry.second;  // a plain name: clang 14 cannot capture bindings
    if (!IsBareKey(key)) continue;
    toml::table one;
    n->as_table()->get(key)->visit([&](const auto& v) { one.insert(key, v); });
    std::ostringstream os;
    os << toml::toml_formatter{one};
    std::string text = os.str();
    std::string prefix = key + " = ";
    if (!text.starts_with(prefix) || text.find('\n') != std::string::npos) continue;
    out.emplace_back(key, text.substr(prefix.size()));
  }
  return out;
}

Result<std::string> SetKey(std::string_view text, const std::string& source,
                           const TomlPath& table, const std::string& key,
                           const std::string& value, bool* changed) {
  *changed = false;
  ASSIGN_OR_RETURN(TomlDoc doc, TomlDoc::Parse(text, source));
  ASSIGN_OR_RETURN(TomlDoc want_doc, TomlDoc::Parse("v = " + value, "value of " + key));
  const toml::node& want = *want_doc.Find({"v"});
  const std::string where = FormatTomlPath(table);
  const toml::node* tnode = doc.Find(table);
  if (tnode != nullptr && !tnode->is_table()) {
    return Status::InvalidArgument(source + ": " + where + " is not a table");
  }
  Lines l = Lines::Split(text);
  std::string line_text = FormatKey(key) + " = " + value + "  " + std::string(kAddedMarker);
  const toml::node* cur = tnode != nullptr ? tnode->as_table()->get(key) : nullptr;
  if (cur != nullptr) {
    if (NodeEquals(*cur, want)) return std::string(text);
    size_t line = cur->source().begin.line;
    if (line == 0 || line > l.lines.size() || !DefinesKey(l.lines[line - 1], key) ||
        cur->source().end.line != cur->source().begin.line) {
      return Status::InvalidArgument(Located(source, line) + ": cannot change " + where + "." +
                                     key + " written this way; edit it by hand");
    }
    std::string& old = l.lines[line - 1];
    std::string indent = old.substr(0, IndentOf(old));
    if (IsOurs(old)) {
      old = indent + line_text;
    } else {
      old = std::string(kReplacedPrefix) + old;
      l.lines.insert(l.lines.begin() + static_cast<ptrdiff_t>(line), indent + line_text);
    }
  } else {
    std::vector<Header> headers = ScanHeaders(l.lines);
    std::set<size_t> header_lines;
    for (const Header& h : headers) header_lines.insert(h.index);
    auto it = std::find_if(headers.begin(), headers.end(), [&](const Header& h) {
      return h.path == table && !h.array_of_tables;
    });
    if (it != headers.end()) {
      size_t pos = it->index + 1;
      while (pos < l.lines.size() && IsOurs(l.lines[pos]) && !header_lines.contains(pos)) ++pos;
      std::string_view hl = l.lines[it->index];
      std::string indent(hl.substr(0, IndentOf(hl)));
      if (pos < l.lines.size() && !IsBlank(l.lines[pos]) && !header_lines.contains(pos)) {
        indent = l.lines[pos].substr(0, IndentOf(l.lines[pos]));
      }
      l.lines.insert(l.lines.begin() + static_cast<ptrdiff_t>(pos), indent + line_text);
    } else {
      if (!l.lines.empty() && !IsBlank(l.lines.back()) && !IsOurs(l.lines.back())) {
        l.lines.emplace_back(kAddedMarker);
      }
      l.lines.push_back("[" + where + "]  " + std::string(kAddedMarker));
      l.lines.push_back(line_text);
      l.trailing_newline = true;
    }
  }
  std::string out = l.Join();
  auto check = TomlDoc::Parse(out, source);
  if (!check.ok()) {
    return Status::InvalidArgument("cannot add " + where + "." + key + " to " + source +
                                   " by adding lines (" + check.status().message() +
                                   "); edit it by hand");
  }
  const toml::node* got = check->Find([&] {
    TomlPath p = table;
    p.push_back(key);
    return p;
  }());
  if (got == nullptr || !NodeEquals(*got, want)) {
    return Status::Internal("editing " + source + " did not set " + where + "." + key);
  }
  *changed = true;
  return out;
}

Result<std::string> RemoveCtrsnapLines(std::string_view text, const std::string& source,
                                       bool* changed) {
  *changed = false;
  Lines l = Lines::Split(text);
  std::vector<Header> headers = ScanHeaders(l.lines);
  std::set<size_t> header_lines;
  for (const Header& h : headers) header_lines.insert(h.index);
  Lines out;
  out.trailing_newline = l.trailing_newline;
  for (size_t i = 0; i < l.lines.size(); ++i) {
    const std::string& line = l.lines[i];
    if (IsOurs(line)) {
      if (header_lines.contains(i)) {
        for (size_t j = i + 1; j < l.lines.size() && !header_lines.contains(j); ++j) {
          std::string_view s = l.lines[j];
          if (IsOurs(s)) continue;
          s.remove_prefix(IndentOf(s));
          if (!s.empty() && !s.starts_with("#")) {
            return Status::InvalidArgument(Located(source, j + 1) +
                                           ": this key is in a table that ctrsnap added; move "
                                           "it or remove the table by hand");
          }
        }
      }
      *changed = true;
      continue;
    }
    if (line.starts_with(kReplacedPrefix)) {
      out.lines.push_back(line.substr(kReplacedPrefix.size()));
      *changed = true;
      continue;
    }
    out.lines.push_back(line);
  }
  std::string result = out.Join();
  if (*changed) {
    auto check = TomlDoc::Parse(result, source);
    if (!check.ok()) {
      return Status::InvalidArgument("removing ctrsnap's lines from " + source +
                                     " would leave it malformed (" + check.status().message() +
                                     "); edit it by hand");
    }
  }
  return result;
}

bool HasCtrsnapLines(std::string_view text) {
  Lines l = Lines::Split(text);
  return std::any_of(l.lines.begin(), l.lines.end(), [](const std::string& line) {
    return IsOurs(line) || line.starts_with(kReplacedPrefix);
  });
}

}  // namespace ctrsnap::install
