#include "layers/policy/detector.h"

#include <hs.h>
#include <re2/re2.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "layers/policy/glob.h"
#include "layers/policy/rules.h"
#include "layers/policy/value_checks.h"

namespace ctrsnap::policy {

struct Detector::Compiled {
  const RuleDef* def = nullptr;
  std::string id;  // "secret.<def->id>"
  std::unique_ptr<RE2> re;
  bool hand_assignment = false;  // the generic `name = value` rule: confirmed by hand
  bool disabled = false;
};

namespace {

constexpr size_t kLineWindow = 4096;     // bytes either side of a candidate on its line
constexpr size_t kBlockWindow = 16384;   // bytes after a key block header
constexpr size_t kMaxDecoded = 1 << 20;  // base64 decode bound

bool IsB64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/' || c == '=';
}

// Skips blanks, real newlines and JSON-escaped "\n" / "\r".
size_t SkipSpace(std::string_view d, size_t i, size_t limit) {
  while (i < limit) {
    char c = d[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
    } else if (c == '\\' && i + 1 < limit && (d[i + 1] == 'n' || d[i + 1] == 'r')) {
      i += 2;
    } else {
      break;
    }
  }
  return i;
}

// Skips to just past the end of the line (real or escaped newline).
size_t SkipLine(std::string_view d, size_t i, size_t limit) {
  while (i < limit) {
    if (d[i] == '\n') return i + 1;
    if (d[i] == '\\' && i + 1 < limit && d[i + 1] == 'n') return i + 2;
    ++i;
  }
  return i;
}

// After a key block header ending at P: skips RFC 1421/4880 headers
// ("Proc-Type: ...", "Version: ...") and collects the base64 body.
std::string KeyBlockBody(std::string_view d, size_t p, size_t limit) {
  size_t i = SkipSpace(d, p, limit);
  for (int h = 0; h < 8 && i < limit; ++h) {
    size_t j = i;
    while (j < limit && (std::isalnum(static_cast<unsigned char>(d[j])) || d[j] == '-')) ++j;
    if (j > i && j < limit && d[j] == ':') {
      i = SkipSpace(d, SkipLine(d, j, limit), limit);
    } else {
      break;
    }
  }
  std::string body;
  while (i < limit && body.size() < 8192) {
    char c = d[i];
    if (IsB64(c)) {
      body.push_back(c);
      ++i;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      ++i;
    } else if (c == '\\' && i + 1 < limit && (d[i + 1] == 'n' || d[i + 1] == 'r')) {
      i += 2;
    } else {
      break;
    }
  }
  return body;
}

std::string PuttyBody(std::string_view d, size_t p, size_t limit) {
  std::string_view rest = d.substr(p, limit - p);
  size_t at = rest.find("Private-Lines:");
  if (at == std::string_view::npos) return {};
  size_t i = SkipLine(d, p + at, limit);
  std::string body;
  while (i < limit && body.size() < 8192) {
    char c = d[i];
    if (IsB64(c)) {
      body.push_back(c);
    } else if (c != '\n' && c != '\r') {
      break;
    }
    ++i;
  }
  return body;
}

bool IsPrintableText(std::string_view s) {
  if (s.empty()) return false;
  size_t bad = 0;
  for (unsigned char c : s) {
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') ++bad;
  }
  return bad * 20 < s.size();
}

// Generic `name = value`: only literal, password-like or random values count.
bool GenericValueOk(std::string_view key, std::string_view value, double min_entropy) {
  if (value.size() < 8) return false;
  if (value.find("://") != std::string_view::npos) return false;
  if (value[0] == '/' || value.substr(0, 2) == "./" || value.substr(0, 2) == "~/") return false;
  for (char c : value) {
    // Printable ASCII only: binary bytes around a keyword are not a value.
    if (c <= ' ' || c >= 0x7f) return false;
  }
  // Identifiers ("_DSAPrivateKey", "BearerToken") are names, not literals.
  const bool identifier = std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
  });
  if (identifier && (value.size() < 24 || ShannonEntropy(value) < 4.0)) return false;
  if (value[0] == ':' || value[0] == '=') return false;  // "Foo::Bar", "a == b"
  std::string k(key);
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // "pass" counts in "password", "passwd" and at the end ("db_pass", "dbPass"),
  // not in "Passed:", "bypass_cache", "passthrough".
  const bool ends_pass = k.size() >= 4 && k.compare(k.size() - 4, 4, "pass") == 0 &&
                         (k.size() == 4 || !std::isalpha(static_cast<unsigned char>(k[k.size() - 5])) ||
                          std::isupper(static_cast<unsigned char>(key[key.size() - 4])));
  bool strong = ends_pass || k.find("passw") != std::string::npos;
  // Names that only say "key" must end with it: "jdk.tls.keyLimits" is a setting.
  for (std::string_view w : {"pwd", "secret", "token", "apikey", "api_key", "api-key",
                             "api.key", "credential", "salt"}) {
    strong = strong || k.find(w) != std::string::npos;
  }
  if (!strong && !(k.size() >= 3 && k.compare(k.size() - 3, 3, "key") == 0)) return false;
  static constexpr std::string_view kNotSecretSuffixes[] = {
      "name", "_file", "file", "path", "_url", "url", "_id", "type", "_env", "length", "ttl",
      "expiry", "expires", "header", "field", "_ref", "arn", "_dir", "endpoint", "_uri", "policy",
      "_format", "_size", "_count", "_version", "_mode", "_hash", "hint", "_label", "public_key",
      "publickey", "primary_key", "foreign_key", "sort_key", "partition_key", "cache_key",
      "hash_key", "range_key", "idempotency_key", "routing_key", "_key_ref", "lookup_key",
      "key_id", "keyid", "gpg_key", "_fingerprint", "_algorithm", "_alg", "_prefix", "_pattern", "_regex", "_length"};
  for (std::string_view s : kNotSecretSuffixes) {
    if (k.size() >= s.size() && k.compare(k.size() - s.size(), s.size(), s) == 0) return false;
  }
  const double e = ShannonEntropy(value);
  if (e < min_entropy) return false;
  // The costlier checks last.
  if (LooksLikeReference(value) || LooksLikePlaceholder(value)) return false;
  const int classes = CharClassCount(value);
  bool digit = false, lower_or_sep_only = true;
  for (unsigned char c : value) {
    if (std::isdigit(c)) digit = true;
    if (!(std::islower(c) || std::isdigit(c) || c == '-' || c == '_' || c == '.')) {
      lower_or_sep_only = false;
    }
  }
  // kebab/snake identifiers ("tls-secret-prod", "db_password_v2") are names.
  if (lower_or_sep_only) {
    size_t seps = std::count_if(value.begin(), value.end(),
                                [](char c) { return c == '-' || c == '_' || c == '.'; });
    if (seps > 0 && e < 4.0) return false;
  }
  if (classes >= 3) return true;
  return classes == 2 && digit && value.size() >= 16 && e >= 3.3;
}

