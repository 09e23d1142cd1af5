// containerd (config version 2 for 1.6/1.7, version 3 for 2.x): a runtime
// `ctrsnap` of type io.containerd.runc.v2 whose options copy those of the
// runtime it stands in for (the default runtime, else runc: SystemdCgroup
// and the like) with BinaryName = ctrsnap-runtime.
//
// Where it goes, and why:
// - The main config already imports a conf.d glob: a drop-in (99-ctrsnap.toml).
//   containerd 1.6 *replaces* a whole plugin section from an import (measured:
//   `config dump` of a drop-in holding only runtimes.ctrsnap loses the main
//   file's sandbox_image, snapshotter and runc runtime), so the drop-in holds
//   the main file's CRI section plus the ctrsnap runtime, as nvidia-ctk does.
// - Otherwise: lines added to the main file (TomlEdit), which keeps the CRI
//   section in one place instead of freezing a copy of it into a new import.
#include <fnmatch.h>
#include <glob.h>

#include <sstream>

#include "common/file_util.h"
#include "packaging/install/engine_config.h"
#include "packaging/install/run_command.h"
#include "packaging/install/toml_edit.h"

namespace ctrsnap::install {
namespace {

constexpr char kDropInName[] = "99-ctrsnap.toml";
constexpr char kDropInHeader[] =
    "# Written by `ctrsnap install containerd`; removed by `ctrsnap uninstall containerd`.\n"
    "# containerd replaces a whole plugin section from an import, so this is the CRI section\n"
    "# of the main config plus the ctrsnap runtime: edit the CRI settings here, or uninstall,\n"
    "# edit the main config, and install again.\n";

struct Layout {
  int64_t version = 2;
  std::string cri_plugin;  // io.containerd.grpc.v1.cri or io.containerd.cri.v1.runtime
  TomlPath Cri() const { return {"plugins", cri_plugin}; }
  TomlPath Containerd() const { return {"plugins", cri_plugin, "containerd"}; }
  TomlPath Runtime(const std::string& name) const {
    return {"plugins", cri_plugin, "containerd", "runtimes", name};
  }
  TomlPath Options(const std::string& name) const {
    TomlPath p = Runtime(name);
    p.push_back("options");
    return p;
  }
};

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Result<Layout> LayoutOf(const TomlDoc& doc, bool empty, const std::string& source) {
  Layout l;
  const toml::node* v = doc.Find({"version"});
  if (v == nullptr) {
    if (!empty) {
      return Status::Unsupported(source +
                                 ": config version 1 (no `version` key) is not supported; "
                                 "write it as version 2 (`containerd config default`)");
    }
  } else if (!v->is_integer()) {
    return Status::InvalidArgument(source + ": `version` is not an integer");
  } else {
    l.version = v->as_integer()->get();
  }
  if (l.version == 2) {
    l.cri_plugin = "io.containerd.grpc.v1.cri";
  } else if (l.version == 3) {
    l.cri_plugin = "io.containerd.cri.v1.runtime";
  } else {
    return Status::Unsupported(source + ": config version " + std::to_string(l.version) +
                               " is not supported (2 or 3)");
  }
  return l;
}

// The runtime whose options ctrsnap copies.
std::string SourceRuntime(const TomlDoc& doc, const Layout& l) {
  TomlPath p = l.Containerd();
  p.push_back("default_runtime_name");
  auto name = doc.GetString(p);
  if (name && *name != kRuntimeName && doc.Find(l.Runtime(*name)) != nullptr) return *name;
  return "runc";
}

// The drop-in path when the main config imports a glob that covers it.
// PATTERN (from imports) as a path on this system: relative to the main
// file's directory, absolute ones under ROOT.
std::string ImportPattern(std::string pattern, const std::string& main_file,
                          const std::string& root) {
  if (!pattern.starts_with("/")) return DirName(main_file) + "/" + pattern;
  return root.empty() ? pattern : root + pattern;
}

std::optional<std::string> DropInPath(const TomlDoc& doc, const std::string& main_file,
                                      const std::string& root) {
  const toml::node* imports = doc.Find({"imports"});
  if (imports == nullptr || !imports->is_array()) return std::nullopt;
  for (const toml::node& n : *imports->as_array()) {
    if (!n.is_string()) continue;
    std::string pattern = ImportPattern(n.as_string()->get(), main_file, root);
    std::string candidate = DirName(pattern) + "/" + kDropInName;
    if (::fnmatch(pattern.c_str(), candidate.c_str(), FNM_PATHNAME) == 0) return candidate;
  }
  return std::nullopt;
}

std::vector<std::string> Imports(const TomlDoc& doc, const std::string& main_file,
                                 const std::string& root) {
  std::vector<std::string> files;
  const toml::node* imports = doc.Find({"imports"});
  if (imports == nullptr || !imports->is_array()) return files;
  for (const toml::node& n : *imports->as_array()) {
    if (!n.is_string()) continue;
    std::string pattern = ImportPattern(n.as_string()->get(), main_file, root);
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
  }
  return files;
}

toml::table& SubTable(toml::table& t, const std::string& key) {
  toml::node* n = t.get(key);
  if (n == nullptr || !n->is_table()) {
    t.insert_or_assign(key, toml::table{});
    n = t.get(key);
  }
  return *n->as_table();
}

class ContainerdConfig final : public EngineConfig {
 public:
  Engine engine() const override { return Engine::kContainerd; }
  std::string DefaultFile() const override { return "/etc/containerd/config.toml"; }
  std::string Service() const override { return "containerd"; }

