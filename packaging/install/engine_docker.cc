// Docker: "runtimes": {"ctrsnap": {"path": ...}} in /etc/docker/daemon.json,
// and "default-runtime" with --default. dockerd rejects unknown keys, so the
// default that --default replaced is kept beside the file, in
// daemon.json.ctrsnap-state, for uninstall to restore.
#include <nlohmann/json.hpp>

#include "common/line_column.h"
#include "packaging/install/engine_config.h"
#include "packaging/install/run_command.h"

namespace ctrsnap::install {
namespace {

using Json = nlohmann::ordered_json;

std::string StatePath(const std::string& file) { return file + ".ctrsnap-state"; }

Result<Json> ParseJson(const std::string& text, const std::string& source) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return Json::object();
  try {
    Json j = Json::parse(text);
    if (!j.is_object()) return Status::InvalidArgument(source + ": expected a JSON object");
    return j;
  } catch (const Json::parse_error& e) {
    return Status::InvalidArgument(source + ":" + LineColumn(text, JsonErrorOffset(e.byte)) +
                                   ": malformed JSON");
  } catch (const Json::exception& e) {  // e.g. a number too large for a double
    return Status::InvalidArgument(source + ": malformed JSON: " + e.what());
  }
}

// Writes J with the indentation the file already uses (2 spaces by default).
std::string Dump(const Json& j, const std::string& original) {
  int indent = 2;
  char ch = ' ';
  size_t nl = original.find('\n');
  if (nl != std::string::npos && nl + 1 < original.size()) {
    size_t start = nl + 1, end = start;
    while (end < original.size() && (original[end] == ' ' || original[end] == '\t')) ++end;
    if (end > start && end < original.size() && original[end] == '"') {
      indent = static_cast<int>(end - start);
      ch = original[start];
    }
  }
  return j.dump(indent, ch) + "\n";
}

class DockerConfig final : public EngineConfig {
 public:
  Engine engine() const override { return Engine::kDocker; }
  std::string DefaultFile() const override { return "/etc/docker/daemon.json"; }
  std::string Service() const override { return "docker"; }

  Result<Plan> PlanInstall(const InstallRequest& req) const override {
    ASSIGN_OR_RETURN(auto text, ReadOptionalFile(req.file));
    const std::string original = text.value_or("");
    ASSIGN_OR_RETURN(Json j, ParseJson(original, req.file));
    Json updated = j;
    if (updated.contains("runtimes") && !updated["runtimes"].is_object()) {
      return Status::InvalidArgument(req.file + ": \"runtimes\" is not an object");
    }
    Json& entry = updated["runtimes"][kRuntimeName];
    if (!entry.is_object()) entry = Json::object();
    entry["path"] = req.runtime_path;
    Plan plan;
    if (req.make_default) {
      auto it = j.find("default-runtime");
      bool already = it != j.end() && *it == kRuntimeName;
      if (!already) {
        ASSIGN_OR_RETURN(auto state, ReadOptionalFile(StatePath(req.file)));
        if (!state) {
          Json s = {{"previous_default_runtime", it != j.end() ? *it : Json(nullptr)}};
          plan.changes.push_back({StatePath(req.file), s.dump(2) + "\n", false});
        }
        updated["default-runtime"] = kRuntimeName;
      }
    }
    if (updated != j || !text) {
      plan.changes.insert(plan.changes.begin(), {req.file, Dump(updated, original)});
    }
    return plan;
  }

  Result<Plan> PlanUninstall(const InstallRequest& req) const override {
    ASSIGN_OR_RETURN(auto text, ReadOptionalFile(req.file));
    Plan plan;
    if (!text) return plan;
    ASSIGN_OR_RETURN(Json j, ParseJson(*text, req.file));
    Json updated = j;
    if (updated.contains("runtimes") && updated["runtimes"].is_object()) {
      updated["runtimes"].erase(kRuntimeName);
      if (updated["runtimes"].empty()) updated.erase("runtimes");
    }
    ASSIGN_OR_RETURN(auto state, ReadOptionalFile(StatePath(req.file)));
    if (updated.value("default-runtime", "") == kRuntimeName) {
      Json previous = nullptr;
      if (state) {
        auto s = ParseJson(*state, StatePath(req.file));
        if (s.ok()) previous = s->value("previous_default_runtime", Json(nullptr));
      }
      if (previous.is_string() && previous != kRuntimeName) {
        updated["default-runtime"] = previous;
        plan.notes.push_back("default-runtime restored to \"" + previous.get<std::string>() +
                             "\"");
      } else {
        updated.erase("default-runtime");
        plan.notes.push_back("default-runtime removed (Docker's default, runc, applies)");
      }
    }
    if (updated != j) plan.changes.push_back({req.file, Dump(updated, *text)});
    if (state) plan.changes.push_back({StatePath(req.file), std::nullopt, false});
    return plan;
  }

  Result<Registration> Inspect(const std::string& file) const override {
    Registration r;
    r.where = file;
    ASSIGN_OR_RETURN(auto text, ReadOptionalFile(file));
    if (!text) return r;
    ASSIGN_OR_RETURN(Json j, ParseJson(*text, file));
    auto rt = j.find("runtimes");
    if (rt != j.end() && rt->is_object() && rt->contains(kRuntimeName)) {
      const Json& e = (*rt)[kRuntimeName];
      r.installed = true;
      if (e.is_object() && e.contains("path") && e["path"].is_string()) {
        r.runtime_path = e["path"].get<std::string>();
      }
    }
    r.is_default = j.value("default-runtime", "") == kRuntimeName;
    return r;
  }

  // dockerd --validate exists from Docker 23; 20.10 answers "unknown flag".
  Status ValidateWithEngine(const std::string& file) const override {
    if (FindInPath("dockerd").empty()) return Status::Ok();
    auto r = RunCommand({"dockerd", "--validate", "--config-file", file});
    if (!r.ok()) return Status::Ok();
    if (r->exit_code == 0) return Status::Ok();
    if ((r->out + r->err).find("unknown flag") != std::string::npos) return Status::Ok();
    return Status::InvalidArgument("dockerd --validate --config-file " + file + ": " + r->err +
                                   r->out);
  }
};

}  // namespace

std::unique_ptr<EngineConfig> MakeDockerConfig() { return std::make_unique<DockerConfig>(); }

}  // namespace ctrsnap::install