struct ScanCtx {
  const Detector* det;
  const std::vector<std::unique_ptr<Detector::Compiled>>* rules;
  std::string_view data;
  std::string_view path;
  int depth;
  ScanOutput* out;
  std::vector<size_t> covered_until;  // per rule: candidates ending before this are done
  std::vector<char> enabled;          // per rule: not disabled and path matches
  bool code_file = false;             // IsCodeFile(path)
  size_t line_off = 0;
  uint64_t line_no = 1;
  std::set<std::string> seen;
  // Filled by the detector, used for nested scans.
  std::function<void(std::string_view, int, ScanOutput*)> rescan;

  uint64_t LineOf(size_t off) {
    if (off < line_off) {
      line_off = 0;
      line_no = 1;
    }
    line_no += static_cast<uint64_t>(std::count(data.begin() + static_cast<ptrdiff_t>(line_off),
                                                data.begin() + static_cast<ptrdiff_t>(off), '\n'));
    line_off = off;
    return line_no;
  }

  void Add(const Detector::Compiled& r, size_t value_off, std::string_view value,
           std::string reason) {
    Detection d;
    d.rule = r.id;
    d.line = LineOf(value_off);
    d.masked = MaskValue(value);
    d.fingerprint = Fingerprint(value);
    d.reason = std::move(reason);
    std::string key = d.rule + "\n" + d.fingerprint + "\n" + std::to_string(d.line);
    if (seen.insert(key).second) out->detections.push_back(std::move(d));
  }
};

