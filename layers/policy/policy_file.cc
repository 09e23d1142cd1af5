// Policy files: parsing with located errors, merging, JSON rendering.
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "layers/policy/glob.h"
#include "layers/policy/policy.h"

namespace ctrsnap::policy {
namespace {

using nlohmann::json;

// nlohmann::json keeps no positions, so a key's line is found in the text:
// the first `"KEY"` followed by ':' at or after FROM.
size_t FindKey(std::string_view text, std::string_view key, size_t from = 0) {
  std::string quoted = "\"" + std::string(key) + "\"";
  size_t at = text.find(quoted, from);
  while (at != std::string_view::npos) {
    size_t j = at + quoted.size();
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r')) ++j;
    if (j < text.size() && text[j] == ':') return at;
    at = text.find(quoted, at + 1);
  }
  return std::string_view::npos;
}

class Parser {
 public:
  Parser(std::string_view text, std::string name) : text_(text), name_(std::move(name)) {}

  Status Error(std::string_view key, const std::string& problem) const {
    size_t at = key.empty() ? std::string_view::npos : FindKey(text_, key);
    std::string where = name_;
    if (at != std::string_view::npos) where += ":" + LineColumn(text_, at);
    return Status::InvalidArgument(where + ": " + problem);
  }

  Status StringList(const json& j, const std::string& key, std::vector<std::string>* out,
                    bool globs) const {
    if (!j.is_array()) return Error(key, "\"" + key + "\" must be an array of strings");
    for (const json& e : j) {
      if (!e.is_string()) return Error(key, "\"" + key + "\" must be an array of strings");
      std::string s = e.get<std::string>();
      if (globs) {
        auto g = GlobPattern::Parse(s);
        if (!g.ok()) return Error(key, "\"" + key + "\": " + g.status().message());
      }
      out->push_back(std::move(s));
    }
    return Status::Ok();
  }

  Status Merge(Policy* p) const {
    json root;
    try {
      root = json::parse(text_.begin(), text_.end());
    } catch (const json::parse_error& e) {
      std::string msg = e.what();
      size_t cut = msg.find("parse error");
      if (cut != std::string::npos) msg = msg.substr(cut);
      size_t off = JsonErrorOffset(e.byte);
      return Status::InvalidArgument(name_ + ":" + LineColumn(text_, off) + ": " + msg);
    } catch (const json::exception& e) {  // e.g. a number too large for a double
      return Status::InvalidArgument(name_ + ": " + e.what());
    }
    if (!root.is_object()) return Error("", "a policy file must be a JSON object");
    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string& key = it.key();
      const json& v = it.value();
      if (key == "include") {
        RETURN_IF_ERROR(StringList(v, key, &p->include, true));
      } else if (key == "exclude") {
        RETURN_IF_ERROR(StringList(v, key, &p->exclude, true));
      } else if (key == "rules") {
        if (!v.is_object()) return Error(key, "\"rules\" must map rule ids to true/false");
        for (auto r = v.begin(); r != v.end(); ++r) {
          if (!r.value().is_boolean()) {
            return Error(r.key(), "rule \"" + r.key() + "\" must be true or false");
          }
          p->rules[r.key()] = r.value().get<bool>();
        }
      } else if (key == "allow") {
        if (!v.is_array()) return Error(key, "\"allow\" must be an array of objects");
        for (const json& e : v) {
          if (!e.is_object()) return Error(key, "\"allow\" entries must be objects");
          AllowEntry a;
          for (auto f = e.begin(); f != e.end(); ++f) {
            if (!f.value().is_string()) {
              return Error(f.key(), "allow." + f.key() + " must be a string");
            }
            std::string s = f.value().get<std::string>();
            if (f.key() == "path") {
              auto g = GlobPattern::Parse(s);
              if (!g.ok()) return Error(f.key(), "allow.path: " + g.status().message());
              a.path = s;
            } else if (f.key() == "rule") {
              a.rule = s;
            } else if (f.key() == "fingerprint") {
              if (s.size() != 64 || s.find_first_not_of("0123456789abcdef") != std::string::npos) {
                return Error(f.key(), "allow.fingerprint must be 64 lowercase hex digits (sha256)");
              }
              a.fingerprint = s;
            } else {
              return Error(f.key(), "unknown key \"" + f.key() + "\" in an allow entry");
            }
          }
          if (a.path.empty() && a.rule.empty() && a.fingerprint.empty()) {
            return Error(key, "an allow entry needs path, rule or fingerprint");
          }
          p->allow.push_back(std::move(a));
        }
      } else if (key == "actions") {
        if (!v.is_object()) return Error(key, "\"actions\" must map finding kinds to actions");
        for (auto a = v.begin(); a != v.end(); ++a) {
          const std::string& kind = a.key();
          if (kind != kKindSecret && kind != kKindCredentialPath && kind != kKindCache &&
              kind != kKindLargeDownload && kind != kKindExcluded) {
            return Error(kind, "unknown finding kind \"" + kind +
                                   "\" (secret, credential-path, cache, large-download, excluded)");
          }
          if (!a.value().is_string()) return Error(kind, "action must be a string");
          auto act = ParseAction(a.value().get<std::string>());
          if (!act.ok()) return Error(kind, act.status().message());
          p->actions[kind] = *act;
        }
      } else if (key == "aggressive") {
        if (!v.is_boolean()) return Error(key, "\"aggressive\" must be true or false");
        p->aggressive = v.get<bool>();
      } else if (key == "limits") {
        if (!v.is_object()) return Error(key, "\"limits\" must be an object");
        for (auto l = v.begin(); l != v.end(); ++l) {
          if (!l.value().is_number_unsigned() || l.value().get<uint64_t>() == 0) {
            return Error(l.key(), "limit \"" + l.key() + "\" must be a positive integer");
          }
          if (l.key() == "max_file_bytes") {
            p->max_file_bytes = l.value().get<uint64_t>();
          } else if (l.key() == "max_inflate_bytes") {
            p->max_inflate_bytes = l.value().get<uint64_t>();
          } else {
            return Error(l.key(), "unknown limit \"" + l.key() + "\"");
          }
        }
      } else {
        return Error(key, "unknown key \"" + key +
                              "\" (include, exclude, rules, allow, actions, aggressive, limits)");
      }
    }
    p->sources.push_back(name_);
    return Status::Ok();
  }

