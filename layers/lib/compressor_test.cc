#include "layers/lib/compressor.h"

#include <random>

#include <gtest/gtest.h>

#include "layers/lib/digest.h"
#include "layers/lib/test_tree.h"

namespace ctrsnap::layers {
namespace {

// Wraps DATA in a one-file tar so the libarchive reader can decompress it.
std::string Compress(Compression c, const std::string& data, int threads) {
  StringSink sink;
  auto comp = NewCompressor(c, &sink, CompressorOptions{0, threads});
  // Feed in odd-sized pieces to cross block boundaries.
  size_t off = 0, step = 12345;
  while (off < data.size()) {
    size_t n = std::min(step, data.size() - off);
    EXPECT_TRUE(comp->Write(std::string_view(data).substr(off, n)).ok());
    off += n;
    step = step * 3 % 700001 + 1;
  }
  EXPECT_TRUE(comp->Close().ok());
  return sink.data();
}

std::string RandomishData(size_t n) {
  std::mt19937 rng(42);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(rng() % 16 + 'a');
  return s;
}

TEST(Digest, KnownValues) {
  EXPECT_EQ(Sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.Finish(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(IsValidDigest(Sha256Digest("x")));
  EXPECT_FALSE(IsValidDigest("sha256:ABC"));
  EXPECT_FALSE(IsValidDigest("sha512:" + std::string(64, 'a')));
}

TEST(Compressor, ParseNames) {
  EXPECT_EQ(*ParseCompression("gzip"), Compression::kGzip);
  EXPECT_EQ(*ParseCompression("zstd"), Compression::kZstd);
  EXPECT_EQ(*ParseCompression("none"), Compression::kNone);
  EXPECT_FALSE(ParseCompression("lz4").ok());
}

class CompressorRoundTrip : public ::testing::TestWithParam<Compression> {};

TEST_P(CompressorRoundTrip, DecompressesToInputAndIsDeterministicAcrossThreads) {
  // A tar stream of one 3.5 MiB file: several gzip members.
  std::string payload = RandomishData(3 * (1 << 20) + 512 * 1000);
  const std::string& tar = payload;
  std::string one = Compress(GetParam(), tar, 1);
  std::string four = Compress(GetParam(), tar, 4);
  EXPECT_EQ(Sha256Digest(one), Sha256Digest(four));
  if (GetParam() != Compression::kNone) {
    EXPECT_LT(one.size(), tar.size());
  }
  EXPECT_EQ(Sha256Digest(testing::Decompress(one)), Sha256Digest(tar));
}

INSTANTIATE_TEST_SUITE_P(All, CompressorRoundTrip,
                         ::testing::Values(Compression::kNone, Compression::kGzip,
                                           Compression::kZstd));

}  // namespace
}  // namespace ctrsnap::layers
