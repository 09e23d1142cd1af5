#include "layers/policy/value_checks.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace ctrsnap::policy {
namespace {

TEST(ValueChecksTest, Entropy) {
  EXPECT_EQ(ShannonEntropy(""), 0);
  EXPECT_EQ(ShannonEntropy("aaaa"), 0);
  EXPECT_NEAR(ShannonEntropy("abcd"), 2.0, 1e-9);
  EXPECT_GT(ShannonEntropy("J7V515txxMjfvnBuK6DI4mfsaThqyHaSk11YdR5Q"), 4.5);
}

TEST(ValueChecksTest, Placeholders) {
  EXPECT_TRUE(LooksLikePlaceholder("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
  EXPECT_TRUE(LooksLikePlaceholder("AKIAIOSFODNN7EXAMPLE"));
  EXPECT_TRUE(LooksLikePlaceholder("<your-token>"));
  EXPECT_TRUE(LooksLikePlaceholder("changeme"));
  EXPECT_TRUE(LooksLikePlaceholder("0000000000000000"));
  EXPECT_FALSE(LooksLikePlaceholder("Qm9vT3kV7zLp2Xw"));
  EXPECT_TRUE(LooksLikeReference("${DB_PASSWORD}"));
  EXPECT_TRUE(LooksLikeReference("$DB_PASSWORD"));
  EXPECT_TRUE(LooksLikeReference("os.environ['X']"));
  EXPECT_TRUE(LooksLikeReference("{{ .Values.password }}"));
  EXPECT_FALSE(LooksLikeReference("%Xy7$kq91Lm"));  // a password may start with '%'
  EXPECT_FALSE(LooksLikeReference("x#+%lv@Z0^q1r3R_"));
}

std::string WithCrc(const std::string& prefix, const std::string& random30) {
  static const char kA[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  uint64_t n = crc32(0, reinterpret_cast<const Bytef*>(random30.data()), 30);
  std::string enc(6, '0');
  for (int i = 5; i >= 0; --i) {
    enc[static_cast<size_t>(i)] = kA[n % 62];
    n /= 62;
  }
  return prefix + random30 + enc;
}

TEST(ValueChecksTest, GithubChecksum) {
  std::string t = WithCrc("ghp_", "k3P9qLmZ2xWv7RtY8sNb4HcJ6dFg1A");
  EXPECT_TRUE(ValidGithubStyleChecksum(t));
  std::string bad = t;
  bad.back() = bad.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(ValidGithubStyleChecksum(bad));
  EXPECT_TRUE(ValidGithubStyleChecksum(WithCrc("npm_", "k3P9qLmZ2xWv7RtY8sNb4HcJ6dFg1A")));
  EXPECT_FALSE(ValidGithubStyleChecksum("ghp_short"));
}

TEST(ValueChecksTest, Jwt) {
  // {"alg":"HS256","typ":"JWT"} . {"sub":"1"} . signature
  EXPECT_TRUE(LooksLikeJwt("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"));
  // alg none: no signature to protect, not a credential
  EXPECT_FALSE(LooksLikeJwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"));
  EXPECT_FALSE(LooksLikeJwt("eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"));
}

TEST(ValueChecksTest, MaskNeverShowsTheWholeValue) {
  EXPECT_EQ(MaskValue("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"), "ghp_iI...nJOw");
  EXPECT_EQ(MaskValue("l4vtT1xNyMSrV11yb4v@"), "l4v...v@");
  EXPECT_EQ(MaskValue("hunter2"), "h...");
  EXPECT_EQ(MaskValue("abc"), "...");
  for (size_t n = 0; n < 80; ++n) {
    std::string v(n, 'z');
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<char>('A' + i % 26);
    std::string m = MaskValue(v);
    size_t shown = m.size() - 3;
    EXPECT_LE(shown * 2, n + 1) << n;  // at most about half, never all
    if (n > 0) {
      EXPECT_EQ(m.find(v), std::string::npos);
    }
  }
}

TEST(ValueChecksTest, FingerprintIsSha256) {
  EXPECT_EQ(Fingerprint("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ValueChecksTest, Base64AndJson) {
  std::string out;
  EXPECT_TRUE(DecodeBase64("dXNlcjpwYXNz", &out, 100));
  EXPECT_EQ(out, "user:pass");
  EXPECT_TRUE(DecodeBase64("dXNl\\ncjpw\nYXNz", &out, 100));  // escaped and real newlines
  EXPECT_EQ(out, "user:pass");
  EXPECT_TRUE(DecodeBase64("dXNlcjpwYXNz", &out, 4));  // bounded
  EXPECT_EQ(out, "user");
  EXPECT_FALSE(DecodeBase64("not base64!", &out, 100));
  EXPECT_EQ(UnescapeJson("a\\\"b\\nc\\u0041\\\\"), "a\"b\ncA\\");
}

}  // namespace
}  // namespace ctrsnap::policy