void ConfirmValue(ScanCtx& ctx, const Detector::Compiled& r, size_t value_off,
                  std::string_view value, std::string_view key) {
  const RuleDef& def = *r.def;
  std::string reason = def.description;
  switch (def.check) {
    case RuleCheck::kNone:
      if (LooksLikePlaceholder(value) || ShannonEntropy(value) < def.min_entropy) return;
      break;
    case RuleCheck::kGithubCrc:
      if (LooksLikePlaceholder(value)) return;
      if (ValidGithubStyleChecksum(value)) {
        reason += ", checksum valid";
      } else if (ShannonEntropy(value.substr(4)) >= 4.3) {
        reason += ", checksum mismatch but random-looking";
      } else {
        return;
      }
      break;
    case RuleCheck::kJwt:
      if (!LooksLikeJwt(value)) return;
      break;
    case RuleCheck::kGeneric:
      if (!GenericValueOk(key, value, def.min_entropy)) return;
      reason += " (" + std::string(key.substr(0, 64)) + ")";
      break;
    case RuleCheck::kPassword:
      if (LooksLikeReference(value) || LooksLikePlaceholder(value)) return;
      if (std::any_of(value.begin(), value.end(), [](char c) { return c < ' ' || c >= 0x7f; })) {
        return;
      }
      // Too short to matter, or a lowercase word ("options", "respectively.")
      // that is prose rather than a password.
      if (value.size() < 6) return;
      if (value.size() < 16 && std::all_of(value.begin(), value.end(), [](char c) {
            return std::islower(static_cast<unsigned char>(c)) != 0 || c == '.' || c == ',' ||
                   c == ';' || c == ':';
          })) {
        return;
      }
      if (ShannonEntropy(value) < std::max(def.min_entropy, 1.5)) return;
      break;
    case RuleCheck::kUserPassB64: {
      std::string decoded;
      if (!DecodeBase64(value, &decoded, 4096)) return;
      size_t colon = decoded.find(':');
      if (colon == std::string::npos || colon + 1 >= decoded.size()) return;
      std::string_view pass = std::string_view(decoded).substr(colon + 1);
      if (LooksLikePlaceholder(value) || LooksLikePlaceholder(pass) || !IsPrintableText(decoded)) {
        return;
      }
      reason += " (decoded user:password)";
      break;
    }
    case RuleCheck::kNestedB64: {
      if (ctx.depth + 1 > 2) return;
      std::string decoded;
      if (!DecodeBase64(value, &decoded, kMaxDecoded) || !IsPrintableText(decoded)) return;
      ScanOutput inner;
      ctx.rescan(decoded, ctx.depth + 1, &inner);
      const uint64_t line = ctx.LineOf(value_off);
      for (Detection& d : inner.detections) {
        d.line = line;
        d.reason += " (inside base64)";
        std::string key = d.rule + "\n" + d.fingerprint + "\n" + std::to_string(d.line);
        if (ctx.seen.insert(key).second) ctx.out->detections.push_back(std::move(d));
      }
      return;
    }
    case RuleCheck::kPemBody:
    case RuleCheck::kPutty:
      break;
  }
  ctx.Add(r, value_off, value, std::move(reason));
}

