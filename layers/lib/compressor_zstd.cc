// zstd through libzstd's own worker threads (ZSTD_c_nbWorkers). nbWorkers is
// always >= 1: zstd's multi-threaded output does not depend on the worker
// count, so layers are deterministic on any machine.
#include <zstd.h>

#include "layers/lib/compressor.h"

namespace ctrsnap::layers {
namespace {

class ZstdCompressor final : public ByteSink {
 public:
  ZstdCompressor(ByteSink* out, const CompressorOptions& o) : out_(out) {
    cctx_ = ZSTD_createCCtx();
    if (cctx_ == nullptr) return;
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, o.level > 0 ? o.level : 3);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
    int workers = o.threads > 0 ? o.threads : DefaultThreadCount();
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_nbWorkers, workers < 1 ? 1 : workers);
    buf_.resize(ZSTD_CStreamOutSize());
  }
  ~ZstdCompressor() override { ZSTD_freeCCtx(cctx_); }

  Status Write(std::string_view data) override {
    if (cctx_ == nullptr) return Status::Internal("zstd: cannot create context");
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    while (in.pos < in.size) RETURN_IF_ERROR(Step(&in, ZSTD_e_continue, nullptr));
    return Status::Ok();
  }

  Status Close() override {
    if (cctx_ == nullptr) return Status::Internal("zstd: cannot create context");
    ZSTD_inBuffer in{nullptr, 0, 0};
    bool done = false;
    while (!done) RETURN_IF_ERROR(Step(&in, ZSTD_e_end, &done));
    return out_->Close();
  }

 private:
  Status Step(ZSTD_inBuffer* in, ZSTD_EndDirective mode, bool* done) {
    ZSTD_outBuffer out{buf_.data(), buf_.size(), 0};
    size_t rc = ZSTD_compressStream2(cctx_, &out, in, mode);
    if (ZSTD_isError(rc)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(rc));
    if (out.pos > 0) RETURN_IF_ERROR(out_->Write(std::string_view(buf_.data(), out.pos)));
    if (done != nullptr) *done = rc == 0;
    return Status::Ok();
  }

  ByteSink* out_;
  ZSTD_CCtx* cctx_ = nullptr;
  std::string buf_;
};

}  // namespace

std::unique_ptr<ByteSink> NewZstdCompressor(ByteSink* out, const CompressorOptions& options) {
  return std::make_unique<ZstdCompressor>(out, options);
}

}  // namespace ctrsnap::layers
