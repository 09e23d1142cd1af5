// Compressor: a ByteSink that compresses into another ByteSink. One file per
// backend: compressor_gzip.cc, compressor_zstd.cc, compressor_none.cc.
//
// Output is deterministic: the same input bytes give the same compressed
// bytes whatever the thread count (gzip members have a fixed input size;
// zstd always runs in its multi-threaded mode, whose output does not depend
// on nbWorkers).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "layers/lib/byte_sink.h"

namespace ctrsnap::layers {

enum class Compression { kNone, kGzip, kZstd };

std::string_view CompressionName(Compression c);
Result<Compression> ParseCompression(std::string_view name);
// The OCI layer media type for C.
const char* LayerMediaType(Compression c);

struct CompressorOptions {
  int level = 0;    // 0: the backend's default (gzip 1, zstd 3)
  int threads = 0;  // 0: number of online CPUs
};

// OUT must outlive the compressor; Close() closes OUT too.
std::unique_ptr<ByteSink> NewNoneCompressor(ByteSink* out);
std::unique_ptr<ByteSink> NewGzipCompressor(ByteSink* out, const CompressorOptions& options);
std::unique_ptr<ByteSink> NewZstdCompressor(ByteSink* out, const CompressorOptions& options);
std::unique_ptr<ByteSink> NewCompressor(Compression c, ByteSink* out,
                                        const CompressorOptions& options);

int DefaultThreadCount();

}  // namespace ctrsnap::layers
