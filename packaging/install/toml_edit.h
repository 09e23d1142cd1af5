// TomlEdit: minimal, comment- and layout-preserving edits of TOML files
// (containerd's config.toml, containers.conf, crio.conf drop-ins).
//
// toml++ parses and locates; the text is edited by whole lines so that every
// byte ctrsnap did not add stays as it was. Each line ctrsnap adds ends with
// kAddedMarker; a line it had to supersede is kept, commented out behind
// kReplacedPrefix. RemoveCtrsnapLines() undoes both, so install followed by
// uninstall gives back the original text.
//
// Invariant: every edit is parsed back with toml++ and checked to have the
// intended value before it is returned; a text that would not parse, or that
// parses to something else, is an error and the input is left alone.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "common/status.h"


namespace ctrsnap::install {

inline constexpr std::string_view kAddedMarker = "# added by ctrsnap install";
inline constexpr std::string_view kReplacedPrefix = "# replaced by ctrsnap install: ";

using TomlPath = std::vector<std::string>;

// A parsed TOML document; errors name SOURCE:LINE:COLUMN.
class TomlDoc {
 public:
  static Result<TomlDoc> Parse(std::string_view text, const std::string& source);
  TomlDoc(TomlDoc&&) noexcept;
  TomlDoc& operator=(TomlDoc&&) noexcept;
  ~TomlDoc();

  const toml::table& root() const { return *root_; }
  // The node at PATH (each element one key), or nullptr.
  const toml::node* Find(const TomlPath& path) const;
  // A string value at PATH, if there is one.
  std::optional<std::string> GetString(const TomlPath& path) const;

 private:
  explicit TomlDoc(std::unique_ptr<toml::table> root);
  std::unique_ptr<toml::table> root_;
};

// "key = value" lines for each non-table entry of the table at PATH, in
// document order, formatted by toml++ (for copying runc's options).
std::vector<std::pair<std::string, std::string>> ScalarEntries(const TomlDoc& doc,
                                                               const TomlPath& path);

// A dotted key path as TOML writes it: plugins."io.containerd.grpc.v1.cri".containerd
std::string FormatTomlPath(const TomlPath& path);

// Makes TABLE.KEY = VALUE (a TOML value literal, e.g. "\"x\"" or "true").
// Sets *changed when the text differs from TEXT. SOURCE names the file.
Result<std::string> SetKey(std::string_view text, const std::string& source,
                           const TomlPath& table, const std::string& key,
                           const std::string& value, bool* changed);

// Removes every line ctrsnap added and restores the lines it replaced.
// Refuses when removing an added table header would leave someone else's
// keys under another table.
Result<std::string> RemoveCtrsnapLines(std::string_view text, const std::string& source,
                                       bool* changed);

// True when TEXT holds any line ctrsnap added.
bool HasCtrsnapLines(std::string_view text);

}  // namespace ctrsnap::install
