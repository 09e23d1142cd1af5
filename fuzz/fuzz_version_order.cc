// Version comparison (layers/drift/version_compare.h), every ecosystem:
// reflexive (a == a) and antisymmetric (sign(a,b) == -sign(b,a)) always.
// Transitivity (a <= b <= c implies a <= c) is checked only with
// FUZZ_VERSION_TRANSITIVE=1: it does not hold today when valid and invalid
// versions mix (a pair with an unparsable side falls back to rpmvercmp on
// the raw strings, e.g. semver 'v1.4.3-a' <= '1>2.x' <= '1.2.3' < 'v1.4.3-a';
// seed crash-semver-mixed-valid-invalid). Input: A '\0' B '\0' C; the first
// byte picks the comparator.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "layers/drift/version_compare.h"

namespace dr = ctrsnap::drift;

namespace {

using Cmp = int (*)(std::string_view, std::string_view);

int Sign(int v) { return (v > 0) - (v < 0); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const Cmp kCmps[] = {dr::CompareDebian, dr::CompareRpm, dr::ComparePep440,
                              dr::CompareSemver, dr::CompareApk, dr::CompareDotted};
  static const char* kNames[] = {"debian", "rpm", "pep440", "semver", "apk", "dotted"};
  size_t which = data[0] % 6;
  Cmp cmp = kCmps[which];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t n1 = in.find('\0');
  std::string_view a = in.substr(0, n1), rest;
  if (n1 != std::string_view::npos) rest = in.substr(n1 + 1);
  size_t n2 = rest.find('\0');
  std::string_view b = rest.substr(0, n2), c;
  if (n2 != std::string_view::npos) c = rest.substr(n2 + 1);
  std::string sa(a), sb(b), sc(c);

  FUZZ_CHECK(cmp(a, a) == 0, "%s: '%s' != itself", kNames[which], sa.c_str());
  int ab = Sign(cmp(a, b)), ba = Sign(cmp(b, a));
  FUZZ_CHECK(ab == -ba, "%s: not antisymmetric: cmp('%s','%s')=%d, reverse %d", kNames[which],
             sa.c_str(), sb.c_str(), ab, ba);
  static const bool transitive = [] {
    const char* v = std::getenv("FUZZ_VERSION_TRANSITIVE");
    return v && *v == '1';
  }();
  if (!transitive) return 0;
  int bc = Sign(cmp(b, c)), ac = Sign(cmp(a, c));
  if (ab <= 0 && bc <= 0) {
    FUZZ_CHECK(ac <= 0, "%s: not transitive: '%s' <= '%s' <= '%s' but a > c", kNames[which],
               sa.c_str(), sb.c_str(), sc.c_str());
  }
  if (ab == 0 && bc == 0) {
    FUZZ_CHECK(ac == 0, "%s: equality not transitive: '%s' == '%s' == '%s'", kNames[which],
               sa.c_str(), sb.c_str(), sc.c_str());
  }
  return 0;
}
