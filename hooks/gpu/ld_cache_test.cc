#include "hooks/gpu/ld_cache.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "common/file_util.h"

namespace ctrsnap::gpu {
namespace {

std::string RunLdconfigP() {
  std::string out;
  FILE* p = ::popen("ldconfig -p 2>/dev/null || /sbin/ldconfig -p", "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// The binary parser and `ldconfig -p` must agree on this machine's real cache.
TEST(LdCache, MatchesLdconfigOnThisMachine) {
  auto data = ReadFileToString("/etc/ld.so.cache");
  if (!data.ok()) GTEST_SKIP() << "no /etc/ld.so.cache here";
  auto entries = ParseLdCache(*data);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  const std::string text = RunLdconfigP();
  auto listed = ParseLdconfigOutput(text);
  if (listed.empty()) GTEST_SKIP() << "ldconfig -p printed nothing";
  std::set<std::pair<std::string, std::string>> a, b;
  size_t native = 0;
  for (const auto& e : *entries) {
    a.insert({e.soname, e.path});
    if (IsNativeLibrary(e.flags)) ++native;
  }
  for (const auto& e : listed) b.insert({e.soname, e.path});
  EXPECT_EQ(a, b);
  EXPECT_GT(native, 0u);
}

TEST(LdCache, RejectsGarbageAndTruncation) {
  EXPECT_FALSE(ParseLdCache("").ok());
  EXPECT_FALSE(ParseLdCache("not a cache at all, just some text that is long enough....").ok());
  std::string hdr = "glibc-ld.so.cache1.1";
  hdr.append(28, '\0');
  hdr[20] = 5;  // five entries, none present
  EXPECT_FALSE(ParseLdCache(hdr).ok());
  // One entry whose string offsets point past the end.
  std::string one = "glibc-ld.so.cache1.1";
  one.append(28, '\0');
  one[20] = 1;
  std::string entry(24, '\0');
  entry[0] = 3;
  entry[4] = static_cast<char>(0xff);
  entry[8] = static_cast<char>(0xff);
  EXPECT_FALSE(ParseLdCache(one + entry).ok());
}

TEST(LdCache, ParsesLdconfigText) {
  auto e = ParseLdconfigOutput(
      "3 libs found in cache `/etc/ld.so.cache'\n"
      "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1\n"
      "\tlibcuda.so.1 (libc6) => /usr/lib/i386-linux-gnu/libcuda.so.1\n"
      "\tgarbage line\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].soname, "libcuda.so.1");
  EXPECT_EQ(e[0].flags, 0x0303u);
  EXPECT_EQ(e[1].flags, 0x0003u);
}

}  // namespace
}  // namespace ctrsnap::gpu
