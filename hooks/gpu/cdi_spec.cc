#include "hooks/gpu/cdi_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <set>

namespace ctrsnap::gpu {

using nlohmann::json;

namespace {

// Known versions, oldest first (the reference library's list).
constexpr std::array<std::string_view, 8> kVersions = {"0.3.0", "0.4.0", "0.5.0", "0.6.0",
                                                       "0.7.0", "0.8.0", "1.0.0", "1.1.0"};

int VersionIndex(std::string_view v) {
  if (!v.empty() && v[0] == 'v') v.remove_prefix(1);
  for (size_t i = 0; i < kVersions.size(); ++i) {
    if (kVersions[i] == v) return static_cast<int>(i);
  }
  return -1;
}

bool IsLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsLetter(c) || IsDigit(c); }

Status ValidateVendorOrClass(std::string_view what, std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("invalid " + std::string(what) + ": empty name");
  if (!IsLetter(name[0])) {
    return Status::InvalidArgument("invalid " + std::string(what) + " \"" + std::string(name) +
                                   "\": should start with a letter");
  }
  for (size_t i = 1; i + 1 < name.size(); ++i) {
    char c = name[i];
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.') {
      return Status::InvalidArgument("invalid " + std::string(what) + " \"" + std::string(name) +
                                     "\": invalid character");
    }
  }
  if (!IsAlnum(name.back())) {
    return Status::InvalidArgument("invalid " + std::string(what) + " \"" + std::string(name) +
                                   "\": should end with a letter or digit");
  }
  return Status::Ok();
}

// ---- YAML -> JSON -------------------------------------------------------
// Plain scalars stay strings (except null); typed getters below convert
// integer and boolean strings when the document came from YAML.
json YamlToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() != "!" && (s == "~" || s == "null" || s == "Null" || s == "NULL")) return nullptr;
      return s;
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& e : n) a.push_back(YamlToJson(e));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = YamlToJson(kv.second);
      return o;
    }
  }
  return nullptr;
}

// ---- typed field access ----------------------------------------------------
class Reader {
 public:
  Reader(std::string source, bool yaml) : source_(std::move(source)), yaml_(yaml) {}

  Status Object(const json& j, const std::string& where, std::initializer_list<const char*> keys) {
    if (!j.is_object()) return Err(where, "must be an object");
    for (const auto& item : j.items()) {
      const std::string& k = item.key();
      if (std::find_if(keys.begin(), keys.end(), [&](const char* x) { return k == x; }) ==
          keys.end()) {
        return Err(where, "unknown field \"" + k + "\"");
      }
    }
    return Status::Ok();
  }
  Status String(const json& o, const char* key, const std::string& where, std::string* out,
                bool required = false) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) {
      return required ? Err(where, std::string("missing \"") + key + "\"") : Status::Ok();
    }
    if (!it->is_string()) return Err(where + "." + key, "must be a string");
    *out = it->get<std::string>();
    return Status::Ok();
  }
  Status Int(const json& o, const char* key, const std::string& where, int64_t* out, bool* present) {
    *present = false;
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return Status::Ok();
    if (it->is_number_integer()) {
      *out = it->get<int64_t>();
    } else if (yaml_ && it->is_string()) {
      std::string s = it->get<std::string>();
      int base = 10;
      std::string digits = s;
      if (s.rfind("0o", 0) == 0) {
        base = 8;
        digits = s.substr(2);
      } else if (s.rfind("0x", 0) == 0) {
        base = 16;
        digits = s.substr(2);
      } else if (s.size() > 1 && s[0] == '0') {
        base = 8;  // YAML 1.1 octal, as Go's yaml reads fileMode: 0644
      }
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(digits.c_str(), &end, base);
      if (digits.empty() || errno != 0 || *end != '\0') {
        return Err(where + "." + key, "must be an integer");
      }
      *out = v;
    } else {
      return Err(where + "." + key, "must be an integer");
    }
    *present = true;
    return Status::Ok();
  }
  Status Strings(const json& o, const char* key, const std::string& where,
                 std::vector<std::string>* out) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return Status::Ok();
    if (!it->is_array()) return Err(where + "." + key, "must be a list of strings");
    for (const auto& v : *it) {
      if (!v.is_string()) return Err(where + "." + key, "must be a list of strings");
      out->push_back(v.get<std::string>());
    }
    return Status::Ok();
  }
  Status StringMap(const json& o, const char* key, const std::string& where,
                   std::map<std::string, std::string>* out) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return Status::Ok();
    if (!it->is_object()) return Err(where + "." + key, "must be a map of strings");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return Err(where + "." + key + "." + k, "must be a string");
      (*out)[k] = v.get<std::string>();
    }
    return Status::Ok();
  }
  Status Err(const std::string& where, const std::string& what) const {
    return Status::InvalidArgument("CDI spec " + source_ + ": " + where + ": " + what);
  }

 private:
  std::string source_;
  bool yaml_;
};