 private:
  std::string_view text_;
  std::string name_;
};

}  // namespace


Result<FilterAction> ParseAction(std::string_view s) {
  if (s == "drop") return FilterAction::kDrop;
  if (s == "keep-and-report" || s == "report" || s == "keep") return FilterAction::kKeepReport;
  if (s == "fail") return FilterAction::kFail;
  return Status::InvalidArgument("unknown action \"" + std::string(s) +
                                 "\" (drop, keep-and-report, fail)");
}

std::string_view ActionName(FilterAction a) {
  switch (a) {
    case FilterAction::kKeep: return "keep";
    case FilterAction::kKeepReport: return "keep-and-report";
    case FilterAction::kDrop: return "drop";
    case FilterAction::kFail: return "fail";
  }
  return "keep";
}

FilterAction Policy::ActionFor(const std::string& kind) const {
  auto it = actions.find(kind);
  if (it != actions.end()) return it->second;
  if (kind == kKindLargeDownload) return aggressive ? FilterAction::kDrop : FilterAction::kKeepReport;
  if (kind == kKindKeep) return FilterAction::kKeep;
  if (kind == kKindScanLimit) return FilterAction::kKeepReport;
  return FilterAction::kDrop;
}

Status MergePolicyText(std::string_view text, const std::string& name, Policy* policy) {
  return Parser(text, name).Merge(policy);
}

Status MergePolicyFile(const std::string& file, Policy* policy) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(file));
  return MergePolicyText(text, file, policy);
}

json PolicyToJson(const Policy& p) {
  json j;
  json rules = json::array();
  for (const PathRule& r : p.path_rules) {
    json e = {{"id", r.id},
              {"kind", r.kind},
              {"globs", r.globs},
              {"reason", r.reason},
              {"enabled", p.RuleEnabled(r.id)}};
    if (!r.except.empty()) e["except"] = r.except;
    if (r.elf_core_only) e["elf_core_only"] = true;
    if (r.content_decides) e["content_decides"] = true;
    e["action"] = ActionName(p.ActionFor(r.kind));
    rules.push_back(std::move(e));
  }
  j["path_rules"] = std::move(rules);
  j["include"] = p.include;
  j["exclude"] = p.exclude;
  j["rules"] = p.rules;
  json allow = json::array();
  for (const AllowEntry& a : p.allow) {
    json e = json::object();
    if (!a.path.empty()) e["path"] = a.path;
    if (!a.rule.empty()) e["rule"] = a.rule;
    if (!a.fingerprint.empty()) e["fingerprint"] = a.fingerprint;
    allow.push_back(std::move(e));
  }
  j["allow"] = std::move(allow);
  json actions = json::object();
  for (const char* kind : {kKindSecret, kKindCredentialPath, kKindCache, kKindLargeDownload,
                           kKindExcluded}) {
    actions[kind] = ActionName(p.ActionFor(kind));
  }
  j["actions"] = std::move(actions);
  j["aggressive"] = p.aggressive;
  j["limits"] = {{"max_file_bytes", p.max_file_bytes}, {"max_inflate_bytes", p.max_inflate_bytes}};
  j["sources"] = p.sources;
  return j;
}

}  // namespace ctrsnap::policy
