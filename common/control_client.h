// Client side of ctrsnap-fs's control protocol.
//
// Protocol (version 1): a unix stream socket at STATE/control.sock, mode 0600,
// owned by root; the server checks SO_PEERCRED (uid 0 only). Each request is
// one JSON object on one line; each reply is one JSON object on one line.
//   request:  {"v":1,"op":"status"|"seal"|"flush"|"compact"|"mark_exported", ...op fields}
//     seal:    {"label":"..."} (optional)
//     compact: {"through": N} (optional: compact exported generations <= N)
//     mark_exported: {"generations":[N,...],"digest":"sha256:..."} (sealed
//              generations now in a snapshot layer; recorded in fs.json)
//   reply:    {"v":1,"ok":true, ...result} or {"v":1,"ok":false,"error":"..."}
//     status:  {"live":N,"generations":[{id,label,sealed,bytes,files}],"journal":{...}}
//     seal:    {"sealed":N,"live":N+1,"blocked_us":T}
//     compact: {"compacted":[{from,into,members,linked,materialized,...}]} and,
//              when something was compacted, the seal that put it in place
//              ({"sealed","live","blocked_us"})
// Unknown ops, malformed JSON and oversized lines (> 64 KiB) get an error reply.
// Server details (fusefs/control/control_server.h):
//   - "v" may be omitted (means 1); any other version is an error reply.
//   - seal "label": at most 128 bytes of printable ASCII without '/';
//     compact "through": an unsigned integer. Wrong types are error replies.
//   - A reply that is not a JSON object is wrapped as {"result": ...}.
//   - Several requests may be sent on one connection, one reply each, in order.
//   - A peer whose uid is not 0, or beyond the connection limit, gets one
//     error reply and is disconnected; so does an oversized line, and a
//     request not completed within the request timeout (10 s); an idle
//     connection is closed after 60 s.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ctrsnap {

inline constexpr int kControlProtocolVersion = 1;
inline constexpr size_t kControlMaxMessage = 64 * 1024;

// Sends REQUEST (the "v" field is added) to the daemon serving STATE_DIR and
// returns its reply. An {"ok":false} reply becomes an error Status carrying
// the daemon's message. TIMEOUT_MS bounds connect, send and receive.
Result<nlohmann::json> ControlCall(const std::string& state_dir, nlohmann::json request,
                                   int timeout_ms = 30000);

}  // namespace ctrsnap
