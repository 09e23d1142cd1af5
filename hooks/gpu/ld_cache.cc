#include "hooks/gpu/ld_cache.h"

#include <cstring>

namespace ctrsnap::gpu {

namespace {

constexpr char kOldMagic[] = "ld.so-1.7.0";          // 11 bytes, then nlibs
constexpr char kNewMagic[] = "glibc-ld.so.cache";    // 17 bytes
constexpr char kNewVersion[] = "1.1";                // 3 bytes
constexpr size_t kNewHeaderSize = 48;  // magic, version, nlibs, len_strings, flags+pad, ext, unused[3]
constexpr size_t kNewEntrySize = 24;   // int32 flags, u32 key, u32 value, u32 osversion, u64 hwcap
constexpr size_t kOldEntrySize = 12;   // int32 flags, u32 key, u32 value

constexpr uint32_t kFlagElfLibc6 = 0x0003;
constexpr uint32_t kFlagX8664Lib64 = 0x0300;
constexpr uint32_t kFlagAArch64Lib64 = 0x0a00;

uint32_t U32(std::string_view d, size_t off) {
  uint32_t v;
  std::memcpy(&v, d.data() + off, sizeof(v));
  return v;  // the cache is written in host byte order
}

// The NUL-terminated string at OFF of BASE, or an error when it runs off the end.
Result<std::string> CString(std::string_view base, size_t off) {
  if (off >= base.size()) return Status::Corrupt("ld.so.cache: string offset out of range");
  size_t end = base.find('\0', off);
  if (end == std::string_view::npos) return Status::Corrupt("ld.so.cache: unterminated string");
  return std::string(base.substr(off, end - off));
}

}  // namespace

Result<std::vector<LdCacheEntry>> ParseLdCache(std::string_view data) {
  std::string_view cache = data;
  if (data.size() >= sizeof(kOldMagic) - 1 + 4 &&
      data.compare(0, sizeof(kOldMagic) - 1, kOldMagic) == 0) {
    // Old table first; the new table follows it, 8-byte aligned.
    uint64_t nlibs = U32(data, sizeof(kOldMagic) - 1);
    uint64_t off = sizeof(kOldMagic) - 1 + 4 + nlibs * kOldEntrySize;
    off = (off + 7) & ~uint64_t{7};
    if (off >= data.size()) return Status::Unsupported("ld.so.cache: old format only");
    cache = data.substr(off);
  }
  if (cache.size() < kNewHeaderSize || cache.compare(0, 17, kNewMagic) != 0 ||
      cache.compare(17, 3, kNewVersion) != 0) {
    return Status::Corrupt("ld.so.cache: not a glibc-ld.so.cache1.1 file");
  }
  const uint64_t nlibs = U32(cache, 20);
  if (kNewHeaderSize + nlibs * kNewEntrySize > cache.size()) {
    return Status::Corrupt("ld.so.cache: truncated (" + std::to_string(nlibs) + " entries)");
  }
  std::vector<LdCacheEntry> out;
  out.reserve(nlibs);
  for (uint64_t i = 0; i < nlibs; ++i) {
    size_t e = kNewHeaderSize + i * kNewEntrySize;
    LdCacheEntry entry;
    entry.flags = U32(cache, e);
    ASSIGN_OR_RETURN(entry.soname, CString(cache, U32(cache, e + 4)));
    ASSIGN_OR_RETURN(entry.path, CString(cache, U32(cache, e + 8)));
    out.push_back(std::move(entry));
  }
  return out;
}

std::vector<LdCacheEntry> ParseLdconfigOutput(std::string_view text) {
  std::vector<LdCacheEntry> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string_view::npos || b == 0) continue;  // entries are indented; the header is not
    line.remove_prefix(b);
    size_t paren = line.find(" (");
    size_t close = line.find(") => ");
    if (paren == std::string_view::npos || close == std::string_view::npos || close < paren) continue;
    LdCacheEntry e;
    e.soname = std::string(line.substr(0, paren));
    std::string_view abi = line.substr(paren + 2, close - paren - 2);
    e.path = std::string(line.substr(close + 5));
    if (abi.rfind("libc6", 0) == 0) e.flags = kFlagElfLibc6;
    if (abi.find("x86-64") != std::string_view::npos) e.flags |= kFlagX8664Lib64;
    if (abi.find("AArch64") != std::string_view::npos) e.flags |= kFlagAArch64Lib64;
    if (e.soname.empty() || e.path.empty() || e.path[0] != '/') continue;
    out.push_back(std::move(e));
  }
  return out;
}

bool IsNativeLibrary(uint32_t flags) {
  if ((flags & 0xff) != kFlagElfLibc6) return false;
#if defined(__x86_64__)
  return (flags & 0xff00) == kFlagX8664Lib64;
#elif defined(__aarch64__)
  return (flags & 0xff00) == kFlagAArch64Lib64;
#else
  return (flags & 0xff00) == 0;
#endif
}

}  // namespace ctrsnap::gpu
