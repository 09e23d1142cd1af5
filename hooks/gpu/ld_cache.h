// The dynamic linker's cache (/etc/ld.so.cache), read without running
// ldconfig: glibc's "glibc-ld.so.cache1.1" format, alone or after the old
// "ld.so-1.7.0" table, and the text `ldconfig -p` prints.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ctrsnap::gpu {

struct LdCacheEntry {
  std::string soname;  // "libcuda.so.1"
  std::string path;    // "/usr/lib/x86_64-linux-gnu/libcuda.so.1"
  uint32_t flags = 0;  // glibc FLAG_*: type in bits 0-7, architecture in bits 8-15
};

// Parses the binary cache DATA; an error when it is not a cache or is truncated.
Result<std::vector<LdCacheEntry>> ParseLdCache(std::string_view data);
// Parses `ldconfig -p` output ("\tlibcuda.so.1 (libc6,x86-64) => /path").
// Entries get flags 0x0303 for "libc6,x86-64", 0x0a03 for "libc6,AArch64",
// 0x0003 for "libc6"; lines that do not parse are skipped.
std::vector<LdCacheEntry> ParseLdconfigOutput(std::string_view text);

// True when FLAGS describe a libc6 library of this machine's native ABI
// (x86-64 or AArch64; 32-bit and foreign entries are skipped by cdi-generate).
bool IsNativeLibrary(uint32_t flags);

}  // namespace ctrsnap::gpu
