// Parallel gzip: the input is cut into fixed-size blocks, each compressed as
// an independent gzip member on a worker thread; the members are written in
// input order. A concatenation of gzip members is one valid gzip stream
// (RFC 1952 section 2.2), which every engine's reader accepts.
//
// Invariant: block boundaries depend only on the input (kBlockSize), never on
// the thread count or timing, so the output is deterministic.
#include <zlib.h>

#include <deque>
#include <future>

#include "layers/lib/compressor.h"

namespace ctrsnap::layers {
namespace {

constexpr size_t kBlockSize = 1 << 20;

Result<std::string> GzipMember(const std::string& in, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip wrapper with mtime 0 and no name (deterministic).
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::Internal("deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t produced = out.size() - zs.avail_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Status::Internal("deflate did not finish: " + std::to_string(rc));
  out.resize(produced);
  return out;
}

class GzipCompressor final : public ByteSink {
 public:
  GzipCompressor(ByteSink* out, const CompressorOptions& o)
      : out_(out),
        level_(o.level > 0 ? o.level : 1),
        max_in_flight_(static_cast<size_t>(o.threads > 0 ? o.threads : DefaultThreadCount()) + 1) {
    block_.reserve(kBlockSize);
  }
  ~GzipCompressor() override {
    for (auto& f : in_flight_) f.wait();
  }

  Status Write(std::string_view data) override {
    while (!data.empty()) {
      size_t take = std::min(kBlockSize - block_.size(), data.size());
      block_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (block_.size() == kBlockSize) RETURN_IF_ERROR(Submit());
    }
    return Status::Ok();
  }

  Status Close() override {
    // An empty input still gives one (empty) member: a valid gzip file.
    if (!block_.empty() || !wrote_any_) RETURN_IF_ERROR(Submit());
    while (!in_flight_.empty()) RETURN_IF_ERROR(Drain());
    return out_->Close();
  }

 private:
  Status Submit() {
    wrote_any_ = true;
    in_flight_.push_back(std::async(std::launch::async,
                                    [blk = std::move(block_), lvl = level_] {
                                      return GzipMember(blk, lvl);
                                    }));
    block_ = std::string();
    block_.reserve(kBlockSize);
    while (in_flight_.size() >= max_in_flight_) RETURN_IF_ERROR(Drain());
    return Status::Ok();
  }
  Status Drain() {
    Result<std::string> r = in_flight_.front().get();
    in_flight_.pop_front();
    if (!r.ok()) return r.status().WithContext("gzip");
    return out_->Write(*r);
  }

  ByteSink* out_;
  int level_;
  size_t max_in_flight_;
  bool wrote_any_ = false;
  std::string block_;
  std::deque<std::future<Result<std::string>>> in_flight_;
};

}  // namespace

std::unique_ptr<ByteSink> NewGzipCompressor(ByteSink* out, const CompressorOptions& options) {
  return std::make_unique<GzipCompressor>(out, options);
}

}  // namespace ctrsnap::layers
