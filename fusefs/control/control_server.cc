#include "fusefs/control/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/control_client.h"
#include "common/log.h"
#include "common/state_layout.h"

namespace ctrsnap {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 16 * 1024;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX));
}

// Sends all of DATA on the non-blocking socket FD before DEADLINE; false on
// timeout, peer gone or stop requested (WAKE readable).
bool SendAll(int fd, int wake, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return false;
    pollfd p[2] = {{fd, POLLOUT, 0}, {wake, POLLIN, 0}};
    int r = ::poll(p, wake >= 0 ? 2 : 1, RemainingMs(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || (wake >= 0 && (p[1].revents & POLLIN))) return false;
  }
  return true;
}

std::string ErrorLine(std::string_view message) {
  nlohmann::json r = {
      {"v", kControlProtocolVersion}, {"ok", false}, {"error", std::string(message)}};
  return r.dump() + "\n";
}

Status BindSocket(const std::string& path, int fd) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("control socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Status::FromErrno(errno, "bind", path);
  }
  return Status::Ok();
}

}  // namespace

struct ControlServer::Connection {
  UniqueFd fd;
  std::thread thread;
  std::atomic<bool> done{false};
};

ControlServer::ControlServer(std::string path, ControlHandler* handler,
                             ControlServerOptions options)
    : path_(std::move(path)), handler_(handler), options_(std::move(options)) {}

Result<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& state_dir,
                                                            ControlHandler* handler,
                                                            ControlServerOptions options) {
  if (handler == nullptr) return Status::InvalidArgument("control server: no handler");
  std::string path =
      options.socket_path.empty() ? layout::ControlSocketPath(state_dir) : options.socket_path;
  std::unique_ptr<ControlServer> s(new ControlServer(path, handler, options));

  // Bind inside a fresh 0700 directory next to the final name, restrict the
  // socket to 0600, then rename it into place: at no moment can anyone but
  // root reach it, and a stale socket is replaced atomically.
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  std::string tmpl = (dir.empty() ? std::string(".") : dir) + "/.control.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return Status::FromErrno(errno, "mkdtemp", tmpl);
  const std::string tmp_sock = tmpl + "/s";
  auto cleanup_tmp = [&] {
    ::unlink(tmp_sock.c_str());
    ::rmdir(tmpl.c_str());
  };

  s->listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s->listen_fd_) {
    cleanup_tmp();
    return Status::FromErrno(errno, "socket");
  }
  Status st = BindSocket(tmp_sock, s->listen_fd_.get());
  if (st.ok() && ::chmod(tmp_sock.c_str(), 0600) != 0) st = Status::FromErrno(errno, "chmod", tmp_sock);
  if (st.ok() && ::listen(s->listen_fd_.get(), 16) != 0) st = Status::FromErrno(errno, "listen", tmp_sock);
  if (st.ok() && ::rename(tmp_sock.c_str(), path.c_str()) != 0) {
    st = Status::FromErrno(errno, "rename control socket to", path);
  }
  cleanup_tmp();
  RETURN_IF_ERROR(st.WithContext("control server"));
  struct stat sb {};
  if (::lstat(path.c_str(), &sb) == 0) s->socket_ino_ = sb.st_ino;

  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return Status::FromErrno(errno, "pipe2");
  s->wake_read_.reset(p[0]);
  s->wake_write_.reset(p[1]);
  s->acceptor_ = std::thread([srv = s.get()] { srv->AcceptLoop(); });
  return s;
}

ControlServer::~ControlServer() { Stop(); }

void ControlServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  // One byte makes the pipe readable for every poller, for good.
  ssize_t n;
  do {
    n = ::write(wake_write_.get(), "x", 1);
  } while (n < 0 && errno == EINTR);
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::unique_ptr<Connection>> conns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    conns.swap(conns_);
  }
  for (auto& c : conns) {
    if (c->thread.joinable()) c->thread.join();
  }
  // Remove the socket only if it is still the one we bound.
  struct stat sb {};
  if (::lstat(path_.c_str(), &sb) == 0 && sb.st_ino == socket_ino_ && S_ISSOCK(sb.st_mode)) {
    ::unlink(path_.c_str());
  }
  listen_fd_.reset();
}