Status ReadEdits(Reader& r, const json& j, const std::string& where, CdiContainerEdits* e) {
  if (j.is_null()) return Status::Ok();
  RETURN_IF_ERROR(r.Object(j, where, {"env", "deviceNodes", "hooks", "mounts", "intelRdt",
                                      "additionalGids", "netDevices"}));
  RETURN_IF_ERROR(r.Strings(j, "env", where, &e->env));
  for (const auto& v : e->env) {
    auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0) {
      return r.Err(where + ".env", "invalid environment variable \"" + v + "\"");
    }
  }
  if (auto it = j.find("deviceNodes"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return r.Err(where + ".deviceNodes", "must be a list");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& d = (*it)[i];
      const std::string w = where + ".deviceNodes[" + std::to_string(i) + "]";
      RETURN_IF_ERROR(r.Object(d, w, {"path", "hostPath", "type", "major", "minor", "fileMode",
                                      "permissions", "uid", "gid"}));
      CdiDeviceNode n;
      RETURN_IF_ERROR(r.String(d, "path", w, &n.path, true));
      RETURN_IF_ERROR(r.String(d, "hostPath", w, &n.host_path));
      RETURN_IF_ERROR(r.String(d, "type", w, &n.type));
      RETURN_IF_ERROR(r.String(d, "permissions", w, &n.permissions));
      bool present = false;
      RETURN_IF_ERROR(r.Int(d, "major", w, &n.major, &present));
      RETURN_IF_ERROR(r.Int(d, "minor", w, &n.minor, &present));
      int64_t v = 0;
      RETURN_IF_ERROR(r.Int(d, "fileMode", w, &v, &present));
      if (present) n.file_mode = static_cast<uint32_t>(v);
      RETURN_IF_ERROR(r.Int(d, "uid", w, &v, &present));
      if (present) {
        if (v < 0 || v > UINT32_MAX) return r.Err(w + ".uid", "out of range");
        n.uid = static_cast<uint32_t>(v);
      }
      RETURN_IF_ERROR(r.Int(d, "gid", w, &v, &present));
      if (present) {
        if (v < 0 || v > UINT32_MAX) return r.Err(w + ".gid", "out of range");
        n.gid = static_cast<uint32_t>(v);
      }
      if (n.path.empty()) return r.Err(w, "invalid (empty) device path");
      if (n.type != "" && n.type != "b" && n.type != "c" && n.type != "u" && n.type != "p") {
        return r.Err(w, "device \"" + n.path + "\": invalid type \"" + n.type + "\"");
      }
      if (n.major < 0 || n.minor < 0) {
        return r.Err(w, "device \"" + n.path + "\": invalid (negative) device number");
      }
      if (!n.permissions.empty() && n.permissions != "none" &&
          n.permissions.find_first_not_of("rwm") != std::string::npos) {
        return r.Err(w, "device \"" + n.path + "\": invalid permissions \"" + n.permissions + "\"");
      }
      e->device_nodes.push_back(std::move(n));
    }
  }
  if (auto it = j.find("mounts"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return r.Err(where + ".mounts", "must be a list");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& m = (*it)[i];
      const std::string w = where + ".mounts[" + std::to_string(i) + "]";
      RETURN_IF_ERROR(r.Object(m, w, {"hostPath", "containerPath", "options", "type"}));
      CdiMount mt;
      RETURN_IF_ERROR(r.String(m, "hostPath", w, &mt.host_path));
      RETURN_IF_ERROR(r.String(m, "containerPath", w, &mt.container_path));
      RETURN_IF_ERROR(r.Strings(m, "options", w, &mt.options));
      RETURN_IF_ERROR(r.String(m, "type", w, &mt.type));
      if (mt.host_path.empty()) return r.Err(w, "invalid mount, empty host path");
      if (mt.container_path.empty()) return r.Err(w, "invalid mount, empty container path");
      e->mounts.push_back(std::move(mt));
    }
  }
  if (auto it = j.find("hooks"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return r.Err(where + ".hooks", "must be a list");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& h = (*it)[i];
      const std::string w = where + ".hooks[" + std::to_string(i) + "]";
      RETURN_IF_ERROR(r.Object(h, w, {"hookName", "path", "args", "env", "timeout"}));
      CdiHook hk;
      RETURN_IF_ERROR(r.String(h, "hookName", w, &hk.hook_name, true));
      RETURN_IF_ERROR(r.String(h, "path", w, &hk.path));
      RETURN_IF_ERROR(r.Strings(h, "args", w, &hk.args));
      RETURN_IF_ERROR(r.Strings(h, "env", w, &hk.env));
      int64_t t = 0;
      bool present = false;
      RETURN_IF_ERROR(r.Int(h, "timeout", w, &t, &present));
      if (present) hk.timeout = t;
      static const std::set<std::string> kNames = {"prestart",       "createRuntime",
                                                   "createContainer", "startContainer",
                                                   "poststart",      "poststop"};
      if (!kNames.count(hk.hook_name)) return r.Err(w, "invalid hook name \"" + hk.hook_name + "\"");
      if (hk.path.empty()) return r.Err(w, "invalid hook \"" + hk.hook_name + "\" with empty path");
      for (const auto& v : hk.env) {
        auto eq = v.find('=');
        if (eq == std::string::npos || eq == 0) {
          return r.Err(w + ".env", "invalid environment variable \"" + v + "\"");
        }
      }
      e->hooks.push_back(std::move(hk));
    }
  }
  if (auto it = j.find("additionalGids"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return r.Err(where + ".additionalGids", "must be a list");
    for (const auto& g : *it) {
      json tmp = {{"g", g}};
      int64_t v = 0;
      bool present = false;
      RETURN_IF_ERROR(r.Int(tmp, "g", where + ".additionalGids", &v, &present));
      if (!present || v < 0 || v > UINT32_MAX) return r.Err(where + ".additionalGids", "bad gid");
      e->additional_gids.push_back(static_cast<uint32_t>(v));
    }
  }
  if (auto it = j.find("intelRdt"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return r.Err(where + ".intelRdt", "must be an object");
    e->has_intel_rdt = true;
  }
  if (auto it = j.find("netDevices"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return r.Err(where + ".netDevices", "must be a list");
    e->has_net_devices = !it->empty();
  }
  return Status::Ok();
}

json EditsToJson(const CdiContainerEdits& e) {
  json j = json::object();
  if (!e.env.empty()) j["env"] = e.env;
  if (!e.device_nodes.empty()) {
    json a = json::array();
    for (const auto& d : e.device_nodes) {
      json n = {{"path", d.path}};
      if (!d.host_path.empty()) n["hostPath"] = d.host_path;
      if (!d.type.empty()) n["type"] = d.type;
      if (d.major) n["major"] = d.major;
      if (d.minor) n["minor"] = d.minor;
      if (d.file_mode) n["fileMode"] = *d.file_mode;
      if (!d.permissions.empty()) n["permissions"] = d.permissions;
      if (d.uid) n["uid"] = *d.uid;
      if (d.gid) n["gid"] = *d.gid;
      a.push_back(std::move(n));
    }
    j["deviceNodes"] = std::move(a);
  }
  if (!e.mounts.empty()) {
    json a = json::array();
    for (const auto& m : e.mounts) {
      json o = {{"hostPath", m.host_path}, {"containerPath", m.container_path}};
      if (!m.options.empty()) o["options"] = m.options;
      if (!m.type.empty()) o["type"] = m.type;
      a.push_back(std::move(o));
    }
    j["mounts"] = std::move(a);
  }
  if (!e.hooks.empty()) {
    json a = json::array();
    for (const auto& h : e.hooks) {
      json o = {{"hookName", h.hook_name}, {"path", h.path}};
      if (!h.args.empty()) o["args"] = h.args;
      if (!h.env.empty()) o["env"] = h.env;
      if (h.timeout) o["timeout"] = *h.timeout;
      a.push_back(std::move(o));
    }
    j["hooks"] = std::move(a);
  }
  if (!e.additional_gids.empty()) j["additionalGids"] = e.additional_gids;
  return j;
}

void EmitYaml(YAML::Emitter& out, const json& j) {
  switch (j.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, v] : j.items()) {
        out << YAML::Key << k << YAML::Value;
        EmitYaml(out, v);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& v : j) EmitYaml(out, v);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const std::string& s = j.get_ref<const std::string&>();
      // Quote strings a YAML reader would take for another type ("0", "true").
      bool ambiguous = s.empty() || s.find_first_not_of("0123456789.+-eE") == std::string::npos ||
                       s == "true" || s == "false" || s == "null" || s == "~" || s == "yes" ||
                       s == "no" || s == "on" || s == "off";
      if (ambiguous) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case json::value_t::boolean:
      out << j.get<bool>();
      break;
    case json::value_t::number_integer:
      out << j.get<int64_t>();
      break;
    case json::value_t::number_unsigned:
      out << j.get<uint64_t>();
      break;
    case json::value_t::number_float:
      out << j.get<double>();
      break;
    default:
      out << YAML::Null;
  }
}

}  // namespace

