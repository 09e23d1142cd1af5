// TomlKeysConfig: an EngineConfig whose registration is a few TOML keys,
// set with TomlEdit's SetKey and removed with RemoveCtrsnapLines (podman's
// containers.conf, CRI-O's crio.conf.d). A file left with nothing but
// ctrsnap's lines is removed on uninstall.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "packaging/install/engine_config.h"
#include "packaging/install/toml_edit.h"

namespace ctrsnap::install {

struct KeySpec {
  TomlPath table;
  std::string key;
};

class TomlKeysConfig : public EngineConfig {
 public:
  Result<Plan> PlanInstall(const InstallRequest& req) const override {
    ASSIGN_OR_RETURN(auto text, ReadOptionalFile(req.file));
    std::string out = text.value_or("");
    ASSIGN_OR_RETURN(TomlDoc doc, TomlDoc::Parse(out, req.file));
    bool changed = false;
    ASSIGN_OR_RETURN(out, SetKey(out, req.file, RuntimeKey().table, RuntimeKey().key,
                                 RuntimeValue(req.runtime_path), &changed));
    for (const auto& [spec, value] : ExtraKeys()) {
      ASSIGN_OR_RETURN(out, SetKey(out, req.file, spec.table, spec.key, value, &changed));
    }
    if (req.make_default) {
      ASSIGN_OR_RETURN(out, SetKey(out, req.file, DefaultKey().table, DefaultKey().key,
                                   QuoteToml(kRuntimeName), &changed));
    }
    Plan plan;
    if (out != text.value_or("") || !text) plan.changes.push_back({req.file, out});
    return plan;
  }

  Result<Plan> PlanUninstall(const InstallRequest& req) const override {
    Plan plan;
    ASSIGN_OR_RETURN(auto text, ReadOptionalFile(req.file));
    if (!text) return plan;
    bool changed = false;
    ASSIGN_OR_RETURN(std::string out, RemoveCtrsnapLines(*text, req.file, &changed));
    if (!changed) return plan;
    // A drop-in that held nothing but ctrsnap's lines goes away.
    if (out.find_first_not_of(" \t\r\n") == std::string::npos) {
      plan.changes.push_back({req.file, std::nullopt});
    } else {
      plan.changes.push_back({req.file, out});
    }
    return plan;
  }

  Result<Registration> Inspect(const std::string& file) const override {
    Registration r;
    r.where = file;
    ASSIGN_OR_RETURN(auto text, ReadOptionalFile(file));
    if (!text) return r;
    ASSIGN_OR_RETURN(TomlDoc doc, TomlDoc::Parse(*text, file));
    TomlPath p = RuntimeKey().table;
    p.push_back(RuntimeKey().key);
    const toml::node* n = doc.Find(p);
    r.installed = n != nullptr;
    if (n != nullptr && n->is_string()) r.runtime_path = n->as_string()->get();
    if (n != nullptr && n->is_array() && !n->as_array()->empty() &&
        n->as_array()->get(0)->is_string()) {
      r.runtime_path = n->as_array()->get(0)->as_string()->get();
    }
    TomlPath d = DefaultKey().table;
    d.push_back(DefaultKey().key);
    r.is_default = doc.GetString(d).value_or("") == kRuntimeName;
    return r;
  }

 protected:
  virtual KeySpec RuntimeKey() const = 0;
  virtual std::string RuntimeValue(const std::string& path) const = 0;
  virtual std::vector<std::pair<KeySpec, std::string>> ExtraKeys() const { return {}; }
  virtual KeySpec DefaultKey() const = 0;
};

}  // namespace ctrsnap::install
