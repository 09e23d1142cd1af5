#include "layers/engines/deliver.h"

#include <unistd.h>

#include "common/file_util.h"
#include "layers/engines/engine.h"
#include "layers/lib/oci_layout.h"

namespace ctrsnap::engines {
namespace {

bool IsArchivePath(const std::string& p) {
  return p.size() > 4 && p.compare(p.size() - 4, 4, ".tar") == 0;
}

std::string ScratchName(const std::string& scratch, const std::string& what) {
  return scratch + "/" + what + "-" + std::to_string(::getpid());
}

}  // namespace

bool NeedsAllBlobs(const DeliveryTargets& t) {
  return !t.outputs.empty() || !t.push.empty() || (!t.load.empty() && t.load != "docker");
}

Result<std::vector<std::string>> Deliver(const layers::BlobStore& store,
                                         const layers::Image& image, const std::string& tag,
                                         const DeliveryTargets& t, const std::string& scratch) {
  std::vector<std::string> done;
  for (const auto& out : t.outputs) {
    if (IsArchivePath(out)) {
      RETURN_IF_ERROR(layers::WriteDualArchive(store, image, tag, out));
      done.push_back("archive " + out);
    } else {
      RETURN_IF_ERROR(layers::WriteOciLayout(store, image, tag, out));
      done.push_back("oci-layout " + out);
    }
  }
  if (!t.load.empty()) {
    ASSIGN_OR_RETURN(auto engine, NewEngine(t.load));
    std::string tmp = ScratchName(scratch, "load") + ".tar";
    layers::ArchiveOptions ao;
    ao.allow_missing_layers = t.load == "docker";
    Status st = layers::WriteDualArchive(store, image, tag, tmp, ao);
    if (st.ok()) st = engine->Load(tmp).WithContext("load into " + t.load);
    ::unlink(tmp.c_str());
    RETURN_IF_ERROR(st);
    done.push_back("loaded into " + t.load + " as " + tag);
  }
  if (!t.push.empty()) {
    std::string dir = ScratchName(scratch, "push");
    Status st = layers::WriteOciLayout(store, image, tag, dir);
    if (st.ok()) st = PushOciLayout(dir, tag, t.push);
    (void)RemoveTree(dir);
    RETURN_IF_ERROR(st);
    done.push_back("pushed " + t.push);
  }
  return done;
}

Status FetchMissingBlobs(const layers::BlobStore& store, const layers::Image& image,
                         const std::string& engine_name, const std::string& base_ref,
                         const std::string& scratch) {
  bool missing = false;
  for (const auto& l : image.layers) missing = missing || !store.Has(l.digest);
  if (!missing) return Status::Ok();
  if (engine_name.empty() || base_ref.empty()) {
    return Status::NotFound("base image layers are not available locally and no engine has them");
  }
  ASSIGN_OR_RETURN(auto engine, NewEngine(engine_name));
  std::string tmp = ScratchName(scratch, "base") + ".tar";
  Status st = engine->ExportImage(base_ref, tmp);
  if (st.ok()) st = layers::ImportDockerArchive(tmp, store).status();
  ::unlink(tmp.c_str());
  RETURN_IF_ERROR(st.WithContext("fetch base " + base_ref + " from " + engine_name));
  for (const auto& l : image.layers) {
    if (!store.Has(l.digest)) {
      return Status::NotFound("layer " + l.digest + " of " + base_ref + " is still missing");
    }
  }
  return Status::Ok();
}

}  // namespace ctrsnap::engines
