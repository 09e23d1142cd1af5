// The secret detectors (layers/policy/detector.h) over arbitrary bytes:
// no crash, no hang (Vectorscan + RE2 are linear), and for every finding:
//   - its line is within the buffer's lines (1-based);
//   - the masked value is never the whole secret when the secret is longer
//     than 12 bytes (checked through the fingerprint: sha256 hex of the value);
//   - the rule id is one of the catalog's.
// The first byte picks the container path (path-restricted rules).
#include <openssl/sha.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "layers/policy/detector.h"

namespace pol = ctrsnap::policy;

namespace {

std::string Sha256Hex(std::string_view s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

const pol::Detector& TheDetector() {
  static std::unique_ptr<pol::Detector> d = [] {
    pol::DetectorOptions o;
    o.max_inflate_bytes = 1 << 20;  // keep a gzip bomb input cheap
    auto r = pol::Detector::Create(o);
    FUZZ_CHECK(r.ok(), "Detector::Create: %s", r.status().ToString().c_str());
    return std::move(*r);
  }();
  return *d;
}

}  // namespace

// Compiling every rule into one Vectorscan database takes seconds (more on a
// loaded machine): do it before the per-input timeout starts.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)TheDetector();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* kPaths[] = {"", "/root/.netrc", "/root/.aws/credentials", "/app/.env",
                                 "/root/.docker/config.json", "/home/u/.ssh/id_rsa",
                                 "/etc/x.conf", "/root/.git-credentials"};
  std::string_view path = kPaths[data[0] % (sizeof(kPaths) / sizeof(kPaths[0]))];
  std::string_view buf(reinterpret_cast<const char*>(data + 1), size - 1);
  static const std::set<std::string> kRules = [] {
    std::set<std::string> s;
    for (const auto& r : pol::Detector::Catalog()) s.insert(r.id);
    return s;
  }();

  pol::ScanOutput out = TheDetector().Scan(buf, path);
  uint64_t lines = 1 + static_cast<uint64_t>(std::count(buf.begin(), buf.end(), '\n'));
  for (const auto& d : out.detections) {
    FUZZ_CHECK(kRules.count(d.rule) == 1, "finding of unknown rule %s", d.rule.c_str());
    FUZZ_CHECK(d.line >= 1 && d.line <= lines, "%s: line %llu of %llu", d.rule.c_str(),
               static_cast<unsigned long long>(d.line), static_cast<unsigned long long>(lines));
    FUZZ_CHECK(!(d.masked.size() > 12 && Sha256Hex(d.masked) == d.fingerprint),
               "%s: masked value is the whole secret: %s", d.rule.c_str(), d.masked.c_str());
    FUZZ_CHECK(d.fingerprint.size() == 64, "%s: fingerprint '%s'", d.rule.c_str(),
               d.fingerprint.c_str());
  }
  return 0;
}