// "Foo.Bar", "self.key", "os.sep": an expression, not a literal.
bool IsDottedIdentifier(std::string_view v) {
  bool dot = false, start = true;
  for (char c : v) {
    if (c == '.') {
      if (start) return false;
      dot = true;
      start = true;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
               (!start && std::isdigit(static_cast<unsigned char>(c)))) {
      start = false;
    } else {
      return false;
    }
  }
  return dot && !start;
}

// Files whose assignments are code: literal secrets there are quoted.
bool IsCodeFile(std::string_view path) {
  size_t dot = path.rfind('.');
  size_t slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return false;
  std::string_view ext = path.substr(dot + 1);
  static constexpr std::string_view kCode[] = {
      "py", "pyi", "js", "mjs", "cjs", "ts", "tsx", "jsx", "go", "java", "kt", "scala", "rb", "c",
      "cc", "cpp", "h", "hpp", "cs", "php", "rs", "swift", "m", "lua", "pl", "r", "dart", "groovy"};
  for (std::string_view k : kCode) {
    if (ext == k) return true;
  }
  return false;
}

bool IsKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// The generic `name = value` rule, by hand (it fires often; RE2 with
// captures on every such line would dominate the scan). The candidate ends
// just past the separator ('=', ':' or '=>'). Returns the offset up to which
// the line is done.
size_t ConfirmAssignment(ScanCtx& ctx, const Detector::Compiled& r, size_t end) {
  const std::string_view d = ctx.data;
  // Key: back over the separator, spaces, a closing quote (maybe \-escaped).
  size_t k = end;
  while (k > 0 && (d[k - 1] == '=' || d[k - 1] == ':' || d[k - 1] == '>')) --k;
  while (k > 0 && (d[k - 1] == ' ' || d[k - 1] == '\t')) --k;
  if (k > 0 && (d[k - 1] == '"' || d[k - 1] == '\'')) --k;
  if (k > 0 && d[k - 1] == '\\') --k;
  size_t key_end = k;
  while (k > 0 && key_end - k < 128 && IsKeyChar(d[k - 1])) --k;
  std::string_view key = d.substr(k, key_end - k);
  // Value: after "=", ":=", "=>", blanks and an opening quote.
  size_t v = end;
  if (v < d.size() && (d[v] == '=' || d[v] == '>')) ++v;
  while (v < d.size() && (d[v] == ' ' || d[v] == '\t')) ++v;
  char quote = 0;
  if (v + 1 < d.size() && d[v] == '\\' && d[v + 1] == '"') {
    quote = '"';
    v += 2;
  } else if (v < d.size() && (d[v] == '"' || d[v] == '\'')) {
    quote = d[v];
    ++v;
  }
  size_t e = v;
  const size_t limit = std::min(d.size(), v + 201);
  if (quote != 0) {
    while (e < limit && d[e] != quote && d[e] != '\n' && !(quote == '"' && d[e] == '\\')) ++e;
    if (e >= limit || d[e] == '\n') return e;  // unterminated: not a literal
  } else {
    while (e < limit && !std::isspace(static_cast<unsigned char>(d[e])) && d[e] != '"' &&
           d[e] != '\'' && d[e] != '`' && d[e] != ',' && d[e] != ';' && d[e] != '\\') {
      ++e;
    }
  }
  if (e - v < 6 || e - v > 200) return e;
  const std::string_view value = d.substr(v, e - v);
  // Test logs: "PASS: suite/case".
  if (key.size() == 4 && (key[0] == 'P' || key[0] == 'p') && d[end - 1] == ':') return e;
  if (quote == 0) {
    // Source code keeps secrets in string literals; an unquoted value there
    // is an expression ("key[:16]", "typing.Optional[bytes]", "Keyword.Type").
    if (ctx.code_file) return e;
    if (value.find_first_of("[](){}<>") != std::string_view::npos) return e;
    if (IsDottedIdentifier(value)) return e;
  }
  ConfirmValue(ctx, r, v, value, key);
  return e;
}

