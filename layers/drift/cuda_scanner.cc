// CUDA-family libraries (CUDA runtime and math libraries, cuDNN, NCCL,
// TensorRT) found by soname and version in their file names, e.g.
// libcudart.so.12.2.140, libcudnn.so.8.9.7, libnccl.so.2.18.3; and the
// version files of toolkits and headers when present (cuda/version.json,
// cudnn_version.h, nccl.h, NvInferVersion.h).
//
// The driver (libcuda.so.*, libnvidia-*) is not listed: it comes from the
// host at run time, not from the image.
#include <dirent.h>
#include <fcntl.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "layers/drift/root_fs.h"
#include "layers/drift/scanners.h"

namespace ctrsnap::drift {
namespace {

constexpr std::string_view kLibPrefixes[] = {
    "cudart", "cudnn",  "nccl",     "cublas", "cufft",    "curand", "cusparse", "cusolver",
    "nvrtc",  "nvjitlink", "nvinfer", "nvonnxparser", "nvparsers", "cupti", "nvtoolsext",
    "npp",    "nvjpeg", "cutensor", "cufile", "nvblas"};

std::string Lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return o;
}

bool ValidVersion(std::string_view v) {
  if (v.empty() || v.front() == '.' || v.back() == '.') return false;
  for (char c : v) {
    if (!((c >= '0' && c <= '9') || c == '.')) return false;
  }
  return true;
}

size_t Dots(std::string_view v) {
  size_t n = 0;
  for (char c : v) n += c == '.';
  return n;
}

// Reads "#define NAME value" from a header.
std::string Define(std::string_view text, std::string_view name) {
  std::string key = "#define " + std::string(name);
  size_t p = 0;
  while ((p = text.find(key, p)) != std::string_view::npos) {
    size_t q = p + key.size();
    p = q;
    if (q >= text.size() || (text[q] != ' ' && text[q] != '\t')) continue;
    while (q < text.size() && (text[q] == ' ' || text[q] == '\t')) ++q;
    size_t e = q;
    while (e < text.size() && text[e] >= '0' && text[e] <= '9') ++e;
    if (e > q) return std::string(text.substr(q, e - q));
  }
  return {};
}

void AddHeaderVersion(int rootfd, const std::string& dir, const char* file, const char* item_name,
                      const char* major, const char* minor, const char* patch, Inventory& inv) {
  std::string path = dir + "/" + file;
  auto text = ReadFileInRoot(rootfd, path, 1u << 20);
  if (!text.ok()) return;
  std::string a = Define(*text, major), b = Define(*text, minor), c = Define(*text, patch);
  if (a.empty()) return;
  Item it;
  it.ecosystem = kEcoCuda;
  it.name = item_name;
  it.version = a + (b.empty() ? "" : "." + b) + (c.empty() ? "" : "." + c);
  it.location = dir;
  it.path = path;
  inv.items.push_back(std::move(it));
}

}  // namespace

bool MatchCudaLibrary(std::string_view file_name, std::string* name, std::string* version) {
  if (!file_name.starts_with("lib")) return false;
  size_t so = file_name.find(".so.");
  if (so == std::string_view::npos) return false;
  std::string_view base = file_name.substr(0, so);
  std::string_view ver = file_name.substr(so + 4);
  if (!ValidVersion(ver)) return false;
  std::string lower = Lower(base.substr(3));
  bool match = false;
  for (std::string_view p : kLibPrefixes) {
    if (lower.starts_with(p)) {
      match = true;
      break;
    }
  }
  if (!match) return false;
  *name = std::string(base);
  *version = std::string(ver);
  return true;
}

void AddCudaLibraries(const std::vector<std::string>& files, Inventory& inv) {
  // Per (directory, library): the file name with the most precise version
  // (libcudart.so.12.2.140 over a libcudart.so.12 copy).
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>> best;
  for (const auto& rel : files) {
    size_t slash = rel.rfind('/');
    std::string dir = slash == std::string::npos ? "" : rel.substr(0, slash);
    std::string file = slash == std::string::npos ? rel : rel.substr(slash + 1);
    std::string name, version;
    if (!MatchCudaLibrary(file, &name, &version)) continue;
    auto& slot = best[{dir, name}];
    if (slot.first.empty() || Dots(version) > Dots(slot.first)) slot = {version, rel};
  }
  for (const auto& [key, v] : best) {
    Item it;
    it.ecosystem = kEcoCuda;
    it.name = key.second;
    it.version = v.first;
    it.location = "/" + key.first;
    it.path = "/" + v.second;
    inv.items.push_back(std::move(it));
  }
}

void ScanCudaHeaders(int rootfd, Inventory& inv) {
  // Toolkits: /usr/local/cuda-X.Y (and /usr/local/cuda when it is a directory).
  std::vector<std::string> toolkits;
  if (auto local = OpenInRoot(rootfd, "/usr/local", O_RDONLY | O_DIRECTORY); local.ok()) {
    (void)ForEachEntry(local->get(), [&](std::string_view n, unsigned char type) {
      if (type == DT_DIR && n.starts_with("cuda")) toolkits.push_back("/usr/local/" + std::string(n));
    });
  }
  std::vector<std::string> include_dirs = {"/usr/include", "/usr/include/x86_64-linux-gnu",
                                           "/usr/include/aarch64-linux-gnu"};
  for (const auto& tk : toolkits) {
    include_dirs.push_back(tk + "/include");
    auto text = ReadFileInRoot(rootfd, tk + "/version.json", 1u << 20);
    std::string version;
    if (text.ok()) {
      auto j = nlohmann::json::parse(*text, nullptr, false);
      if (j.is_object() && j.contains("cuda") && j["cuda"].is_object()) {
        auto v = j["cuda"].find("version");
        if (v != j["cuda"].end() && v->is_string()) version = *v;
      }
    } else if (auto txt = ReadFileInRoot(rootfd, tk + "/version.txt", 4096); txt.ok()) {
      // CUDA <= 10: "CUDA Version 10.2.89"
      size_t p = txt->find("Version ");
      if (p != std::string::npos) {
        size_t b = p + 8, e = b;
        while (e < txt->size() && ((*txt)[e] == '.' || ((*txt)[e] >= '0' && (*txt)[e] <= '9'))) ++e;
        version = txt->substr(b, e - b);
      }
    }
    if (!version.empty()) {
      Item it;
      it.ecosystem = kEcoCuda;
      it.name = "cuda-toolkit";
      it.version = version;
      it.location = tk;
      it.path = tk + (text.ok() ? "/version.json" : "/version.txt");
      inv.items.push_back(std::move(it));
    }
  }
  for (const auto& dir : include_dirs) {
    AddHeaderVersion(rootfd, dir, "cudnn_version.h", "cudnn-header", "CUDNN_MAJOR", "CUDNN_MINOR",
                     "CUDNN_PATCHLEVEL", inv);
    AddHeaderVersion(rootfd, dir, "nccl.h", "nccl-header", "NCCL_MAJOR", "NCCL_MINOR",
                     "NCCL_PATCH", inv);
    AddHeaderVersion(rootfd, dir, "NvInferVersion.h", "tensorrt-header", "NV_TENSORRT_MAJOR",
                     "NV_TENSORRT_MINOR", "NV_TENSORRT_PATCH", inv);
  }
}

}  // namespace ctrsnap::drift
