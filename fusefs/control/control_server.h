// ControlServer: the root-only control socket of ctrsnap-fs
// (STATE/control.sock; protocol in common/control_client.h).
//
// Security and robustness contract:
//   - The socket is created inside a private 0700 directory, chmod 0600 and
//     renamed into place, so it is never reachable with wider permissions
//     (the process umask is not touched: it is process-wide).
//   - Each peer's SO_PEERCRED uid is checked at accept; uid != allowed_uid
//     (0 by default) gets {"ok":false,"error":"permission denied..."} and is
//     disconnected before any request is read.
//   - One JSON object per line, at most kControlMaxMessage bytes. A line that
//     is not a JSON object, has fields of the wrong type, names an unknown op
//     or an unsupported version gets an error reply; the connection stays
//     usable. An oversized line gets an error reply and the connection is
//     closed. A request must arrive complete within request_timeout (slow
//     clients are cut off); an idle connection is closed after idle_timeout.
//   - At most max_connections connections are served at once; further peers
//     get a "busy" error reply and are closed.
//   - No exception escapes; nothing a peer sends can crash or stall the
//     daemon (each connection has its own thread; the FUSE threads are never
//     involved).
//
// Threading: Start() spawns an accept thread and one thread per connection;
// Stop() (also run by the destructor) wakes and joins them all, waiting for
// handler calls in progress, and removes the socket file.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"
#include "fusefs/control/control_handler.h"

namespace ctrsnap {

struct ControlServerOptions {
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  size_t max_connections = 8;
  // The only uid allowed to connect. 0 in production; tests that run as an
  // unprivileged user may set their own uid.
  uid_t allowed_uid = 0;
  // Path of the socket; empty: layout::ControlSocketPath(state_dir).
  std::string socket_path;
};

class ControlServer {
 public:
  // Binds the socket (replacing a stale one) and starts serving HANDLER,
  // which must outlive the server.
  static Result<std::unique_ptr<ControlServer>> Start(const std::string& state_dir,
                                                      ControlHandler* handler,
                                                      ControlServerOptions options = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Idempotent.
  void Stop();
  const std::string& socket_path() const { return path_; }

  // Requests answered so far (ok or error) and peers refused; for tests.
  uint64_t requests_served() const { return requests_.load(); }
  uint64_t peers_refused() const { return refused_.load(); }

 private:
  struct Connection;

  ControlServer(std::string path, ControlHandler* handler, ControlServerOptions options);
  void AcceptLoop();
  void Serve(Connection* conn);
  void ReapFinished();  // joins finished connection threads

  const std::string path_;
  ControlHandler* const handler_;
  const ControlServerOptions options_;
  UniqueFd listen_fd_;
  UniqueFd wake_read_;   // readable once Stop() began
  UniqueFd wake_write_;
  ino_t socket_ino_ = 0; // the socket we bound, to unlink only our own
  std::thread acceptor_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> refused_{0};
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> conns_;  // GUARDED_BY(mu_)
  bool stopped_ = false;                            // GUARDED_BY(mu_)
};

// Handles one request line (exposed for tests and fuzzing): returns the reply
// line without the trailing newline. Never throws.
std::string HandleControlRequest(ControlHandler& handler, std::string_view line);

}  // namespace ctrsnap