  Result<Plan> PlanInstall(const InstallRequest& req) const override {
    ASSIGN_OR_RETURN(auto text, ReadOptionalFile(req.file));
    std::string main = text.value_or("");
    ASSIGN_OR_RETURN(TomlDoc doc, TomlDoc::Parse(main, req.file));
    bool empty = doc.root().empty();
    ASSIGN_OR_RETURN(Layout l, LayoutOf(doc, empty, req.file));
    Plan plan;
    const std::string source = SourceRuntime(doc, l);
    if (doc.Find(l.Runtime(source)) == nullptr) {
      plan.notes.push_back("no [" + FormatTomlPath(l.Runtime(source)) +
                           "] section to copy options from: containerd's runc defaults apply");
    } else {
      plan.notes.push_back("copied the options of runtime \"" + source + "\"");
    }
    if (auto dropin = DropInPath(doc, req.file, root())) {
      ASSIGN_OR_RETURN(std::string content, DropIn(doc, l, source, req));
      ASSIGN_OR_RETURN(auto existing, ReadOptionalFile(*dropin));
      if (existing != content) plan.changes.push_back({*dropin, content, false});
      plan.notes.push_back("drop-in " + *dropin + " (imported by " + req.file + ")");
      return plan;
    }
    std::string out = main;
    if (empty && main.find_first_not_of(" \t\r\n") == std::string::npos) {
      out = "version = 2\n";
    } else if (empty) {
      // Only comments: without a `version` line containerd would read the
      // result as a version 1 config (and Inspect refuse it). Marked, so
      // uninstall gives the comments back as they were.
      out = "version = 2  " + std::string(kAddedMarker) + "\n" + main;
    }
    auto set = [&](const TomlPath& table, const std::string& key,
                   const std::string& value) -> Status {
      bool changed = false;
      ASSIGN_OR_RETURN(out, SetKey(out, req.file, table, key, value, &changed));
      return Status::Ok();
    };
    RETURN_IF_ERROR(set(l.Runtime(kRuntimeName), "runtime_type", "\"io.containerd.runc.v2\""));
    for (const auto& [k, v] : ScalarEntries(doc, l.Runtime(source))) {
      if (k != "runtime_type") RETURN_IF_ERROR(set(l.Runtime(kRuntimeName), k, v));
    }
    for (const auto& [k, v] : ScalarEntries(doc, l.Options(source))) {
      if (k != "BinaryName") RETURN_IF_ERROR(set(l.Options(kRuntimeName), k, v));
    }
    RETURN_IF_ERROR(set(l.Options(kRuntimeName), "BinaryName", QuoteToml(req.runtime_path)));
    if (req.make_default) {
      RETURN_IF_ERROR(set(l.Containerd(), "default_runtime_name", QuoteToml(kRuntimeName)));
    }
    if (out != main) plan.changes.push_back({req.file, out});
    return plan;
  }

