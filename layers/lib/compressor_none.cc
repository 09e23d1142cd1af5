#include <unistd.h>

#include "layers/lib/compressor.h"
#include "common/oci_image.h"

namespace ctrsnap::layers {
namespace {

class NoneCompressor final : public ByteSink {
 public:
  explicit NoneCompressor(ByteSink* out) : out_(out) {}
  Status Write(std::string_view data) override { return out_->Write(data); }
  Status Close() override { return out_->Close(); }

 private:
  ByteSink* out_;
};

}  // namespace

std::unique_ptr<ByteSink> NewNoneCompressor(ByteSink* out) {
  return std::make_unique<NoneCompressor>(out);
}

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
  }
  return "?";
}

Result<Compression> ParseCompression(std::string_view name) {
  if (name == "none" || name == "tar") return Compression::kNone;
  if (name == "gzip" || name == "gz") return Compression::kGzip;
  if (name == "zstd") return Compression::kZstd;
  return Status::InvalidArgument("unknown compression '" + std::string(name) +
                                 "' (expected gzip, zstd or none)");
}

const char* LayerMediaType(Compression c) {
  switch (c) {
    case Compression::kNone: return oci::kMediaTypeLayer;
    case Compression::kGzip: return oci::kMediaTypeLayerGzip;
    case Compression::kZstd: return oci::kMediaTypeLayerZstd;
  }
  return oci::kMediaTypeLayer;
}

std::unique_ptr<ByteSink> NewCompressor(Compression c, ByteSink* out,
                                        const CompressorOptions& options) {
  switch (c) {
    case Compression::kGzip: return NewGzipCompressor(out, options);
    case Compression::kZstd: return NewZstdCompressor(out, options);
    case Compression::kNone: break;
  }
  return NewNoneCompressor(out);
}

int DefaultThreadCount() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace ctrsnap::layers
