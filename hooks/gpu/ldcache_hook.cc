#include "hooks/gpu/ldcache_hook.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "common/file_util.h"

namespace ctrsnap::gpu {

using nlohmann::json;

Result<std::string> RootfsFromState(std::string_view state) {
  json s = json::parse(state, nullptr, false);
  if (s.is_discarded() || !s.is_object()) return Status::InvalidArgument("OCI state: malformed JSON");
  auto b = s.find("bundle");
  if (b == s.end() || !b->is_string() || b->get<std::string>().empty() ||
      b->get<std::string>()[0] != '/') {
    return Status::InvalidArgument("OCI state: no absolute \"bundle\"");
  }
  const std::string bundle = b->get<std::string>();
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(bundle + "/config.json"));
  json cfg = json::parse(text, nullptr, false);
  if (cfg.is_discarded() || !cfg.is_object()) {
    return Status::InvalidArgument(bundle + "/config.json: malformed JSON");
  }
  auto root = cfg.find("root");
  if (root == cfg.end() || !root->is_object() || !root->contains("path") ||
      !(*root)["path"].is_string()) {
    return Status::InvalidArgument(bundle + "/config.json: no root.path");
  }
  std::string path = (*root)["path"].get<std::string>();
  if (path.empty()) return Status::InvalidArgument(bundle + "/config.json: empty root.path");
  return path[0] == '/' ? path : bundle + "/" + path;
}

namespace {

// mkdir NAME in DIRFD unless it exists, then opens it without following symlinks.
Result<UniqueFd> OpenOrMakeDir(int dirfd, const char* name) {
  if (::mkdirat(dirfd, name, 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "mkdir", name);
  }
  return OpenBeneath(dirfd, name, O_RDONLY | O_DIRECTORY);
}

}  // namespace

Status UpdateContainerLdCache(const std::string& rootfs, const std::vector<std::string>& folders,
                              const std::string& ldconfig) {
  if (folders.empty()) return Status::Ok();
  for (const auto& f : folders) {
    if (f.empty() || f[0] != '/' || f.find('\n') != std::string::npos) {
      return Status::InvalidArgument("update-ldcache: folder must be an absolute path: " + f);
    }
  }
  UniqueFd root(::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Status::FromErrno(errno, "open container root", rootfs);
  ASSIGN_OR_RETURN(UniqueFd etc, OpenOrMakeDir(root.get(), "etc"));
  ASSIGN_OR_RETURN(UniqueFd confd, OpenOrMakeDir(etc.get(), "ld.so.conf.d"));
  std::string text = "# Written by ctrsnap's GPU hook: NVIDIA driver libraries mounted from the host.\n";
  for (const auto& f : folders) text += f + "\n";
  {
    const char* name = "00-ctrsnap-gpu.conf";
    UniqueFd fd(::openat(confd.get(), name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) return Status::FromErrno(errno, "create", rootfs + "/" + kLdConfPath);
    RETURN_IF_ERROR(WriteAll(fd.get(), text).WithContext(rootfs + "/" + kLdConfPath));
  }

  std::vector<std::string> args = {ldconfig, "-r", rootfs};
  args.insert(args.end(), folders.begin(), folders.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno(errno, "fork");
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    char* envp[] = {nullptr};
    ::execve(argv[0], argv.data(), envp);
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "waitpid", ldconfig);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Internal(ldconfig + " -r " + rootfs + " failed (status " +
                            std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
  }
  return Status::Ok();
}

}  // namespace ctrsnap::gpu
