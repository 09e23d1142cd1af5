// Pieces of the soak test that know nothing of containers: applying OCI layer
// tars to a directory (whiteouts and opaque markers first, then extraction by
// GNU tar), listing a tree canonically, comparing two listings, and checking
// the worker's MANIFEST against a tree.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace ctrsnap::soak {

// Applies the layer tar at BLOB (uncompressed or any compression GNU tar
// detects) on top of ROOT as an OCI runtime would: `.wh.NAME` removes NAME,
// `.wh..wh..opq` empties its directory of what lower layers put there, then
// every other entry is extracted with owners, modes and xattrs.
// Returns "" or a description of what failed.
std::string ApplyLayer(const std::string& blob, const std::string& root);

// path -> "type/mode uid:gid size hash" (files), "... -> target" (symlinks),
// "... rdev" (devices) for every entry under ROOT (ROOT itself left out).
// Directories' sizes and times are not compared. Hard links: paths of the
// same regular file with nlink > 1 are additionally listed in LINK_GROUPS
// (each group sorted; groups sorted).
struct TreeListing {
  std::map<std::string, std::string> entries;
  std::set<std::vector<std::string>> link_groups;
};
TreeListing ListTree(const std::string& root);

// Drops PATH and everything under it from L.
void ErasePrefix(TreeListing* l, const std::string& path);

// Human-readable differences (at most MAX lines); empty when equal.
std::vector<std::string> DiffListings(const TreeListing& want, const TreeListing& got,
                                      size_t max = 20);

// The worker's FNV-1a 64 (tests/soak/soak_worker.c).
uint64_t Fnv64(const std::string& data);

// Checks the MANIFEST written by soak_worker against the tree at WORK_ROOT
// (the container's DIR inside an unpacked image). Returns mismatches; sets
// *CHECKED to the number of entries verified.
std::vector<std::string> CheckManifest(const std::string& manifest, const std::string& work_root,
                                       size_t* checked);

// Mounts a read-only overlay of LOWERS (topmost first) at TARGET with
// redirect_dir=follow and metacopy=on. Returns "" or what failed.
std::string MountOverlayView(const std::vector<std::string>& lowers, const std::string& target);

// VmRSS of PID in KiB (-1 when gone).
int64_t RssKiB(int pid);

}  // namespace ctrsnap::soak
