#include "hooks/gpu/cdi_apply.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>

#include "hooks/gpu/oci_spec_edit.h"

namespace ctrsnap::gpu {

using nlohmann::json;

namespace {

// process.user.uid / gid when they are numbers > 0.
std::optional<uint32_t> SpecUserId(const json& spec, const char* key) {
  auto p = spec.find("process");
  if (p == spec.end() || !p->is_object()) return std::nullopt;
  auto u = p->find("user");
  if (u == p->end() || !u->is_object()) return std::nullopt;
  auto v = u->find(key);
  if (v == u->end() || !v->is_number_integer()) return std::nullopt;
  int64_t id = v->get<int64_t>();
  if (id <= 0 || id > int64_t{UINT32_MAX}) return std::nullopt;
  return static_cast<uint32_t>(id);
}

// Fills type, major and minor from the host node when the spec leaves them out.
Status FillFromHost(CdiDeviceNode* n) {
  if (n->host_path.empty()) n->host_path = n->path;
  if (!n->type.empty() && (n->major != 0 || n->type == "p")) return Status::Ok();
  struct stat st;
  if (::lstat(n->host_path.c_str(), &st) != 0) {
    return Status::FromErrno(errno, "stat CDI host device", n->host_path);
  }
  std::string type;
  if (S_ISBLK(st.st_mode)) {
    type = "b";
  } else if (S_ISCHR(st.st_mode)) {
    type = "c";
  } else if (S_ISFIFO(st.st_mode)) {
    type = "p";
  } else {
    return Status::InvalidArgument("CDI host device " + n->host_path + ": not a device node");
  }
  if (n->type.empty()) {
    n->type = type;
  } else if (n->type != type && !(n->type == "u" && type == "c")) {
    return Status::InvalidArgument("CDI device " + n->path + " (host " + n->host_path +
                                   "): type " + n->type + " but the host node is " + type);
  }
  if (n->major == 0 && n->type != "p") {
    n->major = major(st.st_rdev);
    n->minor = minor(st.st_rdev);
  }
  return Status::Ok();
}

}  // namespace

Result<CdiApplied> ApplyCdiEdits(json* spec, const CdiContainerEdits& edits) {
  if (spec == nullptr || !spec->is_object()) {
    return Status::InvalidArgument("OCI spec: not a JSON object");
  }
  CdiApplied out;
  RETURN_IF_ERROR(SetProcessEnv(spec, edits.env));
  for (const auto& e : edits.env) out.env_names.emplace_back(EnvName(e));

  const auto uid = SpecUserId(*spec, "uid");
  const auto gid = SpecUserId(*spec, "gid");
  for (CdiDeviceNode n : edits.device_nodes) {
    RETURN_IF_ERROR(FillFromHost(&n));
    json dev = {{"path", n.path}, {"type", n.type}, {"major", n.major}, {"minor", n.minor}};
    if (n.file_mode) dev["fileMode"] = *n.file_mode;
    if (n.uid) {
      dev["uid"] = *n.uid;
    } else if (uid) {
      dev["uid"] = *uid;
    }
    if (n.gid) {
      dev["gid"] = *n.gid;
    } else if (gid) {
      dev["gid"] = *gid;
    }
    RETURN_IF_ERROR(AddLinuxDevice(spec, std::move(dev)));
    if (n.type == "b" || n.type == "c" || n.type == "u") {
      std::string access = n.permissions;
      if (access.empty()) {
        access = "rwm";
      } else if (access == "none") {
        access.clear();
      }
      RETURN_IF_ERROR(AddCgroupDeviceRule(spec, n.type == "b" ? "b" : "c", n.major, n.minor, access));
    }
    out.device_paths.push_back(n.path);
  }

  if (!edits.mounts.empty()) {
    for (const auto& m : edits.mounts) {
      json mount = {{"source", m.host_path}, {"destination", m.container_path}};
      if (!m.options.empty()) mount["options"] = m.options;
      if (!m.type.empty()) mount["type"] = m.type;
      RETURN_IF_ERROR(AddMount(spec, std::move(mount)));
      out.mount_paths.push_back(m.container_path);
      out.mount_sources.push_back(m.host_path);
    }
    RETURN_IF_ERROR(SortMounts(spec));
  }

  for (const auto& h : edits.hooks) {
    json hook = {{"path", h.path}};
    if (!h.args.empty()) hook["args"] = h.args;
    if (!h.env.empty()) hook["env"] = h.env;
    if (h.timeout) hook["timeout"] = *h.timeout;
    RETURN_IF_ERROR(AddHook(spec, h.hook_name, std::move(hook)));
    out.hooks.push_back(h.hook_name + ":" + h.path);
  }

  for (uint32_t g : edits.additional_gids) {
    if (g != 0) RETURN_IF_ERROR(AddAdditionalGid(spec, g));
  }
  if (edits.has_intel_rdt) {
    out.notes.push_back("CDI intelRdt edits are not applied (ctrsnap does not manage RDT)");
  }
  if (edits.has_net_devices) {
    out.notes.push_back("CDI netDevices edits are not applied (ctrsnap does not move network devices)");
  }
  return out;
}

}  // namespace ctrsnap::gpu
