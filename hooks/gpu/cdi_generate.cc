#include "hooks/gpu/cdi_generate.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "common/file_util.h"
#include "hooks/gpu/gpu_legacy.h"
#include "hooks/gpu/ld_cache.h"

namespace ctrsnap::gpu {

namespace {

constexpr const char* kControlNodes[] = {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
                                         "/dev/nvidia-modeset"};
constexpr const char* kBinaries[] = {"nvidia-smi", "nvidia-debugdump", "nvidia-persistenced",
                                     "nvidia-cuda-mps-control", "nvidia-cuda-mps-server"};
const std::vector<std::string> kMountOptions = {"ro", "nosuid", "nodev", "bind"};

// ROOT + PATH, where PATH is absolute inside ROOT.
std::string InRoot(const std::string& root, const std::string& path) {
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return r == "/" ? path : r + path;
}

// Lexically cleans an absolute path: "//", "." and ".." (never above "/").
std::string CleanPath(const std::string& p) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string c = p.substr(start, end - start);
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!c.empty() && c != ".") {
      parts.push_back(std::move(c));
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& c : parts) out += "/" + c;
  return out.empty() ? "/" : out;
}

std::string DirName(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

// Follows symlinks of PATH (inside ROOT) as if ROOT were "/"; returns the path
// inside ROOT of a regular file, or an error.
Result<std::string> ResolveRegularFile(const std::string& root, std::string path) {
  for (int hops = 0; hops < 32; ++hops) {
    path = CleanPath(path);
    const std::string host = InRoot(root, path);
    struct stat st;
    if (::lstat(host.c_str(), &st) != 0) return Status::FromErrno(errno, "lstat", host);
    if (S_ISREG(st.st_mode)) return path;
    if (!S_ISLNK(st.st_mode)) return Status::InvalidArgument(host + ": not a regular file");
    char buf[4096];
    ssize_t n = ::readlink(host.c_str(), buf, sizeof(buf) - 1);
    if (n < 0) return Status::FromErrno(errno, "readlink", host);
    std::string target(buf, static_cast<size_t>(n));
    path = target[0] == '/' ? target : DirName(path) + "/" + target;
  }
  return Status::InvalidArgument(InRoot(root, path) + ": too many levels of symbolic links");
}

bool StartsWith(std::string_view s, std::string_view p) { return s.rfind(p, 0) == 0; }

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "opendir", dir);
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<HostDeviceNode> CharDevice(const std::string& root, const std::string& path) {
  struct stat st;
  if (::lstat(InRoot(root, path).c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) return std::nullopt;
  return HostDeviceNode{path, major(st.st_rdev), minor(st.st_rdev)};
}

// "Device Minor" -> "GPU UUID" from /proc/driver/nvidia/gpus/*/information.
std::map<uint32_t, std::string> GpuUuids(const std::string& root) {
  std::map<uint32_t, std::string> out;
  const std::string dir = InRoot(root, "/proc/driver/nvidia/gpus");
  auto entries = ListDir(dir);
  if (!entries.ok()) return out;
  for (const auto& e : *entries) {
    auto text = ReadFileToString(dir + "/" + e + "/information");
    if (!text.ok()) continue;
    std::string uuid;
    long minor_num = -1;
    size_t start = 0;
    while (start < text->size()) {
      size_t end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      std::string line = text->substr(start, end - start);
      start = end + 1;
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string key = line.substr(0, colon);
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      if (key == "GPU UUID") uuid = value;
      if (key == "Device Minor") minor_num = std::strtol(value.c_str(), nullptr, 10);
    }
    if (minor_num >= 0 && !uuid.empty() && ValidateDeviceName(uuid).ok()) {
      out[static_cast<uint32_t>(minor_num)] = uuid;
    }
  }
  return out;
}

}  // namespace

bool IsDriverLibraryName(std::string_view f) {
  auto so = f.find(".so");
  if (so == std::string_view::npos) return false;
  // ".so" must end the name or be followed by ".<version>".
  if (so + 3 != f.size() && f[so + 3] != '.') return false;
  std::string_view stem = f.substr(0, so);
  if (StartsWith(stem, "libnvidia-container")) return false;  // the toolkit's own libraries
  return stem == "libcuda" || stem == "libcudadebugger" || StartsWith(stem, "libnvidia-") ||
         stem == "libnvcuvid" || stem == "libnvoptix" || stem == "libGLX_nvidia" ||
         stem == "libEGL_nvidia" || stem == "libGLESv2_nvidia" || stem == "libGLESv1_CM_nvidia";
}