bool CdiContainerEdits::empty() const {
  return env.empty() && device_nodes.empty() && mounts.empty() && hooks.empty() &&
         additional_gids.empty() && !has_intel_rdt && !has_net_devices;
}

void CdiContainerEdits::Append(const CdiContainerEdits& o) {
  env.insert(env.end(), o.env.begin(), o.env.end());
  device_nodes.insert(device_nodes.end(), o.device_nodes.begin(), o.device_nodes.end());
  mounts.insert(mounts.end(), o.mounts.begin(), o.mounts.end());
  hooks.insert(hooks.end(), o.hooks.begin(), o.hooks.end());
  additional_gids.insert(additional_gids.end(), o.additional_gids.begin(), o.additional_gids.end());
  has_intel_rdt = has_intel_rdt || o.has_intel_rdt;
  has_net_devices = has_net_devices || o.has_net_devices;
}

bool IsKnownCdiVersion(std::string_view version) { return VersionIndex(version) >= 0; }

Status ValidateVendorName(std::string_view vendor) { return ValidateVendorOrClass("vendor", vendor); }
Status ValidateClassName(std::string_view cls) { return ValidateVendorOrClass("class", cls); }

Status ValidateDeviceName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("invalid (empty) device name");
  if (!IsAlnum(name[0]) || !IsAlnum(name.back())) {
    return Status::InvalidArgument("invalid device name \"" + std::string(name) +
                                   "\": should start and end with a letter or digit");
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.' && c != ':') {
      return Status::InvalidArgument("invalid character in device name \"" + std::string(name) +
                                     "\"");
    }
  }
  return Status::Ok();
}

