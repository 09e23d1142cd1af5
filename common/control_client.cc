#include "common/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/file_util.h"
#include "common/state_layout.h"
#include "common/unique_fd.h"

namespace ctrsnap {

Result<nlohmann::json> ControlCall(const std::string& state_dir, nlohmann::json request,
                                   int timeout_ms) {
  const std::string path = layout::ControlSocketPath(state_dir);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("control socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Status::FromErrno(errno, "socket");
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    Status st = Status::FromErrno(errno, "connect", path);
    return st.WithContext("is ctrsnap-fs running on " + state_dir + "?");
  }
  request["v"] = kControlProtocolVersion;
  // dump() throws on invalid UTF-8 (a label typed by a user): replace it; the
  // daemon checks labels anyway.
  std::string line =
      request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // send(MSG_NOSIGNAL): a daemon that refuses us (wrong uid, busy) replies and
  // hangs up, possibly before we finish writing; that must be an EPIPE here,
  // not a SIGPIPE that kills the caller, and its reply is still read below.
  for (std::string_view rest = line; !rest.empty();) {
    ssize_t n = ::send(fd.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) break;
    if (n < 0) return Status::FromErrno(errno == EAGAIN ? ETIMEDOUT : errno, "send request", path);
    rest.remove_prefix(static_cast<size_t>(n));
  }

  std::string reply;
  char buf[4096];
  while (reply.find('\n') == std::string::npos) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno == EAGAIN ? ETIMEDOUT : errno, "read reply", path);
    }
    if (n == 0) return Status::Corrupt("control " + path + ": connection closed without reply");
    reply.append(buf, static_cast<size_t>(n));
    if (reply.size() > kControlMaxMessage) {
      return Status::Corrupt("control " + path + ": reply over 64 KiB");
    }
  }
  reply.resize(reply.find('\n'));
  nlohmann::json j = nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corrupt("control " + path + ": malformed reply");
  }
  // json::value() throws when a field has another type: check types first.
  auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean()) {
    return Status::Corrupt("control " + path + ": reply without a boolean \"ok\"");
  }
  if (!ok->get<bool>()) {
    auto err = j.find("error");
    std::string msg = err != j.end() && err->is_string() && !err->get<std::string>().empty()
                          ? err->get<std::string>()
                          : "unknown error";
    return Status(Code::kIo, "ctrsnap-fs: " + msg);
  }
  return j;
}

}  // namespace ctrsnap