void ControlServer::ReapFinished() {
  std::vector<std::unique_ptr<Connection>> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      if ((*it)->done.load()) {
        finished.push_back(std::move(*it));
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) c->thread.join();
}

void ControlServer::AcceptLoop() {
  for (;;) {
    pollfd p[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    // Wake now and then to join finished connection threads.
    int r = ::poll(p, 2, 1000);
    if (r < 0 && errno != EINTR) {
      LogError(std::string("control server: poll: ") + std::strerror(errno));
      return;
    }
    if (p[1].revents & POLLIN) return;
    ReapFinished();
    if (r <= 0 || !(p[0].revents & POLLIN)) continue;

    UniqueFd conn(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!conn) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        LogWarn(std::string("control server: accept: ") + std::strerror(errno));
        // EMFILE and the like: back off instead of spinning.
        ::poll(p + 1, 1, 100);
      }
      continue;
    }
    const auto reject_deadline = Clock::now() + std::chrono::milliseconds(200);
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        cred.uid != options_.allowed_uid) {
      ++refused_;
      LogWarn("control server: refused peer uid " + std::to_string(cred.uid) + " pid " +
              std::to_string(cred.pid));
      (void)SendAll(conn.get(), -1, ErrorLine("permission denied: the control socket is for uid " +
                                              std::to_string(options_.allowed_uid) + " only"),
                    reject_deadline);
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (conns_.size() >= options_.max_connections) {
      ++refused_;
      (void)SendAll(conn.get(), -1, ErrorLine("busy: too many control connections"),
                    reject_deadline);
      continue;
    }
    auto c = std::make_unique<Connection>();
    c->fd = std::move(conn);
    Connection* raw = c.get();
    conns_.push_back(std::move(c));
    raw->thread = std::thread([this, raw] { Serve(raw); });
  }
}

void ControlServer::Serve(Connection* conn) {
  const int fd = conn->fd.get();
  const int wake = wake_read_.get();
  std::string buf;
  Clock::time_point request_start{};  // first byte of the request being read
  Clock::time_point last_activity = Clock::now();
  char chunk[kReadChunk];
  auto finish = [conn] {
    ::shutdown(conn->fd.get(), SHUT_RDWR);
    conn->done.store(true);
  };

  for (;;) {
    // Answer every complete line in the buffer.
    for (size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
      std::string_view line(buf.data(), nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") != std::string_view::npos) {
        std::string reply = nl > kControlMaxMessage
                                ? ErrorLine("request over 64 KiB")
                                : HandleControlRequest(*handler_, line) + "\n";
        ++requests_;
        if (!SendAll(fd, wake, reply, Clock::now() + options_.request_timeout)) return finish();
      }
      buf.erase(0, nl + 1);
      request_start = buf.empty() ? Clock::time_point{} : Clock::now();
      last_activity = Clock::now();
    }
    if (buf.size() > kControlMaxMessage) {
      // No resynchronising inside an endless line: answer and hang up.
      ++requests_;
      (void)SendAll(fd, wake, ErrorLine("request over 64 KiB"),
                    Clock::now() + options_.request_timeout);
      return finish();
    }
    const bool partial = !buf.empty();
    const Clock::time_point deadline =
        partial ? request_start + options_.request_timeout : last_activity + options_.idle_timeout;
    pollfd p[2] = {{fd, POLLIN, 0}, {wake, POLLIN, 0}};
    int r = ::poll(p, 2, RemainingMs(deadline));
    if (r < 0) {
      if (errno == EINTR) continue;
      return finish();
    }
    if (p[1].revents & POLLIN) return finish();  // Stop()
    if (r == 0) {
      if (partial) {
        ++requests_;
        (void)SendAll(fd, wake, ErrorLine("request timed out"),
                      Clock::now() + std::chrono::milliseconds(200));
      }
      return finish();
    }
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return finish();
    }
    if (n == 0) return finish();  // peer closed
    if (buf.empty()) request_start = Clock::now();
    buf.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace ctrsnap
