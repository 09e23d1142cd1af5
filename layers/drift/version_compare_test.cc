#include "layers/drift/version_compare.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ctrsnap::drift {
namespace {

struct Case {
  const char* a;
  const char* b;
  int want;  // sign of compare(a, b)
};

int Sgn(int v) { return v < 0 ? -1 : (v > 0 ? 1 : 0); }

void Check(int (*cmp)(std::string_view, std::string_view), const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    EXPECT_EQ(Sgn(cmp(c.a, c.b)), c.want) << c.a << " vs " << c.b;
    EXPECT_EQ(Sgn(cmp(c.b, c.a)), -c.want) << c.b << " vs " << c.a << " (antisymmetry)";
  }
}

TEST(VersionCompareTest, Debian) {
  Check(CompareDebian, {
                           {"1.0~rc1", "1.0", -1},
                           {"1.0~~", "1.0~", -1},
                           {"1.0~", "1.0", -1},
                           {"1.0", "1.0+b1", -1},
                           {"1.0", "1.0-1", -1},
                           {"1:0.9", "2.0", 1},
                           {"0:2.0", "2.0", 0},
                           {"2.0-1", "2.0-1", 0},
                           {"2.36-9+deb12u3", "2.36-9+deb12u4", -1},
                           {"3.0.11-1~deb12u2", "3.0.11-1", -1},
                           {"1.2.10", "1.2.9", 1},
                           {"1.2a", "1.2", 1},
                           {"1.2a", "1.2+", -1},  // letters sort before non-letters
                           {"7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1},
                           {"1:2.0", "1:10.0", -1},
                           {"2.0-1ubuntu1", "2.0-1", 1},
                           {"00001.0", "1.0", 0},
                       });
}

TEST(VersionCompareTest, Rpm) {
  Check(CompareRpm, {
                        {"1.0", "1.0", 0},
                        {"1.0", "2.0", -1},
                        {"2.0.1", "2.0", 1},
                        {"1.0~rc1", "1.0", -1},
                        {"1.0^git1", "1.0", 1},
                        {"1.0^git1", "1.0.1", -1},
                        {"1:1.0", "2.0", 1},
                        {"1.0-1.el9", "1.0-2.el9", -1},
                        {"1.0a", "1.0.1", -1},
                        {"10", "9", 1},
                        {"1.0.010", "1.0.9", 1},
                        {"5.5p1", "5.5p10", -1},
                        {"a", "1", -1},
                    });
}

TEST(VersionCompareTest, Pep440) {
  Check(ComparePep440, {
                           {"1.0", "1.0.0", 0},
                           {"1.0.dev1", "1.0a1", -1},
                           {"1.0a1", "1.0a2", -1},
                           {"1.0a2", "1.0b1", -1},
                           {"1.0b1", "1.0rc1", -1},
                           {"1.0rc1", "1.0", -1},
                           {"1.0", "1.0.post1", -1},
                           {"1.0.post1.dev1", "1.0.post1", -1},
                           {"1.0", "1.0.post1.dev1", -1},
                           {"1.0a1.dev1", "1.0a1", -1},
                           {"1.0", "1.0+local", -1},
                           {"1.0+abc", "1.0+5", -1},   // numeric local segment > alpha
                           {"1.0+ubuntu1", "1.0+ubuntu2", -1},
                           {"1!0.1", "2.0", 1},
                           {"1.0-1", "1.0.post1", 0},  // implicit post release
                           {"1.0alpha1", "1.0a1", 0},
                           {"1.0c1", "1.0rc1", 0},
                           {"1.0-rc.1", "1.0rc1", 0},
                           {"v1.0", "1.0", 0},
                           {"2.1.0", "2.0.9", 1},
                           {"1.10", "1.9", 1},
                           {"1.0.dev0", "1.0.dev1", -1},
                           {"2.3.0+cu121", "2.3.0+cu118", 1},
                           {"2.3.0+cu121", "2.3.1", -1},
                       });
}

TEST(VersionCompareTest, Semver) {
  Check(CompareSemver, {
                           {"1.0.0", "1.0.0", 0},
                           {"1.0.0-alpha", "1.0.0", -1},
                           {"1.0.0-alpha", "1.0.0-alpha.1", -1},
                           {"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
                           {"1.0.0-beta.2", "1.0.0-beta.11", -1},
                           {"1.0.0-rc.1", "1.0.0", -1},
                           {"1.0.0+build5", "1.0.0", 0},
                           {"v2.0.0", "1.9.9", 1},
                           {"1.10.0", "1.9.0", 1},
                           {"0.0.10", "0.0.9", 1},
                       });
}

TEST(VersionCompareTest, Apk) {
  Check(CompareApk, {
                        {"1.36.1-r2", "1.36.1-r10", -1},
                        {"1.36.1-r2", "1.36.2-r0", -1},
                        {"2.4.0_rc1-r0", "2.4.0-r0", -1},
                        {"3.0.8_p1-r0", "3.0.8-r0", 1},
                        {"1.2.3a-r0", "1.2.3-r0", 1},
                        {"1.0_alpha1", "1.0_beta1", -1},
                        {"1.0-r0", "1.0", 0},
                    });
}

TEST(VersionCompareTest, DottedLibraries) {
  Check(CompareDotted, {
                           {"12.2.140", "12.2.128", 1},
                           {"8.9.7", "9.0.0", -1},
                           {"2.18.3", "2.18.3", 0},
                           {"12.1.105", "12.10.1", -1},
                       });
}

TEST(VersionCompareTest, MalformedInputIsOrderedNotRejected) {
  // Garbage falls back to the RPM order: total, antisymmetric, no crash.
  Check(ComparePep440, {{"not a version", "also!!", 1}, {"", "1.0", -1}});
  Check(CompareSemver, {{"1.2", "1.10", -1}, {"latest", "1.0.0", -1}});
  Check(CompareDebian, {{"", "", 0}, {":", "1", 1}});
}

}  // namespace
}  // namespace ctrsnap::drift
