// Names of everything in a ctrsnap state directory, in one place.
//
// A state directory holds one container's filesystem state; every component
// builds its paths through these functions (as LevelDB's TableFileName does),
// never by hand:
//
//   STATE/
//     fs.json               ctrsnap-fs metadata: lower dirs, generations (atomic replace)
//     gen/N/upper/          generation N in overlayfs upper format (N = 1, 2, ...)
//     gen/N/work/           overlayfs work dir paired with gen/N/upper
//     gen/N.merge/          a compaction into N being built (or N's content it replaced)
//     gen/N.old/            content of a compacted generation N, being deleted
//     journal/N.log         the write journal of generation N (append-only)
//     lower/                bind mount of the original root while the container runs
//     lock                  flock(LOCK_EX) held by the daemon for its whole life, and by
//                           offline tools (snapshot of an exited container, gc)
//     control.sock          the daemon's root-only control socket
//     daemon.log            the daemon's own log
//     snapshots/            snapshot records written by `ctrsnap snapshot`
//     container.json        set by ctrsnap-runtime: id, bundle, engine, base image
//     config.orig.json      the bundle's config.json as the engine wrote it (before ctrsnap's edits)
//     exit.json             the container's exit record (ctrsnap-hook poststop / runtime delete)
#pragma once

#include <cstdint>
#include <string>

namespace ctrsnap::layout {

inline std::string FsMetaPath(const std::string& state) { return state + "/fs.json"; }
inline std::string GenerationsDir(const std::string& state) { return state + "/gen"; }
inline std::string GenerationDir(const std::string& state, uint64_t gen) {
  return state + "/gen/" + std::to_string(gen);
}
inline std::string UpperDir(const std::string& state, uint64_t gen) {
  return GenerationDir(state, gen) + "/upper";
}
inline std::string WorkDir(const std::string& state, uint64_t gen) {
  return GenerationDir(state, gen) + "/work";
}
// Compaction (fusefs/core/state_dir_compact.cc): never listed in fs.json, so
// removed at the next start unless recovery swaps them in.
inline std::string CompactBuildDir(const std::string& state, uint64_t gen) {
  return GenerationDir(state, gen) + ".merge";
}
inline std::string CompactOldDir(const std::string& state, uint64_t gen) {
  return GenerationDir(state, gen) + ".old";
}
inline std::string CompactMarkerPath(const std::string& gen_dir) { return gen_dir + "/compacted"; }
inline std::string JournalDir(const std::string& state) { return state + "/journal"; }
inline std::string JournalPath(const std::string& state, uint64_t gen) {
  return JournalDir(state) + "/" + std::to_string(gen) + ".log";
}
// A private bind mount of the container's original root, made before
// ctrsnap-fs is mounted over that root, so that readers other than the daemon
// (the layer writer, drift) can still reach the lower while it is covered.
inline std::string LowerViewPath(const std::string& state) { return state + "/lower"; }
// Present while STATE/lower is not the container's whole root but the residue
// kept on delete (shim/lower_residue.h): only what the generations refer to.
// A base image must not be made from it.
inline std::string LowerResidueMarkerPath(const std::string& state) {
  return state + "/lower.residue.json";
}
inline std::string LockPath(const std::string& state) { return state + "/lock"; }
inline std::string ControlSocketPath(const std::string& state) { return state + "/control.sock"; }
inline std::string DaemonLogPath(const std::string& state) { return state + "/daemon.log"; }
inline std::string SnapshotsDir(const std::string& state) { return state + "/snapshots"; }
inline std::string ContainerMetaPath(const std::string& state) {
  return state + "/container.json";
}
inline std::string OriginalSpecPath(const std::string& state) {
  return state + "/config.orig.json";
}
inline std::string ExitRecordPath(const std::string& state) { return state + "/exit.json"; }

// Default root of all containers' state; CTRSNAP_ROOT overrides it.
inline constexpr const char kDefaultStateRoot[] = "/var/lib/ctrsnap";
// Default configuration file; CTRSNAP_CONFIG overrides it.
inline constexpr const char kDefaultConfigPath[] = "/etc/ctrsnap/config.json";
inline constexpr const char kDefaultPolicyPath[] = "/etc/ctrsnap/policy.json";

}  // namespace ctrsnap::layout
