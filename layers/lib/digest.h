// Streaming SHA-256 (OpenSSL EVP) and the "sha256:<hex>" digest vocabulary.
//
// Every digest ctrsnap records is computed while the bytes stream past
// (containerd's io.TeeReader(..., digester.Hash()) pattern): a finished blob
// is never read again to hash it.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ctrsnap::layers {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void Update(const void* data, size_t len);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // "sha256:<64 lowercase hex>"; the hasher is reset afterwards.
  std::string Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Digest of DATA in one call.
std::string Sha256Digest(std::string_view data);

// True for "sha256:" followed by exactly 64 lowercase hex digits.
bool IsValidDigest(std::string_view digest);
// The hex part of a valid digest. REQUIRES: IsValidDigest(digest).
std::string DigestHex(std::string_view digest);

}  // namespace ctrsnap::layers