int OnCandidate(unsigned int id, unsigned long long /*from*/, unsigned long long to,
                unsigned int /*flags*/, void* arg) {
  auto& ctx = *static_cast<ScanCtx*>(arg);
  if (!ctx.enabled[id]) return 0;
  const size_t end = static_cast<size_t>(to);
  if (end <= ctx.covered_until[id]) return 0;
  const Detector::Compiled& r = *(*ctx.rules)[id];
  const std::string_view d = ctx.data;

  if (r.def->check == RuleCheck::kPemBody || r.def->check == RuleCheck::kPutty) {
    const size_t limit = std::min(d.size(), end + kBlockWindow);
    ctx.covered_until[id] = end;
    if (std::string_view(r.def->id) == "private-key-other") {
      // Only headers that no specific rule covers.
      size_t b = d.rfind("-----BEGIN ", end);
      if (b == std::string_view::npos || end - b > 64) return 0;
      std::string_view type = d.substr(b + 11, end - b - 11);
      for (std::string_view known : {"RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED ", "PGP "}) {
        if (type.substr(0, known.size()) == known) return 0;
      }
      if (type.substr(0, 12) == "PRIVATE KEY-") return 0;
    }
    std::string body = r.def->check == RuleCheck::kPemBody ? KeyBlockBody(d, end, limit)
                                                           : PuttyBody(d, end, limit);
    if (body.size() >= 64 && !LooksLikePlaceholder(body) && ShannonEntropy(body) >= 4.0) {
      ctx.Add(r, end - 1, body, r.def->description);
    }
    return 0;
  }

  if (r.hand_assignment) {
    ctx.covered_until[id] = ConfirmAssignment(ctx, r, end);
    return 0;
  }

  // The candidate's line, clamped to kLineWindow either side.
  const size_t lo_bound = end > kLineWindow ? end - kLineWindow : 0;
  size_t lo = end > 0 ? end - 1 : 0;
  while (lo > lo_bound && d[lo - 1] != '\n') --lo;
  const size_t hi_bound = std::min(d.size(), end + kLineWindow);
  size_t hi = end;
  while (hi < hi_bound && d[hi] != '\n') ++hi;
  ctx.covered_until[id] = hi;

  const std::string_view window = d.substr(lo, hi - lo);
  const int ngroups = r.re->NumberOfCapturingGroups();
  std::vector<re2::StringPiece> m(static_cast<size_t>(ngroups) + 1);
  const re2::StringPiece wpiece(window.data(), window.size());
  auto sv = [](const re2::StringPiece& p) { return std::string_view(p.data(), p.size()); };
  size_t pos = 0;
  while (pos <= window.size() &&
         r.re->Match(wpiece, pos, window.size(), RE2::UNANCHORED, m.data(), ngroups + 1)) {
    std::string_view value = sv(m[0]);
    if (ngroups >= r.def->value_group) {
      value = {};
      for (int g = r.def->value_group; g <= ngroups; ++g) {
        if (!m[static_cast<size_t>(g)].empty()) {
          value = sv(m[static_cast<size_t>(g)]);
          break;
        }
      }
    }
    std::string_view key =
        ngroups >= 1 && r.def->value_group > 1 ? sv(m[1]) : std::string_view();
    if (!value.empty()) {
      ConfirmValue(ctx, r, lo + static_cast<size_t>(value.data() - window.data()), value, key);
    }
    size_t next = static_cast<size_t>(m[0].data() - window.data()) + m[0].size();
    pos = next > pos ? next : pos + 1;
  }
  return 0;
}

}  // namespace

