#include "shim/spec.h"

#include "common/file_util.h"
#include "shim/replace_file.h"

namespace ctrsnap::shim {

using nlohmann::json;

namespace {

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

const json* Find(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

}  // namespace

Result<json> ParseSpec(std::string_view text, const std::string& source) {
  json spec = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded()) return Status::InvalidArgument(source + ": malformed JSON");
  if (!spec.is_object()) return Status::InvalidArgument(source + ": not a JSON object");
  return spec;
}

Result<json> LoadSpec(const std::string& bundle) {
  const std::string path = JoinPath(bundle, "config.json");
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseSpec(text, path);
}

Status SaveSpec(const std::string& bundle, const json& spec) {
  const std::string text = spec.dump(-1, ' ', false, json::error_handler_t::replace);
  return ReplaceFile(JoinPath(bundle, "config.json"), text, 0644)
      .WithContext("write spec");
}

Result<std::string> RootPath(const json& spec, const std::string& bundle) {
  const json* root = Find(spec, "root");
  const json* path = root ? Find(*root, "path") : nullptr;
  if (path == nullptr || !path->is_string() || path->get_ref<const std::string&>().empty()) {
    return Status::InvalidArgument("config.json has no root.path");
  }
  const std::string& p = path->get_ref<const std::string&>();
  if (p[0] == '/') return p;
  return JoinPath(bundle, p);
}

bool RootReadonly(const json& spec) {
  const json* root = Find(spec, "root");
  const json* ro = root ? Find(*root, "readonly") : nullptr;
  return ro != nullptr && ro->is_boolean() && ro->get<bool>();
}

std::optional<std::string> Annotation(const json& spec, const std::string& key) {
  const json* ann = Find(spec, "annotations");
  if (ann == nullptr || !ann->is_object()) return std::nullopt;
  auto it = ann->find(key);
  if (it == ann->end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::vector<std::string> ProcessEnv(const json& spec) {
  std::vector<std::string> env;
  const json* process = Find(spec, "process");
  const json* list = process ? Find(*process, "env") : nullptr;
  if (list == nullptr || !list->is_array()) return env;
  for (const json& e : *list) {
    if (e.is_string()) env.push_back(e.get<std::string>());
  }
  return env;
}

std::optional<std::string> EnvValue(const json& spec, const std::string& key) {
  std::optional<std::string> found;
  for (const std::string& e : ProcessEnv(spec)) {
    // The last definition wins, as execve's environment lookup does in libc.
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=') {
      found = e.substr(key.size() + 1);
    } else if (e == key) {
      found = "";
    }
  }
  return found;
}

bool Truthy(const std::string& value) {
  return !(value.empty() || value == "0" || value == "false" || value == "False" ||
           value == "FALSE" || value == "no");
}

std::optional<std::string> DisabledBy(const json& spec) {
  if (auto v = Annotation(spec, "ctrsnap.disable"); v && Truthy(*v)) {
    return "annotation ctrsnap.disable=" + *v;
  }
  for (const char* key : {"ctrsnap.disable", "CTRSNAP_DISABLE"}) {
    if (auto v = EnvValue(spec, key); v && Truthy(*v)) {
      return std::string("env ") + key + "=" + *v;
    }
  }
  return std::nullopt;
}

json Hook::ToJson() const {
  json h = {{"path", path}};
  if (!args.empty()) h["args"] = args;
  if (!env.empty()) h["env"] = env;
  if (timeout > 0) h["timeout"] = timeout;
  return h;
}

static bool SameHook(const json& existing, const Hook& hook) {
  if (!existing.is_object()) return false;
  const json* path = Find(existing, "path");
  if (path == nullptr || !path->is_string()) return false;
  if (Basename(path->get<std::string>()) != Basename(hook.path)) return false;
  const json* args = Find(existing, "args");
  std::string verb;
  if (args != nullptr && args->is_array() && args->size() > 1 && (*args)[1].is_string()) {
    verb = (*args)[1].get<std::string>();
  }
  return verb == (hook.args.size() > 1 ? hook.args[1] : std::string());
}

Status UpsertHook(json& spec, const std::string& point, const Hook& hook) {
  if (!spec.is_object()) return Status::InvalidArgument("spec is not an object");
  json& hooks = spec["hooks"];
  if (hooks.is_null()) hooks = json::object();
  if (!hooks.is_object()) return Status::InvalidArgument("config.json: hooks is not an object");
  json& list = hooks[point];
  if (list.is_null()) list = json::array();
  if (!list.is_array()) {
    return Status::InvalidArgument("config.json: hooks." + point + " is not an array");
  }
  bool replaced = false;
  for (auto it = list.begin(); it != list.end();) {
    if (SameHook(*it, hook)) {
      if (replaced) {
        it = list.erase(it);
        continue;
      }
      *it = hook.ToJson();
      replaced = true;
    }
    ++it;
  }
  if (!replaced) list.push_back(hook.ToJson());
  return Status::Ok();
}

void RemoveHook(json& spec, const std::string& point, const Hook& hook) {
  if (!spec.is_object()) return;
  auto hooks = spec.find("hooks");
  if (hooks == spec.end() || !hooks->is_object()) return;
  auto list = hooks->find(point);
  if (list == hooks->end() || !list->is_array()) return;
  for (auto it = list->begin(); it != list->end();) {
    it = SameHook(*it, hook) ? list->erase(it) : it + 1;
  }
}

size_t CountHooks(const json& spec, const std::string& point, const std::string& basename) {
  const json* hooks = Find(spec, "hooks");
  const json* list = hooks ? Find(*hooks, point.c_str()) : nullptr;
  if (list == nullptr || !list->is_array()) return 0;
  size_t n = 0;
  for (const json& h : *list) {
    const json* path = Find(h, "path");
    if (path != nullptr && path->is_string() && Basename(path->get<std::string>()) == basename) ++n;
  }
  return n;
}

}  // namespace ctrsnap::shim
