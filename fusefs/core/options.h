// Command line of ctrsnap-fs, parsed once into an immutable FsOptions.
//
// Syntax (fuse-overlayfs compatible):
//   ctrsnap-fs [-f] [-d] -o lowerdir=L1:L2:...,upperdir=U,workdir=W[,opts] MOUNTPOINT
//   ctrsnap-fs [-f] [-d] -o lowerdir=L1:L2:...,state=DIR[,opts] MOUNTPOINT
// The leftmost lower is the top layer, as in overlayfs. Options that are FUSE
// mount options (allow_other, fsname=, ro, ...) are passed to libfuse;
// fuse-overlayfs options with no meaning here are accepted and ignored so that
// ctrsnap-fs works as containers/storage's mount_program; anything else is an
// error.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace ctrsnap::fs {

struct FsOptions {
  std::vector<std::string> lowerdirs;  // top first
  std::string upperdir;                // plain mode (no generations)
  std::string workdir;
  std::string state;                   // generations mode
  std::string mountpoint;
  bool foreground = false;
  bool debug = false;
  bool help = false;
  bool version = false;
  std::string log_level = "info";
  // The kernel's writeback cache (-o writeback_cache=off disables it): small
  // writes are cached and coalesced, at the price of a seal flushing every
  // dirty page of the mount first (a streaming writer's neighbours then wait
  // behind that flush: bench/seal).
  bool writeback_cache = true;
  // Options forwarded to libfuse ("-o" items), in order.
  std::vector<std::string> fuse_options;
  // fuse-overlayfs options accepted for compatibility but ignored.
  std::vector<std::string> ignored_options;

  bool generations() const { return !state.empty(); }
};

// Parses ARGS (argv without argv[0]). Errors name the offending argument.
Result<FsOptions> ParseCommandLine(const std::vector<std::string>& args);

// Splits "a:b:c" into its non-empty parts, honouring "\:" as a literal colon.
std::vector<std::string> SplitLowerdirs(const std::string& value);

}  // namespace ctrsnap::fs