Result<std::unique_ptr<Detector>> Detector::Create(const DetectorOptions& options) {
  std::unique_ptr<Detector> det(new Detector());
  det->options_ = options;
  std::vector<const char*> exprs;
  std::vector<unsigned int> flags, ids;
  RE2::Options re_opts;
  re_opts.set_encoding(RE2::Options::EncodingLatin1);
  re_opts.set_log_errors(false);
  for (const RuleDef& def : BuiltinRules()) {
    auto c = std::make_unique<Compiled>();
    c->def = &def;
    c->id = std::string("secret.") + def.id;
    c->disabled = options.disabled_rules.count(c->id) > 0;
    c->hand_assignment = std::string_view(def.id) == "generic-secret-assignment";
    c->re = std::make_unique<RE2>(def.pattern, re_opts);
    if (!c->re->ok()) {
      return Status::Internal("rule " + c->id + ": RE2: " + c->re->error());
    }
    ids.push_back(static_cast<unsigned int>(det->rules_.size()));
    exprs.push_back(def.candidate != nullptr ? def.candidate : def.pattern);
    flags.push_back(HS_FLAG_MULTILINE);
    det->rules_.push_back(std::move(c));
  }
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                       HS_MODE_BLOCK, nullptr, &det->db_, &err) != HS_SUCCESS) {
    std::string msg = "compile secret rules: ";
    if (err != nullptr) {
      if (err->expression >= 0) msg += det->rules_[static_cast<size_t>(err->expression)]->id + ": ";
      msg += err->message;
      hs_free_compile_error(err);
    }
    return Status::Internal(msg);
  }
  if (hs_alloc_scratch(det->db_, &det->proto_scratch_) != HS_SUCCESS) {
    return Status::Internal("hs_alloc_scratch failed");
  }
  return det;
}

Detector::~Detector() {
  for (hs_scratch_t* s : pool_) hs_free_scratch(s);
  if (proto_scratch_ != nullptr) hs_free_scratch(proto_scratch_);
  if (db_ != nullptr) hs_free_database(db_);
}

hs_scratch* Detector::AcquireScratch() const {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      hs_scratch_t* s = pool_.back();
      pool_.pop_back();
      return s;
    }
  }
  hs_scratch_t* s = nullptr;
  if (hs_clone_scratch(proto_scratch_, &s) != HS_SUCCESS) return nullptr;
  return s;
}

void Detector::ReleaseScratch(hs_scratch* s) const {
  std::lock_guard<std::mutex> lock(pool_mu_);
  pool_.push_back(s);
}

std::vector<RuleInfo> Detector::Catalog() {
  std::vector<RuleInfo> out;
  for (const RuleDef& def : BuiltinRules()) {
    out.push_back({std::string("secret.") + def.id, def.description});
  }
  return out;
}

namespace {

// Rules that restate what a specific rule already said about the same value.
bool IsWeakRule(std::string_view id) {
  return id == "secret.generic-secret-assignment" || id == "secret.url-credentials" ||
         id == "secret.http-bearer-token" || id == "secret.kubeconfig-token" ||
         id == "secret.npmrc-auth";
}

}  // namespace

ScanOutput Detector::Scan(std::string_view data, std::string_view path) const {
  ScanOutput out;
  ScanInto(data, path, 0, &out);
  // A weak (generic) finding is dropped when a specific rule reported the
  // same value, or (for the generic assignment) anything on the same line.
  std::set<std::string> strong_values;
  std::set<uint64_t> strong_lines;
  for (const Detection& d : out.detections) {
    if (!IsWeakRule(d.rule)) {
      strong_values.insert(d.fingerprint);
      strong_lines.insert(d.line);
    }
  }
  std::vector<Detection> kept;
  for (Detection& d : out.detections) {
    if (IsWeakRule(d.rule)) {
      if (strong_values.count(d.fingerprint) != 0) continue;
      if (d.rule == "secret.generic-secret-assignment" && strong_lines.count(d.line) != 0) continue;
    }
    kept.push_back(std::move(d));
  }
  std::sort(kept.begin(), kept.end(), [](const Detection& a, const Detection& b) {
    return a.line != b.line ? a.line < b.line : a.rule < b.rule;
  });
  out.detections = std::move(kept);
  return out;
}

