// Small pure functions the detectors use to judge and present a candidate
// value: entropy, placeholders, provider checksums, masking, fingerprints,
// base64 and JSON-escape decoding. None of them allocates more than its
// input's size; all are linear.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ctrsnap::policy {

// Shannon entropy in bits per character (0 for empty input).
double ShannonEntropy(std::string_view s);

// True for values that are obviously not real secrets: "xxxx", "<token>",
// "${VAR}", "changeme", "EXAMPLE", "your-key-here", repeated characters,
// ascending runs ("123456789", "abcdefgh").
bool LooksLikePlaceholder(std::string_view value);

// True when VALUE reads like code or a reference rather than a literal:
// "os.environ[...]", "$VAR", "process.env.X", "getenv(", "{{ .Values.x }}".
bool LooksLikeReference(std::string_view value);

// GitHub (ghp_, gho_, ghu_, ghs_, ghr_) and npm (npm_) tokens end with six
// base62 characters that encode CRC32 of the 30 random characters before them.
// TOKEN is the whole token including its prefix.
bool ValidGithubStyleChecksum(std::string_view token);

// A JWT whose header decodes to JSON with an "alg" other than "none".
bool LooksLikeJwt(std::string_view token);

// "ghp_iI5J...nJOw": the first and last few characters, never more than
// about a third of the value; short values show only their first character.
std::string MaskValue(std::string_view value);

// Hex sha256 of VALUE: the fingerprint users put in allow-lists.
std::string Fingerprint(std::string_view value);

// Standard or URL-safe base64, padding optional, whitespace and literal
// "\n" escapes skipped. Returns false on any other character.
bool DecodeBase64(std::string_view in, std::string* out, size_t max_out);

// Decodes JSON string escapes (\" \\ \n \t \uXXXX as UTF-8). Invalid escapes
// are kept verbatim.
std::string UnescapeJson(std::string_view in);

// Counts of character classes present in S.
int CharClassCount(std::string_view s);

}  // namespace ctrsnap::policy
