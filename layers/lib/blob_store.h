// BlobStore: a content-addressed directory of blobs laid out as in an OCI
// image layout (ROOT/blobs/sha256/<hex>). Used for STATE/snapshots/ (each
// snapshot stores only its new layer, config and manifest) and for the OCI
// layouts ctrsnap writes.
//
// Invariant: a file at blobs/sha256/<hex> always holds exactly the bytes
// whose sha256 is <hex>: blobs are written to a temporary name, hashed while
// written, fsynced, then renamed to their digest.
#pragma once

#include <memory>
#include <string>

#include "common/oci_image.h"
#include "common/status.h"
#include "layers/lib/byte_sink.h"

namespace ctrsnap::layers {

class BlobStore;

// A blob being written. Write() then Commit(); dropping it unlinks the temp file.
class BlobWriter final : public ByteSink {
 public:
  ~BlobWriter() override;
  Status Write(std::string_view data) override { return sink_->Write(data); }
  // Closes (fsyncs) the data; Commit() publishes it.
  Status Close() override;
  // Renames the blob to its digest. REQUIRES: Close() succeeded.
  Result<oci::Descriptor> Commit(const std::string& media_type);

 private:
  friend class BlobStore;
  BlobWriter(const BlobStore* store, std::string tmp_path, UniqueFd fd);
  const BlobStore* store_;
  std::string tmp_path_;
  std::unique_ptr<HashingFileSink> sink_;
  bool closed_ = false;
  bool committed_ = false;
};

class BlobStore {
 public:
  // Creates ROOT/blobs/sha256 when missing.
  static Result<BlobStore> Open(const std::string& root);

  const std::string& root() const { return root_; }
  std::string BlobPath(const std::string& digest) const;
  bool Has(const std::string& digest) const;

  Result<std::unique_ptr<BlobWriter>> NewBlob() const;
  Result<oci::Descriptor> PutBytes(std::string_view data, const std::string& media_type) const;
  Result<std::string> ReadBlob(const std::string& digest, size_t max_bytes = 64 << 20) const;
  // Puts the blob at PATH (known DIGEST) here: hard link when possible, else copy.
  Status Import(const std::string& path, const std::string& digest) const;
  // Size of the blob, or an error when missing.
  Result<int64_t> Size(const std::string& digest) const;

 private:
  std::string root_;
};

// Links (or copies) FROM to TO, creating TO atomically.
Status LinkOrCopy(const std::string& from, const std::string& to);

}  // namespace ctrsnap::layers
