// The control client's reply handling (common/control_client.h ControlCall):
// a fake daemon on a real unix socket answers with the fuzzed bytes. Whatever
// it sends (no newline, invalid JSON, "ok" of the wrong type, a huge line),
// ControlCall returns a reply object with ok == true or an error Status; it
// never throws or crashes the CLI.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/control_client.h"
#include "common/state_layout.h"
#include "common/unique_fd.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/scratch_dir.h"

namespace {

struct FakeDaemon {
  ctrsnap::fuzz::ScratchDir dir{"fuzz_control_reply"};
  ctrsnap::UniqueFd listen_fd;
  FakeDaemon() {
    std::string path = ctrsnap::layout::ControlSocketPath(dir.path());
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    FUZZ_CHECK(path.size() < sizeof(addr.sun_path), "socket path too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    listen_fd = ctrsnap::UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    FUZZ_CHECK(listen_fd.get() >= 0, "socket");
    FUZZ_CHECK(::bind(listen_fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0,
               "bind %s", path.c_str());
    FUZZ_CHECK(::listen(listen_fd.get(), 4) == 0, "listen");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FakeDaemon daemon;
  std::string reply(reinterpret_cast<const char*>(data), size);
  std::thread server([&] {
    ctrsnap::UniqueFd c(::accept4(daemon.listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) return;
    char buf[4096];
    (void)::read(c.get(), buf, sizeof(buf));  // the request line
    for (size_t off = 0; off < reply.size();) {
      ssize_t n = ::send(c.get(), reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  });
  // The label is not valid UTF-8 half of the time: the request must still go out.
  nlohmann::json req = {{"op", "seal"}, {"label", size % 2 ? "snap-1" : "snap-\xff"}};
  auto r = ctrsnap::ControlCall(daemon.dir.path(), req, 2000);
  server.join();
  if (r.ok()) {
    FUZZ_CHECK(r->is_object(), "reply accepted but not an object");
    auto ok = r->find("ok");
    FUZZ_CHECK(ok != r->end() && ok->is_boolean() && ok->get<bool>(),
               "reply accepted without ok:true");
  } else {
    FUZZ_CHECK(!r.status().message().empty(), "error without a message");
  }
  return 0;
}
