// CdiRegistry: the CDI specs found in the spec directories, indexed by
// qualified device name, as the reference library's Cache resolves them.
//
//   - Each directory is scanned non-recursively for *.json and *.yaml files,
//     in name order. A file that fails to parse or validate is skipped and its
//     error recorded (errors()); a missing directory is not an error.
//   - Directories later in the list have a higher priority: a device defined
//     in a later directory replaces one of the same name from an earlier one.
//     Two definitions of the same device at the same priority conflict: the
//     device is removed and the conflict recorded.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "hooks/gpu/cdi_spec.h"

namespace ctrsnap::gpu {

class CdiRegistry {
 public:
  static CdiRegistry Load(const std::vector<std::string>& spec_dirs);
  // For tests and tools: a registry of already-parsed specs, all at priority 0.
  static CdiRegistry FromSpecs(std::vector<CdiSpec> specs);

  // Qualified names of every device, sorted.
  std::vector<std::string> DeviceNames() const;
  bool Has(const std::string& qualified) const { return devices_.count(qualified) != 0; }
  // Errors met while loading, one sentence each ("PATH: reason").
  const std::vector<std::string>& errors() const { return errors_; }

  // The edits to apply for DEVICES (qualified names, in request order): for
  // each spec that provides a requested device, its spec-level edits once,
  // then each device's own edits. Fails naming every unresolved device.
  Result<CdiContainerEdits> EditsFor(const std::vector<std::string>& devices) const;

 private:
  struct Entry {
    const CdiSpec* spec = nullptr;
    const CdiDevice* device = nullptr;
    size_t priority = 0;
  };
  void Add(std::unique_ptr<CdiSpec> spec, size_t priority);
  void DropConflicts();

  std::vector<std::unique_ptr<CdiSpec>> specs_;
  std::map<std::string, Entry> devices_;
  std::map<std::string, std::vector<std::string>> conflicts_;  // name -> paths
  std::vector<std::string> errors_;
};

}  // namespace ctrsnap::gpu