  Result<Plan> PlanUninstall(const InstallRequest& req) const override {
    Plan plan;
    ASSIGN_OR_RETURN(auto text, ReadOptionalFile(req.file));
    if (!text) return plan;
    ASSIGN_OR_RETURN(TomlDoc doc, TomlDoc::Parse(*text, req.file));
    if (auto dropin = DropInPath(doc, req.file, root())) {
      ASSIGN_OR_RETURN(auto existing, ReadOptionalFile(*dropin));
      if (existing) plan.changes.push_back({*dropin, std::nullopt, false});
    }
    bool changed = false;
    ASSIGN_OR_RETURN(std::string out, RemoveCtrsnapLines(*text, req.file, &changed));
    if (changed) plan.changes.push_back({req.file, out});
    if (!changed && doc.Find(Layout{2, "io.containerd.grpc.v1.cri"}.Runtime(kRuntimeName))) {
      plan.notes.push_back(req.file + " defines a ctrsnap runtime that ctrsnap did not add; "
                                      "remove it by hand");
    }
    return plan;
  }

  // The effective registration: containerd reads the main file, then each
  // import in order, a later CRI section replacing an earlier one.
  Result<Registration> Inspect(const std::string& file) const override {
    Registration r;
    ASSIGN_OR_RETURN(auto text, ReadOptionalFile(file));
    if (!text) return r;
    ASSIGN_OR_RETURN(TomlDoc doc, TomlDoc::Parse(*text, file));
    ASSIGN_OR_RETURN(Layout l, LayoutOf(doc, doc.root().empty(), file));
    auto consider = [&](const TomlDoc& d, const std::string& where) {
      if (d.Find(l.Cri()) == nullptr) return;
      r = Registration{};
      r.where = where;
      r.installed = d.Find(l.Runtime(kRuntimeName)) != nullptr;
      TomlPath bin = l.Options(kRuntimeName);
      bin.push_back("BinaryName");
      r.runtime_path = d.GetString(bin).value_or("");
      TomlPath def = l.Containerd();
      def.push_back("default_runtime_name");
      r.is_default = d.GetString(def).value_or("") == kRuntimeName;
    };
    consider(doc, file);
    for (const std::string& import : Imports(doc, file, root())) {
      ASSIGN_OR_RETURN(auto itext, ReadOptionalFile(import));
      if (!itext) continue;
      ASSIGN_OR_RETURN(TomlDoc idoc, TomlDoc::Parse(*itext, import));
      consider(idoc, import);
    }
    return r;
  }

  Status ValidateWithEngine(const std::string& file) const override {
    // Under another root the imports name that system's paths: no dump here.
    if (!root().empty() || FindInPath("containerd").empty()) return Status::Ok();
    ASSIGN_OR_RETURN(CommandResult r, RunCommand({"containerd", "--config", file, "config", "dump"}));
    if (r.exit_code != 0) {
      return Status::InvalidArgument("containerd --config " + file +
                                     " config dump rejects it: " + r.err);
    }
    return Status::Ok();
  }

 private:
  static Result<std::string> DropIn(const TomlDoc& doc, const Layout& l,
                                    const std::string& source, const InstallRequest& req) {
    toml::table cri;
    if (const toml::node* n = doc.Find(l.Cri()); n != nullptr && n->is_table()) {
      cri = *n->as_table();
    }
    toml::table& containerd = SubTable(cri, "containerd");
    toml::table& runtimes = SubTable(containerd, "runtimes");
    toml::table runtime;
    if (const toml::node* n = doc.Find(l.Runtime(source)); n != nullptr && n->is_table()) {
      runtime = *n->as_table();
    }
    runtime.insert_or_assign("runtime_type", "io.containerd.runc.v2");
    SubTable(runtime, "options").insert_or_assign("BinaryName", req.runtime_path);
    runtimes.insert_or_assign(kRuntimeName, std::move(runtime));
    if (req.make_default) containerd.insert_or_assign("default_runtime_name", kRuntimeName);
    toml::table plugins;
    plugins.insert(l.cri_plugin, std::move(cri));
    toml::table root;
    root.insert("version", l.version);
    root.insert("plugins", std::move(plugins));
    std::ostringstream os;
    os << kDropInHeader << "\n" << toml::toml_formatter{root} << "\n";
    return os.str();
  }
};

}  // namespace

std::unique_ptr<EngineConfig> MakeContainerdConfig() {
  return std::make_unique<ContainerdConfig>();
}

}  // namespace ctrsnap::install
