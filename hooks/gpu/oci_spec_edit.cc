#include "hooks/gpu/oci_spec_edit.h"

#include <algorithm>

namespace ctrsnap::gpu {

using nlohmann::json;

namespace {

// Returns OBJ[KEY], creating it with TYPE when absent; an error when it exists
// with another type. REQUIRES: obj is an object.
Result<json*> Child(json* obj, const char* key, json::value_t type, std::string_view where) {
  auto it = obj->find(key);
  if (it == obj->end() || it->is_null()) {
    (*obj)[key] = json(type);
    return &(*obj)[key];
  }
  if (it->type() != type) {
    return Status::InvalidArgument("OCI spec: " + std::string(where) + " has the wrong type");
  }
  return &*it;
}

Result<json*> Path(json* spec, std::initializer_list<std::pair<const char*, json::value_t>> path) {
  if (!spec->is_object()) return Status::InvalidArgument("OCI spec: not a JSON object");
  json* cur = spec;
  std::string where;
  for (const auto& [key, type] : path) {
    where += where.empty() ? key : "." + std::string(key);
    ASSIGN_OR_RETURN(cur, Child(cur, key, type, where));
  }
  return cur;
}

size_t PathDepth(std::string_view p) {
  // Components of the cleaned path: "/a/b/" and "/a//b" count as 2.
  size_t n = 0;
  bool in = false;
  for (char c : p) {
    if (c == '/') {
      in = false;
    } else if (!in) {
      in = true;
      ++n;
    }
  }
  return n;
}

}  // namespace

std::string_view EnvName(std::string_view entry) {
  auto eq = entry.find('=');
  return eq == std::string_view::npos ? entry : entry.substr(0, eq);
}

std::vector<std::string> ProcessEnv(const json& spec) {
  std::vector<std::string> out;
  if (!spec.is_object()) return out;
  auto p = spec.find("process");
  if (p == spec.end() || !p->is_object()) return out;
  auto e = p->find("env");
  if (e == p->end() || !e->is_array()) return out;
  for (const auto& v : *e) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::optional<std::string> LookupEnv(const json& spec, std::string_view name) {
  std::optional<std::string> found;
  for (const auto& e : ProcessEnv(spec)) {
    if (e.size() > name.size() && e[name.size()] == '=' && e.compare(0, name.size(), name) == 0) {
      found = e.substr(name.size() + 1);
    }
  }
  return found;
}

Status SetProcessEnv(json* spec, const std::vector<std::string>& entries) {
  if (entries.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(json * env, Path(spec, {{"process", json::value_t::object},
                                           {"env", json::value_t::array}}));
  for (const auto& entry : entries) {
    std::string_view name = EnvName(entry);
    bool replaced = false;
    for (auto& v : *env) {
      if (v.is_string() && EnvName(v.get_ref<const std::string&>()) == name) {
        v = entry;
        replaced = true;
      }
    }
    if (!replaced) env->push_back(entry);
  }
  return Status::Ok();
}

std::map<std::string, std::string> Annotations(const json& spec) {
  std::map<std::string, std::string> out;
  if (!spec.is_object()) return out;
  auto a = spec.find("annotations");
  if (a == spec.end() || !a->is_object()) return out;
  for (const auto& [k, v] : a->items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

Status AddLinuxDevice(json* spec, json device) {
  ASSIGN_OR_RETURN(json * devs, Path(spec, {{"linux", json::value_t::object},
                                            {"devices", json::value_t::array}}));
  const json path = device.value("path", json());
  devs->erase(std::remove_if(devs->begin(), devs->end(),
                             [&](const json& d) { return d.is_object() && d.value("path", json()) == path; }),
              devs->end());
  devs->push_back(std::move(device));
  return Status::Ok();
}

Status AddCgroupDeviceRule(json* spec, std::string_view type, int64_t major, int64_t minor,
                           std::string_view access) {
  ASSIGN_OR_RETURN(json * rules, Path(spec, {{"linux", json::value_t::object},
                                             {"resources", json::value_t::object},
                                             {"devices", json::value_t::array}}));
  json rule = {{"allow", true},
               {"type", std::string(type)},
               {"major", major},
               {"minor", minor},
               {"access", std::string(access)}};
  for (const auto& r : *rules) {
    if (r == rule) return Status::Ok();
  }
  rules->push_back(std::move(rule));
  return Status::Ok();
}

Status AddMount(json* spec, json mount) {
  ASSIGN_OR_RETURN(json * mounts, Path(spec, {{"mounts", json::value_t::array}}));
  const json dest = mount.value("destination", json());
  mounts->erase(std::remove_if(mounts->begin(), mounts->end(),
                               [&](const json& m) {
                                 return m.is_object() && m.value("destination", json()) == dest;
                               }),
                mounts->end());
  mounts->push_back(std::move(mount));
  return Status::Ok();
}

Status SortMounts(json* spec) {
  ASSIGN_OR_RETURN(json * mounts, Path(spec, {{"mounts", json::value_t::array}}));
  std::vector<json> v(mounts->begin(), mounts->end());
  auto depth = [](const json& m) {
    if (!m.is_object()) return size_t{0};
    auto d = m.find("destination");
    return (d != m.end() && d->is_string()) ? PathDepth(d->get_ref<const std::string&>()) : 0;
  };
  std::stable_sort(v.begin(), v.end(),
                   [&](const json& a, const json& b) { return depth(a) < depth(b); });
  *mounts = json(std::move(v));
  return Status::Ok();
}

bool IsHookPoint(std::string_view name) {
  return name == "prestart" || name == "createRuntime" || name == "createContainer" ||
         name == "startContainer" || name == "poststart" || name == "poststop";
}

Status AddHook(json* spec, std::string_view hook_point, json hook) {
  if (!IsHookPoint(hook_point)) {
    return Status::InvalidArgument("unknown OCI hook point \"" + std::string(hook_point) + "\"");
  }
  ASSIGN_OR_RETURN(json * hooks, Path(spec, {{"hooks", json::value_t::object}}));
  const std::string point(hook_point);
  ASSIGN_OR_RETURN(json * list, Child(hooks, point.c_str(), json::value_t::array, "hooks." + point));
  for (const auto& h : *list) {
    if (h == hook) return Status::Ok();
  }
  list->push_back(std::move(hook));
  return Status::Ok();
}

Status AddAdditionalGid(json* spec, uint32_t gid) {
  ASSIGN_OR_RETURN(json * gids, Path(spec, {{"process", json::value_t::object},
                                            {"user", json::value_t::object},
                                            {"additionalGids", json::value_t::array}}));
  for (const auto& g : *gids) {
    if (g.is_number_integer() && g.get<int64_t>() == int64_t{gid}) return Status::Ok();
  }
  gids->push_back(gid);
  return Status::Ok();
}

std::vector<std::pair<std::string, json>> HostHooks(const json& spec) {
  std::vector<std::pair<std::string, json>> out;
  if (!spec.is_object()) return out;
  auto h = spec.find("hooks");
  if (h == spec.end() || !h->is_object()) return out;
  for (const char* point : {"prestart", "createRuntime"}) {
    auto l = h->find(point);
    if (l == h->end() || !l->is_array()) continue;
    for (const auto& hook : *l) {
      if (hook.is_object()) out.emplace_back(point, hook);
    }
  }
  return out;
}

}  // namespace ctrsnap::gpu