Result<QualifiedName> ParseQualifiedName(std::string_view device) {
  const std::string d(device);
  auto eq = device.find('=');
  auto slash = device.find('/');
  if (device.empty() || device[0] == '/' || eq == std::string_view::npos ||
      slash == std::string_view::npos || slash > eq) {
    return Status::InvalidArgument("unqualified CDI device \"" + d +
                                   "\" (want vendor.com/class=name)");
  }
  QualifiedName q{std::string(device.substr(0, slash)),
                  std::string(device.substr(slash + 1, eq - slash - 1)),
                  std::string(device.substr(eq + 1))};
  Status st = ValidateVendorName(q.vendor);
  if (st.ok()) st = ValidateClassName(q.cls);
  if (st.ok()) st = ValidateDeviceName(q.name);
  if (!st.ok()) return st.WithContext("CDI device \"" + d + "\"");
  return q;
}

std::string MinimumCdiVersion(const CdiSpec& spec) {
  int min = 0;
  auto need = [&](std::string_view v) { min = std::max(min, VersionIndex(v)); };
  std::vector<const CdiContainerEdits*> all = {&spec.edits};
  for (const auto& d : spec.devices) {
    all.push_back(&d.edits);
    if (!d.name.empty() && IsDigit(d.name[0])) need("0.5.0");
    if (!d.annotations.empty()) need("0.6.0");
  }
  if (!spec.annotations.empty()) need("0.6.0");
  if (spec.cls.find('.') != std::string::npos) need("0.6.0");
  for (const auto* e : all) {
    for (const auto& m : e->mounts) {
      if (!m.type.empty()) need("0.4.0");
    }
    for (const auto& n : e->device_nodes) {
      if (!n.host_path.empty()) need("0.5.0");
    }
    if (e->has_intel_rdt || !e->additional_gids.empty()) need("0.7.0");
    if (e->has_net_devices) need("1.1.0");
  }
  return std::string(kVersions[static_cast<size_t>(min)]);
}

