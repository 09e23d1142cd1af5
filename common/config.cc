#include "common/config.h"

#include <cerrno>
#include <nlohmann/json.hpp>

#include "common/line_column.h"
#include "common/env.h"
#include "common/file_util.h"

namespace ctrsnap {

std::string_view GpuModeName(GpuMode mode) {
  switch (mode) {
    case GpuMode::kAuto: return "auto";
    case GpuMode::kCdi: return "cdi";
    case GpuMode::kLegacy: return "legacy";
    case GpuMode::kOff: return "off";
  }
  return "auto";
}

namespace {

using nlohmann::json;

Status CheckKeys(const json& obj, std::initializer_list<const char*> allowed,
                 const std::string& where) {
  if (!obj.is_object()) return Status::InvalidArgument(where + ": expected an object");
  for (const auto& [key, value] : obj.items()) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || key == a;
    if (!ok) return Status::InvalidArgument(where + ": unknown key \"" + key + "\"");
  }
  return Status::Ok();
}

template <typename T>
Status Get(const json& obj, const char* key, T* out, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  try {
    *out = it->get<T>();
  } catch (const json::exception&) {
    return Status::InvalidArgument(where + ": \"" + key + "\" has the wrong type (" +
                                   std::string(it->type_name()) + ")");
  }
  return Status::Ok();
}

}  // namespace

Result<Config> Config::Parse(std::string_view text, const std::string& source) {
  Config c;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return Status::InvalidArgument(source + ":" + LineColumn(text, JsonErrorOffset(e.byte)) +
                                   ": malformed JSON");
  } catch (const json::exception& e) {  // e.g. a number too large for a double
    return Status::InvalidArgument(source + ": malformed JSON: " + e.what());
  }
  RETURN_IF_ERROR(CheckKeys(j, {"runtime", "state_root", "fs_binary", "hook_binary", "log_level",
                                "fs_writeback_cache", "retention", "gpu", "snapshot"},
                            source));
  RETURN_IF_ERROR(Get(j, "runtime", &c.runtime, source));
  RETURN_IF_ERROR(Get(j, "state_root", &c.state_root, source));
  RETURN_IF_ERROR(Get(j, "fs_binary", &c.fs_binary, source));
  RETURN_IF_ERROR(Get(j, "hook_binary", &c.hook_binary, source));
  RETURN_IF_ERROR(Get(j, "log_level", &c.log_level, source));
  RETURN_IF_ERROR(Get(j, "fs_writeback_cache", &c.fs_writeback_cache, source));
  if (j.contains("retention")) {
    const std::string where = source + ": retention";
    RETURN_IF_ERROR(CheckKeys(j["retention"], {"keep_exited", "max_bytes"}, where));
    RETURN_IF_ERROR(Get(j["retention"], "keep_exited", &c.retention.keep_exited, where));
    RETURN_IF_ERROR(Get(j["retention"], "max_bytes", &c.retention.max_bytes, where));
  }
  if (j.contains("gpu")) {
    const std::string where = source + ": gpu";
    RETURN_IF_ERROR(CheckKeys(j["gpu"], {"mode", "legacy_hook", "cdi_spec_dirs"}, where));
    std::string mode = "auto";
    RETURN_IF_ERROR(Get(j["gpu"], "mode", &mode, where));
    if (mode == "auto") c.gpu.mode = GpuMode::kAuto;
    else if (mode == "cdi") c.gpu.mode = GpuMode::kCdi;
    else if (mode == "legacy") c.gpu.mode = GpuMode::kLegacy;
    else if (mode == "off") c.gpu.mode = GpuMode::kOff;
    else return Status::InvalidArgument(where + ": mode \"" + mode + "\" (auto, cdi, legacy, off)");
    RETURN_IF_ERROR(Get(j["gpu"], "legacy_hook", &c.gpu.legacy_hook, where));
    RETURN_IF_ERROR(Get(j["gpu"], "cdi_spec_dirs", &c.gpu.cdi_spec_dirs, where));
  }
  if (j.contains("snapshot")) {
    const std::string where = source + ": snapshot";
    RETURN_IF_ERROR(CheckKeys(j["snapshot"], {"compression", "tag_template"}, where));
    RETURN_IF_ERROR(Get(j["snapshot"], "compression", &c.snapshot.compression, where));
    RETURN_IF_ERROR(Get(j["snapshot"], "tag_template", &c.snapshot.tag_template, where));
    const auto& z = c.snapshot.compression;
    if (!z.empty() && z != "gzip" && z != "zstd" && z != "none") {
      return Status::InvalidArgument(where + ": compression \"" + z + "\" (gzip, zstd, none)");
    }
  }
  return c;
}

Result<Config> Config::Load(const std::string& path) {
  Config c;
  auto text = ReadFileToString(path);
  if (text.ok()) {
    ASSIGN_OR_RETURN(c, Parse(*text, path));
  } else if (text.status().err() != ENOENT) {
    return text.status();
  }
  if (const char* root = std::getenv("CTRSNAP_ROOT"); root != nullptr && *root != '\0') {  // NOLINT
    c.state_root = root;
  } else if (c.state_root.empty()) {
    c.state_root = layout::kDefaultStateRoot;
  }
  return c;
}

Result<Config> Config::LoadDefault() { return Load(ConfigPath()); }

std::string Config::ToJson() const {
  json j = {{"runtime", runtime},
            {"state_root", state_root},
            {"fs_binary", fs_binary},
            {"hook_binary", hook_binary},
            {"log_level", log_level},
            {"fs_writeback_cache", fs_writeback_cache},
            {"retention", {{"keep_exited", retention.keep_exited}, {"max_bytes", retention.max_bytes}}},
            {"gpu",
             {{"mode", GpuModeName(gpu.mode)},
              {"legacy_hook", gpu.legacy_hook},
              {"cdi_spec_dirs", gpu.cdi_spec_dirs}}},
            {"snapshot",
             {{"compression", snapshot.compression}, {"tag_template", snapshot.tag_template}}}};
  return j.dump(2) + "\n";
}

}  // namespace ctrsnap
