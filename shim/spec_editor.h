// SpecEditor: one step that edits a container's OCI spec before the real
// runtime sees it. ctrsnap-runtime runs the editors in order on `create` and
// `run` (see DefaultSpecEditors()); each edits only the keys it owns and must
// be idempotent, because engines may hand the same bundle to create twice and
// `docker start` of a stopped container creates it again.
//
// Where to add a step: GPU passthrough (nvidia legacy hook, CDI containerEdits)
// is a SpecEditor too; append it in DefaultSpecEditors() in spec_editors.cc.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/status.h"

namespace ctrsnap::shim {

// What an editor may know about the container being created.
struct SpecContext {
  std::string id;
  std::string bundle;       // absolute
  std::string state_dir;    // STATE of this container
  std::string command;      // "create" or "run"
  std::string hook_binary;  // absolute path of ctrsnap-hook
  const Config* config = nullptr;
};

class SpecEditor {
 public:
  virtual ~SpecEditor() = default;
  virtual std::string_view name() const = 0;
  // Edits SPEC in place. REQUIRES: SPEC is an object.
  virtual Status Edit(nlohmann::json& spec, const SpecContext& ctx) const = 0;
};

// Adds ctrsnap-hook to the spec: `poststop` always (flush, seal, record the
// exit); for `run` also `createRuntime` (seal the setup generation, since run
// gives the wrapper no moment between create and start).
class CtrsnapHooksEditor final : public SpecEditor {
 public:
  std::string_view name() const override { return "ctrsnap-hooks"; }
  Status Edit(nlohmann::json& spec, const SpecContext& ctx) const override;
};

std::vector<std::unique_ptr<SpecEditor>> DefaultSpecEditors();

// Runs EDITORS in order; an error names the editor.
Status ApplySpecEditors(const std::vector<std::unique_ptr<SpecEditor>>& editors,
                        nlohmann::json& spec, const SpecContext& ctx);

}  // namespace ctrsnap::shim