namespace {

Result<CdiSpec> SpecFromDoc(const json& doc, const std::string& source, bool yaml) {
  Reader r(source, yaml);
  CdiSpec spec;
  spec.path = source;
  RETURN_IF_ERROR(r.Object(doc, "spec", {"cdiVersion", "kind", "annotations", "devices",
                                         "containerEdits"}));
  RETURN_IF_ERROR(r.String(doc, "cdiVersion", "spec", &spec.version, true));
  RETURN_IF_ERROR(r.String(doc, "kind", "spec", &spec.kind, true));
  RETURN_IF_ERROR(r.StringMap(doc, "annotations", "spec", &spec.annotations));
  if (!IsKnownCdiVersion(spec.version)) {
    return r.Err("cdiVersion", "unsupported version \"" + spec.version + "\" (0.3.0 to 1.1.0)");
  }
  auto slash = spec.kind.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == spec.kind.size()) {
    return r.Err("kind", "\"" + spec.kind + "\" is not vendor.com/class");
  }
  spec.vendor = spec.kind.substr(0, slash);
  spec.cls = spec.kind.substr(slash + 1);
  if (Status st = ValidateVendorName(spec.vendor); !st.ok()) return r.Err("kind", st.message());
  if (Status st = ValidateClassName(spec.cls); !st.ok()) return r.Err("kind", st.message());
  if (auto it = doc.find("containerEdits"); it != doc.end()) {
    RETURN_IF_ERROR(ReadEdits(r, *it, "containerEdits", &spec.edits));
  }
  auto devs = doc.find("devices");
  if (devs == doc.end() || !devs->is_array() || devs->empty()) {
    return r.Err("devices", "invalid spec, no devices");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < devs->size(); ++i) {
    const json& d = (*devs)[i];
    const std::string w = "devices[" + std::to_string(i) + "]";
    RETURN_IF_ERROR(r.Object(d, w, {"name", "annotations", "containerEdits"}));
    CdiDevice dev;
    RETURN_IF_ERROR(r.String(d, "name", w, &dev.name, true));
    if (Status st = ValidateDeviceName(dev.name); !st.ok()) return r.Err(w, st.message());
    RETURN_IF_ERROR(r.StringMap(d, "annotations", w, &dev.annotations));
    if (auto it = d.find("containerEdits"); it != d.end()) {
      RETURN_IF_ERROR(ReadEdits(r, *it, w + ".containerEdits", &dev.edits));
    }
    if (dev.edits.empty()) return r.Err(w, "invalid device \"" + dev.name + "\", empty device edits");
    if (!seen.insert(dev.name).second) return r.Err(w, "multiple devices named \"" + dev.name + "\"");
    spec.devices.push_back(std::move(dev));
  }
  std::string min = MinimumCdiVersion(spec);
  if (VersionIndex(min) > VersionIndex(spec.version)) {
    return r.Err("cdiVersion", "the spec uses features of version " + min + " but declares " +
                                   spec.version);
  }
  return spec;
}

}  // namespace

Result<CdiSpec> CdiSpecFromJson(const json& doc, const std::string& source) {
  try {
    return SpecFromDoc(doc, source, false);
  } catch (const std::exception& e) {
    return Status::InvalidArgument("CDI spec " + source + ": " + e.what());
  }
}

Result<CdiSpec> ParseCdiSpec(std::string_view text, const std::string& source) {
  // JSON is a subset of YAML, but a JSON document is parsed as JSON so that its
  // numbers and strings keep their types.
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') {
    json doc = json::parse(text, nullptr, false);
    if (!doc.is_discarded()) return CdiSpecFromJson(doc, source);
    // Not JSON: maybe a YAML flow mapping ({kind: a.com/b, ...}).
  }
  try {
    YAML::Node node = YAML::Load(std::string(text));
    if (!node.IsMap()) return Status::InvalidArgument("CDI spec " + source + ": not a YAML map");
    return SpecFromDoc(YamlToJson(node), source, true);
  } catch (const std::exception& e) {
    return Status::InvalidArgument("CDI spec " + source + ": malformed YAML: " + e.what());
  }
}

nlohmann::json CdiSpecToJson(const CdiSpec& spec) {
  json j = {{"cdiVersion", spec.version}, {"kind", spec.kind}};
  if (!spec.annotations.empty()) j["annotations"] = spec.annotations;
  json devs = json::array();
  for (const auto& d : spec.devices) {
    json o = {{"name", d.name}};
    if (!d.annotations.empty()) o["annotations"] = d.annotations;
    o["containerEdits"] = EditsToJson(d.edits);
    devs.push_back(std::move(o));
  }
  j["devices"] = std::move(devs);
  json e = EditsToJson(spec.edits);
  if (!e.empty()) j["containerEdits"] = std::move(e);
  return j;
}

std::string JsonToYaml(const nlohmann::json& doc) {
  YAML::Emitter out;
  EmitYaml(out, doc);
  return std::string(out.c_str()) + "\n";
}

}  // namespace ctrsnap::gpu