namespace {

// Inflates a gzip (or zlib) stream, at most MAX bytes of output.
bool Inflate(std::string_view in, uint64_t max, std::string* out, bool* truncated) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return false;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(std::min<size_t>(in.size(), UINT32_MAX));
  *truncated = false;
  char buf[65536];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    size_t got = sizeof(buf) - zs.avail_out;
    if (out->size() + got > max) {
      out->append(buf, max - out->size());
      *truncated = true;
      break;
    }
    out->append(buf, got);
    // Concatenated gzip members (rotated logs): continue with the next one.
    if (rc == Z_STREAM_END && zs.avail_in > 0) rc = inflateReset(&zs);
    if (got == 0 && rc == Z_BUF_ERROR) break;
  }
  inflateEnd(&zs);
  return !out->empty();
}

}  // namespace

void Detector::ScanInto(std::string_view data, std::string_view path, int depth,
                        ScanOutput* out) const {
  if (data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
      static_cast<unsigned char>(data[1]) == 0x8b && depth < options_.max_decode_depth) {
    std::string plain;
    bool truncated = false;
    if (Inflate(data, options_.max_inflate_bytes, &plain, &truncated)) {
      if (truncated) {
        out->limits.push_back("gzip output truncated at " +
                              std::to_string(options_.max_inflate_bytes) + " bytes");
      }
      ScanOutput inner;
      ScanInto(plain, path, depth + 1, &inner);
      for (Detection& d : inner.detections) {
        d.reason += " (in gzip data)";
        out->detections.push_back(std::move(d));
      }
      out->limits.insert(out->limits.end(), inner.limits.begin(), inner.limits.end());
      return;
    }
  }
  if (data.size() > UINT32_MAX) data = data.substr(0, UINT32_MAX);
  ScanCtx ctx;
  ctx.det = this;
  ctx.rules = &rules_;
  ctx.data = data;
  ctx.path = path;
  ctx.depth = depth;
  ctx.out = out;
  ctx.covered_until.assign(rules_.size(), 0);
  EnabledFor(path, &ctx.enabled, &ctx.code_file);
  ctx.rescan = [this, path](std::string_view d, int dep, ScanOutput* o) {
    ScanInto(d, path, dep, o);
  };
  hs_scratch_t* scratch = AcquireScratch();
  if (scratch == nullptr) {
    out->limits.push_back("out of memory for scan scratch");
    return;
  }
  hs_scan(db_, data.data(), static_cast<unsigned int>(data.size()), 0, scratch, OnCandidate, &ctx);
  ReleaseScratch(scratch);
}

std::string Detector::PathSignature(std::string_view path) const {
  std::vector<char> enabled;
  bool code_file = false;
  EnabledFor(path, &enabled, &code_file);
  std::string sig(1, code_file ? 'c' : '-');
  sig.append(enabled.begin(), enabled.end());
  return sig;
}

void Detector::EnabledFor(std::string_view path, std::vector<char>* enabled, bool* code_file) const {
  *code_file = IsCodeFile(path);
  enabled->assign(rules_.size(), 1);
  auto& en = *enabled;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Compiled& r = *rules_[i];
    if (r.disabled) {
      en[i] = 0;
    } else if (r.def->path_glob != nullptr) {
      // PATH_GLOB: basename patterns, "{a,b}" for alternatives.
      bool any = false;
      std::string_view g = r.def->path_glob;
      if (!g.empty() && g.front() == '{') g = g.substr(1, g.size() - 2);
      size_t start = 0;
      std::string_view base = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
      while (start <= g.size() && !any) {
        size_t comma = g.find(',', start);
        if (comma == std::string_view::npos) comma = g.size();
        any = MatchSegment(g.substr(start, comma - start), base);
        start = comma + 1;
      }
      en[i] = any ? 1 : 0;
    }
  }
}

}  // namespace ctrsnap::policy