Result<HostGpuFiles> DiscoverHostGpu(const CdiGenerateOptions& opts) {
  HostGpuFiles out;
  const std::string& root = opts.root;
  struct stat rst;
  if (::stat(root.c_str(), &rst) != 0 || !S_ISDIR(rst.st_mode)) {
    return Status::NotFound("host root " + root + ": not a directory");
  }

  // Device nodes.
  auto dev = ListDir(InRoot(root, "/dev"));
  const auto uuids = GpuUuids(root);
  if (dev.ok()) {
    for (const auto& name : *dev) {
      if (!StartsWith(name, "nvidia") || name.size() == 6) continue;
      std::string digits = name.substr(6);
      if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 4) continue;
      auto node = CharDevice(root, "/dev/" + name);
      if (!node) continue;
      HostGpu g;
      g.index = std::stoi(digits);
      g.node = *node;
      if (auto it = uuids.find(node->minor); it != uuids.end()) g.uuid = it->second;
      out.gpus.push_back(std::move(g));
    }
  }
  std::sort(out.gpus.begin(), out.gpus.end(),
            [](const HostGpu& a, const HostGpu& b) { return a.index < b.index; });
  for (const char* p : kControlNodes) {
    if (auto node = CharDevice(root, p)) out.control_nodes.push_back(*node);
  }

  // Library names: the ld cache, then --lib-dir.
  std::vector<std::string> names;  // container paths
  auto cache = ReadFileToString(InRoot(root, "/etc/ld.so.cache"));
  if (cache.ok()) {
    auto entries = ParseLdCache(*cache);
    if (entries.ok()) {
      for (const auto& e : *entries) {
        if (IsNativeLibrary(e.flags) && IsDriverLibraryName(e.soname) && !e.path.empty() &&
            e.path[0] == '/') {
          names.push_back(e.path);
        }
      }
    } else {
      out.notes.push_back(entries.status().ToString());
    }
  } else {
    out.notes.push_back("no linker cache: " + cache.status().ToString());
  }
  for (const auto& d : opts.lib_dirs) {
    if (d.empty() || d[0] != '/') return Status::InvalidArgument("--lib-dir must be absolute: " + d);
    auto files = ListDir(InRoot(root, d));
    if (!files.ok()) {
      out.notes.push_back("--lib-dir " + d + ": " + files.status().ToString());
      continue;
    }
    for (const auto& f : *files) {
      if (IsDriverLibraryName(f)) names.push_back(CleanPath(d + "/" + f));
    }
  }
  std::set<std::string> seen;
  std::set<std::string> dirs;
  auto add_lib = [&](const std::string& container, const std::string& real) {
    if (!seen.insert(container).second) return;
    out.libraries.emplace_back(container, real);
    dirs.insert(DirName(container));
  };
  for (const auto& name : names) {
    auto real = ResolveRegularFile(root, name);
    if (!real.ok()) {
      out.notes.push_back("skipped " + name + ": " + real.status().ToString());
      continue;
    }
    add_lib(*real, *real);
    add_lib(CleanPath(name), *real);
  }
  out.library_dirs.assign(dirs.begin(), dirs.end());

  // Binaries.
  std::vector<std::string> bin_dirs = opts.bin_dirs;
  const std::string path = opts.search_path.empty() ? kDefaultSearchPath : opts.search_path;
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    if (end > start && path[start] == '/') bin_dirs.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  for (const char* bin : kBinaries) {
    for (const auto& d : bin_dirs) {
      std::string p = CleanPath(d + "/" + bin);
      auto real = ResolveRegularFile(root, p);
      if (real.ok() && ::access(InRoot(root, *real).c_str(), X_OK) == 0) {
        out.binaries.push_back(p);
        break;
      }
    }
  }
  if (out.gpus.empty()) out.notes.push_back("no /dev/nvidia<N> character device under " + root);
  if (out.libraries.empty()) out.notes.push_back("no NVIDIA driver library found");
  return out;
}

Result<CdiSpec> BuildNvidiaCdiSpec(const HostGpuFiles& files, const CdiGenerateOptions& opts) {
  if (files.gpus.empty()) return Status::NotFound("no NVIDIA GPU device node found under " + opts.root);
  CdiSpec spec;
  spec.version = opts.version;
  spec.kind = "nvidia.com/gpu";
  spec.vendor = "nvidia.com";
  spec.cls = "gpu";
  auto node = [&](const HostDeviceNode& n) {
    CdiDeviceNode d;
    d.path = n.path;
    d.host_path = InRoot(opts.root, n.path);
    return d;
  };
  CdiDevice all;
  all.name = "all";
  for (const auto& g : files.gpus) {
    CdiDevice d;
    d.name = std::to_string(g.index);
    d.edits.device_nodes.push_back(node(g.node));
    spec.devices.push_back(d);
    if (!g.uuid.empty()) {
      d.name = g.uuid;
      spec.devices.push_back(d);
    }
    all.edits.device_nodes.push_back(node(g.node));
  }
  spec.devices.push_back(std::move(all));

  auto& e = spec.edits;
  e.env.push_back("NVIDIA_VISIBLE_DEVICES=void");
  for (const auto& n : files.control_nodes) e.device_nodes.push_back(node(n));
  for (const auto& [container, real] : files.libraries) {
    e.mounts.push_back({InRoot(opts.root, real), container, kMountOptions, ""});
  }
  for (const auto& b : files.binaries) {
    auto real = ResolveRegularFile(opts.root, b);
    e.mounts.push_back({InRoot(opts.root, real.ok() ? *real : b), b, kMountOptions, ""});
  }
  if (!opts.ldcache_hook.empty() && !files.library_dirs.empty()) {
    CdiHook h;
    h.hook_name = "createContainer";
    h.path = opts.ldcache_hook;
    h.args = {std::string(BaseName(opts.ldcache_hook)), "gpu", "hook", "update-ldcache"};
    for (const auto& d : files.library_dirs) {
      h.args.push_back("--folder");
      h.args.push_back(d);
    }
    e.hooks.push_back(std::move(h));
  }
  // Round-trip through the validator: what we write must load.
  return CdiSpecFromJson(CdiSpecToJson(spec), "generated");
}

}  // namespace ctrsnap::gpu
