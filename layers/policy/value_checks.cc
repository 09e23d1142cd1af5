#include "layers/policy/value_checks.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

namespace ctrsnap::policy {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

}  // namespace

double ShannonEntropy(std::string_view s) {
  if (s.empty()) return 0;
  std::array<uint32_t, 256> counts{};
  for (unsigned char c : s) ++counts[c];
  double h = 0;
  const double n = static_cast<double>(s.size());
  for (uint32_t c : counts) {
    if (c == 0) continue;
    double p = c / n;
    h -= p * std::log2(p);
  }
  return h;
}

int CharClassCount(std::string_view s) {
  bool lower = false, upper = false, digit = false, other = false;
  for (unsigned char c : s) {
    if (std::islower(c)) lower = true;
    else if (std::isupper(c)) upper = true;
    else if (std::isdigit(c)) digit = true;
    else other = true;
  }
  return int(lower) + int(upper) + int(digit) + int(other);
}

bool LooksLikePlaceholder(std::string_view value) {
  if (value.empty()) return true;
  const std::string v = Lower(value);
  static constexpr std::string_view kWords[] = {
      "xxxx",    "example", "your",   "changeme", "change_me", "placeholder", "dummy",
      "redacted", "****",   "<",      ">",        "${",        "{{",          "sample",
      "replace", "insert",  "foobar", "fake",     "todo",      "secret_here", "...",
      "0000000", "1234567", "abcdefg", "lorem",   "notreal",   "not_real",    "test_key",
      "mytoken", "mysecret", "mypassword", "password123"};
  for (std::string_view w : kWords) {
    if (v.find(w) != std::string::npos) return true;
  }
  // Words that stand in for a password in docs and samples.
  static constexpr std::string_view kWholeWords[] = {
      "password", "passwd", "pass", "secret", "pwd", "admin", "root", "test", "guest", "user",
      "username", "token", "apikey", "api_key", "none", "null", "empty", "default"};
  for (std::string_view w : kWholeWords) {
    if (v == w) return true;
  }
  // Mostly one repeated character ("aaaaaaaa", "ghp_000000...").
  std::array<uint32_t, 256> counts{};
  for (unsigned char c : value) ++counts[c];
  uint32_t top = *std::max_element(counts.begin(), counts.end());
  if (top * 2 > value.size() && value.size() >= 6) return true;
  return false;
}

bool LooksLikeReference(std::string_view value) {
  if (value.empty()) return true;
  const char c0 = value[0];
  const char c1 = value.size() > 1 ? value[1] : '\0';
  if (c0 == '{' || c0 == '(' || c0 == '<' || c0 == '[') return true;
  if (c0 == '$' && (c1 == '{' || c1 == '(' || c1 == '_' || std::isalpha(static_cast<unsigned char>(c1)))) {
    return true;
  }
  if (c0 == '%' && (c1 == '(' || c1 == '{')) return true;
  // A call: "get_secret(...)", "os.getenv(...)".
  size_t ident = 0;
  while (ident < value.size() && (std::isalnum(static_cast<unsigned char>(value[ident])) ||
                                  value[ident] == '_' || value[ident] == '.')) {
    ++ident;
  }
  if (ident > 0 && ident < value.size() && value[ident] == '(') return true;
  const std::string v = Lower(value);
  static constexpr std::string_view kRefs[] = {
      "os.environ", "getenv",  "process.env", "env[",    "env.",     "environ[",
      "config.",    "settings.", "secrets.",  "vault:",  "self.",
      "params.",    "args.",   "options.",   "none",    "null",     "true",
      "false",      "undefined"};
  for (std::string_view r : kRefs) {
    if (v.find(r) != std::string::npos) return true;
  }
  return false;
}

bool ValidGithubStyleChecksum(std::string_view token) {
  size_t us = token.find('_');
  if (us == std::string_view::npos) return false;
  std::string_view body = token.substr(us + 1);
  if (body.size() != 36) return false;
  std::string_view random = body.substr(0, 30);
  std::string_view check = body.substr(30);
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(random.data()),
                    static_cast<uInt>(random.size()));
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  char enc[6];
  uint64_t n = crc;
  for (int i = 5; i >= 0; --i) {
    enc[i] = kAlphabet[n % 62];
    n /= 62;
  }
  return std::string_view(enc, 6) == check;
}

bool LooksLikeJwt(std::string_view token) {
  size_t dot = token.find('.');
  if (dot == std::string_view::npos) return false;
  std::string header;
  if (!DecodeBase64(token.substr(0, dot), &header, 4096)) return false;
  if (header.find("\"alg\"") == std::string::npos) return false;
  std::string h = Lower(header);
  if (h.find("\"none\"") != std::string::npos) return false;
  size_t dot2 = token.find('.', dot + 1);
  return dot2 != std::string_view::npos && token.size() - dot2 - 1 >= 16;
}

std::string MaskValue(std::string_view value) {
  const size_t n = value.size();
  if (n >= 24) return std::string(value.substr(0, 6)) + "..." + std::string(value.substr(n - 4));
  if (n >= 12) return std::string(value.substr(0, 3)) + "..." + std::string(value.substr(n - 2));
  if (n >= 4) return std::string(value.substr(0, 1)) + "...";
  return "...";
}

std::string Fingerprint(std::string_view value) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(value.data(), value.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

bool DecodeBase64(std::string_view in, std::string* out, size_t max_out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '=') break;
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '\\' && i + 1 < in.size() && (in[i + 1] == 'n' || in[i + 1] == 'r')) {
      ++i;
      continue;
    }
    int v = Base64Value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (out->size() >= max_out) return true;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

std::string UnescapeJson(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '\\' || i + 1 >= in.size()) {
      out.push_back(c);
      continue;
    }
    char e = in[i + 1];
    switch (e) {
      case 'n': out.push_back('\n'); ++i; break;
      case 't': out.push_back('\t'); ++i; break;
      case 'r': out.push_back('\r'); ++i; break;
      case '"': case '\\': case '/': out.push_back(e); ++i; break;
      case 'u': {
        if (i + 5 < in.size()) {
          unsigned cp = 0;
          bool ok = true;
          for (size_t k = i + 2; k < i + 6; ++k) {
            char h = in[k];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= unsigned(h - 'A' + 10);
            else ok = false;
          }
          if (ok) {
            if (cp < 0x80) {
              out.push_back(static_cast<char>(cp));
            } else if (cp < 0x800) {
              out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
              out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
            } else {
              out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
              out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
              out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
            }
            i += 5;
            break;
          }
        }
        out.push_back(c);
        break;
      }
      default: out.push_back(c); break;
    }
  }
  return out;
}

}  // namespace ctrsnap::policy
