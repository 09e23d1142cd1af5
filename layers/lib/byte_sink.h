// ByteSink: where a stream of bytes goes (a compressor, a blob file).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/unique_fd.h"
#include "layers/lib/digest.h"

namespace ctrsnap::layers {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status Write(std::string_view data) = 0;
  // Flushes everything; no Write() after Close().
  virtual Status Close() = 0;
};

// Writes to a file descriptor and hashes what it writes: the blob's digest
// and size come from the stream itself.
class HashingFileSink final : public ByteSink {
 public:
  explicit HashingFileSink(UniqueFd fd) : fd_(std::move(fd)) {}
  Status Write(std::string_view data) override;
  // fsyncs and closes the file.
  Status Close() override;

  // Valid after Close().
  const std::string& digest() const { return digest_; }
  uint64_t size() const { return size_; }

 private:
  UniqueFd fd_;
  Sha256 hash_;
  std::string digest_;
  uint64_t size_ = 0;
};

// Collects into memory (tests, small blobs).
class StringSink final : public ByteSink {
 public:
  Status Write(std::string_view data) override {
    out_.append(data);
    return Status::Ok();
  }
  Status Close() override { return Status::Ok(); }
  const std::string& data() const { return out_; }

 private:
  std::string out_;
};

}  // namespace ctrsnap::layers
