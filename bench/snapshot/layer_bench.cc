// ctrsnap-layerbench: layer write throughput (tar + sha256 + compression +
// blob file) on a generated change set, for each compressor.
//
//   ctrsnap-layerbench [--dir DIR] [--small-files 2000] [--small-mb 200]
//                      [--large-mb 500] [--reps 3] [--threads N] [--level N]
//                      [--pattern mixed|realistic]
//
// The change set is generated once (partly compressible data: half random,
// half text-like), read from the page cache (warm) for every run; the output
// blob goes to DIR. Prints one line per run and the median per compressor.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "layers/lib/blob_store.h"
#include "layers/lib/change_set.h"
#include "layers/lib/compressor.h"
#include "layers/lib/layer_writer.h"

namespace {

using namespace ctrsnap;          // NOLINT: benchmark main
using namespace ctrsnap::layers;  // NOLINT

enum class Pattern { kMixed, kText, kRandom };

// Fills BUF. kMixed: 4 KiB random and 4 KiB random-letter runs interleaved
// (compresses ~1.2x; hard for every compressor). kText: words from a small
// vocabulary (compresses ~4x, like source and packages). kRandom: like
// model weights.
void Fill(std::mt19937_64& rng, std::string* buf, Pattern pattern = Pattern::kMixed) {
  static const char* kVocab[] = {"import ", "numpy ", "torch ", "def ", "return ", "self, ",
                                 "model", "layer", "weight", "(x)\n", "    ", "config = ",
                                 "cache", "tensor", "0.0, ", "None\n"};
  if (pattern == Pattern::kText) {
    size_t i = 0;
    while (i < buf->size()) {
      const char* w = kVocab[rng() % 16];
      for (; *w && i < buf->size(); ++w) (*buf)[i++] = *w;
    }
    return;
  }
  if (pattern == Pattern::kRandom) {
    for (size_t i = 0; i < buf->size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(buf->data() + i, &v, std::min<size_t>(8, buf->size() - i));
    }
    return;
  }
  static const char kWords[] = "import numpy torch model layer weight tensor config cache ";
  for (size_t i = 0; i < buf->size(); i += 8) {
    uint64_t v = rng();
    if ((i / 4096) % 2 == 0) {
      std::memcpy(buf->data() + i, &v, std::min<size_t>(8, buf->size() - i));
    } else {
      for (size_t k = 0; k < 8 && i + k < buf->size(); ++k) {
        (*buf)[i + k] = kWords[(v >> (k * 3)) % (sizeof(kWords) - 1)];
      }
    }
  }
}

bool WriteGenerated(const std::string& path, uint64_t bytes, std::mt19937_64& rng,
                    Pattern pattern) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::string buf(1 << 20, '\0');
  while (bytes > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(bytes, buf.size()));
    buf.resize(n);
    Fill(rng, &buf, pattern);
    if (!WriteAll(fd, buf).ok()) {
      ::close(fd);
      return false;
    }
    bytes -= n;
  }
  ::close(fd);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  uint64_t small_files = 2000, small_mb = 200, large_mb = 500;
  int reps = 3, threads = 0, level = 0;
  std::string pattern_name = "mixed";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--dir") dir = v;
    else if (a == "--small-files") small_files = std::stoull(v);
    else if (a == "--small-mb") small_mb = std::stoull(v);
    else if (a == "--large-mb") large_mb = std::stoull(v);
    else if (a == "--reps") reps = std::stoi(v);
    else if (a == "--threads") threads = std::stoi(v);
    else if (a == "--level") level = std::stoi(v);
    else if (a == "--pattern") pattern_name = v;
  }
  bool own_dir = dir.empty();
  if (own_dir) {
    char tmpl[] = "/var/tmp/ctrsnap-layerbench.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return 1;
    dir = tmpl;
  }
  // mixed: every file interleaved (worst case); realistic: text-like small
  // files and a random (weights-like) large file.
  Pattern small_pattern = pattern_name == "realistic" ? Pattern::kText : Pattern::kMixed;
  Pattern large_pattern = pattern_name == "realistic" ? Pattern::kRandom : Pattern::kMixed;
  std::string upper = dir + "/upper";
  std::mt19937_64 rng(7);
  if (!MakeDirs(upper + "/app/data").ok()) return 1;
  uint64_t per_file = small_files ? (small_mb << 20) / small_files : 0;
  for (uint64_t i = 0; i < small_files; ++i) {
    std::string sub = upper + "/app/data/d" + std::to_string(i % 40);
    if (i < 40 && !MakeDirs(sub).ok()) return 1;
    if (!WriteGenerated(sub + "/f" + std::to_string(i), per_file, rng, small_pattern)) return 1;
  }
  if (large_mb && !WriteGenerated(upper + "/app/model.bin", large_mb << 20, rng, large_pattern)) {
    return 1;
  }
  std::printf("pattern: %s\n", pattern_name.c_str());
  std::printf("change set: %llu files of %llu KB + one %llu MB file in %s (page cache warm)\n",
              static_cast<unsigned long long>(small_files),
              static_cast<unsigned long long>(per_file >> 10),
              static_cast<unsigned long long>(large_mb), upper.c_str());
  std::printf("cpus online: %d, compressor threads: %d\n", DefaultThreadCount(),
              threads ? threads : DefaultThreadCount());

  auto stack = OverlayStack::Open({upper});
  auto store = BlobStore::Open(dir + "/store");
  if (!stack.ok() || !store.ok()) return 1;
  KeepAllFilter keep;
  LayerWriterOptions lw;
  lw.filter = &keep;
  for (Compression c : {Compression::kZstd, Compression::kGzip, Compression::kNone}) {
    std::vector<double> rates;
    for (int r = 0; r < reps; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      auto root = BuildChangeSet(*stack, {0});
      auto blob = store->NewBlob();
      if (!root.ok() || !blob.ok()) return 1;
      auto comp = NewCompressor(c, blob->get(), CompressorOptions{level, threads});
      auto stats = WriteLayer(*stack, **root, lw, comp.get());
      if (!stats.ok()) {
        std::fprintf(stderr, "%s\n", stats.status().ToString().c_str());
        return 1;
      }
      auto desc = (*blob)->Commit(LayerMediaType(c));
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double mbs = static_cast<double>(stats->tar_bytes) / 1e6 / s;
      rates.push_back(mbs);
      std::printf("%-5s rep %d: %7.1f MB in %6.2f s = %6.1f MB/s  -> %7.1f MB (%.2fx)\n",
                  std::string(CompressionName(c)).c_str(), r + 1,
                  static_cast<double>(stats->tar_bytes) / 1e6, s, mbs,
                  static_cast<double>(desc->size) / 1e6,
                  static_cast<double>(stats->tar_bytes) / static_cast<double>(desc->size));
      ::unlink(store->BlobPath(desc->digest).c_str());
    }
    std::sort(rates.begin(), rates.end());
    std::printf("%-5s median %.1f MB/s (min %.1f, max %.1f)\n",
                std::string(CompressionName(c)).c_str(), rates[rates.size() / 2], rates.front(),
                rates.back());
  }
  if (own_dir) (void)RemoveTree(dir);
  return 0;
}
