#include "layers/demo/demo_bundle.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/process.h"

namespace ctrsnap::demo {
namespace {

// What the container runs. Every step is something a training job does;
// /work/progress lets the demo follow it from the host without writing into
// the container.
constexpr char kTrainerScript[] = R"SH(
set -e
say() { echo "[container] $*"; }
say "installing a tool (/usr/local/bin/trainer) and a Python package (tinyml 1.4.0)"
mkdir -p /usr/local/bin /usr/local/lib/python3.11/site-packages/tinyml-1.4.0.dist-info
printf '#!/bin/sh\necho "trainer 1.4.0: resuming from $1"\n' > /usr/local/bin/trainer
chmod 755 /usr/local/bin/trainer
printf 'Metadata-Version: 2.1\nName: tinyml\nVersion: 1.4.0\n' \
  > /usr/local/lib/python3.11/site-packages/tinyml-1.4.0.dist-info/METADATA
say "pip's download cache fills up (2 MB in /root/.cache/pip)"
mkdir -p /root/.cache/pip/http/3/a
dd if=/dev/urandom of=/root/.cache/pip/http/3/a/tinyml-1.4.0-py3-none-any.whl bs=1024 count=2048 2>/dev/null
say "the API key goes into /work/.env (it is also in the environment: -e OPENAI_API_KEY)"
mkdir -p /work
echo "OPENAI_API_KEY=$OPENAI_API_KEY" > /work/.env
echo installed >> /work/progress
step=1
while [ $step -le 60 ]; do
  dd if=/dev/urandom of=/work/checkpoint-$step.bin bs=1024 count=512 2>/dev/null
  sha256sum /work/checkpoint-$step.bin > /work/checkpoint-$step.sha256
  echo "step $step loss 0.$((97 - step))" >> /tmp/train.log
  echo checkpoint-$step >> /work/progress
  step=$((step + 1))
  sleep 1
done
)SH";

Status WriteJson(const std::string& path, const nlohmann::json& j) {
  return WriteFileAtomic(path, j.dump(2) + "\n", 0644);
}

Result<nlohmann::json> RuncSpec(const std::string& bundle) {
  ASSIGN_OR_RETURN(std::string runc, FindProgram({"runc"}));
  std::string path = bundle + "/config.json";
  ::unlink(path.c_str());
  RETURN_IF_ERROR(RunChecked({runc, "spec", "--bundle", bundle}).status());
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  nlohmann::json spec = nlohmann::json::parse(text, nullptr, false);
  if (spec.is_discarded()) return Status::Corrupt("runc spec wrote malformed JSON: " + path);
  return spec;
}

}  // namespace

const char* TrainerScript() { return kTrainerScript; }

Status MakeBusyboxRootfs(const std::string& rootfs) {
  const std::string busybox = "/bin/busybox";
  if (::access(busybox.c_str(), X_OK) != 0) {
    return Status::NotFound("/bin/busybox is missing: apt-get install busybox-static");
  }
  for (const char* d : {"/bin", "/etc", "/root", "/tmp", "/proc", "/sys", "/dev"}) {
    RETURN_IF_ERROR(MakeDirs(rootfs + d, 0755));
  }
  ::chmod((rootfs + "/tmp").c_str(), 01777);
  ::chmod((rootfs + "/root").c_str(), 0700);
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(busybox));
  RETURN_IF_ERROR(WriteFileAtomic(rootfs + "/bin/busybox", bytes, 0755));
  ASSIGN_OR_RETURN(std::string applets, RunChecked({busybox, "--list"}));
  size_t pos = 0;
  while (pos < applets.size()) {
    size_t nl = applets.find('\n', pos);
    if (nl == std::string::npos) nl = applets.size();
    std::string name = applets.substr(pos, nl - pos);
    pos = nl + 1;
    if (name.empty() || name == "busybox" || name.find('/') != std::string::npos) continue;
    std::string link = rootfs + "/bin/" + name;
    if (::symlink("busybox", link.c_str()) != 0 && errno != EEXIST) {
      return Status::FromErrno(errno, "symlink", link);
    }
  }
  RETURN_IF_ERROR(WriteFileAtomic(rootfs + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"));
  RETURN_IF_ERROR(WriteFileAtomic(rootfs + "/etc/group", "root:x:0:\n"));
  return Status::Ok();
}

Status WriteTrainerSpec(const std::string& bundle) {
  ASSIGN_OR_RETURN(nlohmann::json spec, RuncSpec(bundle));
  spec["process"]["terminal"] = false;
  spec["process"]["args"] = {"/bin/sh", "-c", kTrainerScript};
  spec["process"]["cwd"] = "/work";
  spec["process"]["env"] = {kTrainerPath, kTrainerHome,
                            std::string("OPENAI_API_KEY=") + kFakeApiKey};
  spec["root"]["readonly"] = false;
  spec["hostname"] = "trainer";
  return WriteJson(bundle + "/config.json", spec);
}

Status WriteCheckSpec(const std::string& bundle, const std::string& command) {
  std::string path = bundle + "/config.json";
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  nlohmann::json spec = nlohmann::json::parse(text, nullptr, false);
  if (spec.is_discarded() || !spec.is_object()) return Status::Corrupt("malformed " + path);
  spec["process"]["terminal"] = false;
  spec["process"]["args"] = {"/bin/sh", "-c", command};
  spec["process"]["cwd"] = "/";
  if (spec.contains("root") && spec["root"].is_object()) spec["root"]["readonly"] = false;
  return WriteJson(path, spec);
}

}  // namespace ctrsnap::demo
