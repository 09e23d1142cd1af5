// Registry pushes through skopeo (`skopeo copy oci:DIR:REF docker://DEST`).
// --preserve-digests keeps the layers exactly as written (skopeo would
// otherwise re-compress uncompressed layers).
#include "layers/engines/engine.h"
#include "layers/engines/process.h"

namespace ctrsnap::engines {
namespace {

bool IsLoopbackRegistry(const std::string& dest) {
  std::string host = dest.substr(0, dest.find('/'));
  if (host.rfind("[::1]", 0) == 0) return true;
  host = host.substr(0, host.find(':'));
  return host == "127.0.0.1" || host == "localhost";
}

}  // namespace

Status PushOciLayout(const std::string& layout_dir, const std::string& ref_name,
                     const std::string& dest) {
  if (dest.empty() || dest.find('/') == std::string::npos) {
    return Status::InvalidArgument("--push needs REGISTRY/REPO[:TAG], got '" + dest + "'");
  }
  ASSIGN_OR_RETURN(std::string bin, FindProgram({"skopeo", "/usr/bin/skopeo"}));
  std::vector<std::string> argv = {bin, "copy", "--preserve-digests"};
  if (IsLoopbackRegistry(dest)) argv.push_back("--dest-tls-verify=false");
  argv.push_back("oci:" + layout_dir + (ref_name.empty() ? "" : ":" + ref_name));
  argv.push_back("docker://" + dest);
  return RunChecked(argv).status().WithContext("push " + dest);
}

}  // namespace ctrsnap::engines
