// The built-in secret rules: one row per format. Each row's PATTERN is
// compiled twice: into one Vectorscan database (with CANDIDATE instead where
// given, a cheaper prefix) that finds candidates for all rules in one pass,
// and into RE2, which confirms a candidate on its line and extracts the value
// (the first non-empty capture group from VALUE_GROUP on; the whole match
// when the pattern has no group). Both engines run in linear time.
//
// Patterns use the subset both engines accept: no look-around, no
// back-references, no named groups.
#pragma once

#include <cstddef>
#include <span>

namespace ctrsnap::policy {

enum class RuleCheck {
  kNone,           // placeholder filter and MIN_ENTROPY only
  kGithubCrc,      // GitHub/npm CRC32 suffix must match (or very high entropy)
  kJwt,            // header must decode to JSON with an "alg"
  kGeneric,        // keyword = value: reference/placeholder/character-class filters
  kPemBody,        // hand check: a PEM/OpenSSH/PGP block with a real base64 body
  kPutty,          // hand check: PuTTY .ppk with Private-Lines
  kUserPassB64,    // value is base64("user:password") with a non-empty password
  kNestedB64,      // value is base64 of text that the detectors are run on again
  kPassword,       // a password: reference/placeholder filters, >= 6 chars
};

struct RuleDef {
  const char* id;           // without the "secret." prefix
  const char* description;
  const char* pattern;
  const char* candidate = nullptr;  // Vectorscan pattern when not PATTERN
  RuleCheck check = RuleCheck::kNone;
  double min_entropy = 0;
  int value_group = 1;
  bool multiline = false;            // window runs past the line (PEM blocks)
  const char* path_glob = nullptr;   // rule only applies to matching paths
};

std::span<const RuleDef> BuiltinRules();

}  // namespace ctrsnap::policy
