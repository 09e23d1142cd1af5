#include "layers/drift/inventory.h"

#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ctrsnap::drift {

std::string Item::Key() const {
  std::string k;
  k.reserve(ecosystem.size() + location.size() + name.size() + arch.size() + 3);
  k += ecosystem;
  k += '\x1f';
  k += location;
  k += '\x1f';
  k += name;
  k += '\x1f';
  k += arch;
  return k;
}

void Inventory::Normalize() {
  std::vector<std::pair<std::string, size_t>> keys;
  keys.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) keys.emplace_back(items[i].Key(), i);
  std::stable_sort(keys.begin(), keys.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Item> out;
  out.reserve(items.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0 && keys[i].first == keys[i - 1].first) continue;
    out.push_back(std::move(items[keys[i].second]));
  }
  items = std::move(out);
  std::sort(notes.begin(), notes.end());
  notes.erase(std::unique(notes.begin(), notes.end()), notes.end());
}

void Inventory::AddNote(std::string note) { notes.push_back(std::move(note)); }

std::map<std::string, size_t> Inventory::CountsByEcosystem() const {
  std::map<std::string, size_t> counts;
  for (const auto& it : items) ++counts[it.ecosystem];
  return counts;
}

static void PutIf(nlohmann::json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}

std::string Inventory::ToJson() const {
  nlohmann::json j;
  j["format"] = kFormatVersion;
  j["source"] = source;
  j["notes"] = notes;
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& it : items) {
    nlohmann::json e = {{"eco", it.ecosystem}, {"name", it.name}};
    PutIf(e, "version", it.version);
    PutIf(e, "arch", it.arch);
    PutIf(e, "build", it.build);
    PutIf(e, "channel", it.channel);
    PutIf(e, "location", it.location);
    PutIf(e, "path", it.path);
    PutIf(e, "digest", it.digest);
    PutIf(e, "mode", it.mode);
    PutIf(e, "owner", it.owner);
    if (it.secret) e["secret"] = true;
    arr.push_back(std::move(e));
  }
  j["items"] = std::move(arr);
  // Invalid UTF-8 from a hostile package database must not throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<Inventory> Inventory::FromJson(std::string_view text) {
  Inventory inv;
  try {
    auto j = nlohmann::json::parse(text);
    if (!j.is_object()) return Status::Corrupt("inventory: not a JSON object");
    int format = j.at("format").get<int>();
    if (format != kFormatVersion) {
      return Status::Unsupported("inventory format " + std::to_string(format) + " (expected " +
                                 std::to_string(kFormatVersion) + ")");
    }
    inv.source = j.value("source", "");
    if (j.contains("notes")) inv.notes = j.at("notes").get<std::vector<std::string>>();
    for (const auto& e : j.at("items")) {
      Item it;
      it.ecosystem = e.at("eco").get<std::string>();
      it.name = e.at("name").get<std::string>();
      it.version = e.value("version", "");
      it.arch = e.value("arch", "");
      it.build = e.value("build", "");
      it.channel = e.value("channel", "");
      it.location = e.value("location", "");
      it.path = e.value("path", "");
      it.digest = e.value("digest", "");
      it.mode = e.value("mode", "");
      it.owner = e.value("owner", "");
      it.secret = e.value("secret", false);
      inv.items.push_back(std::move(it));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corrupt(std::string("inventory: ") + e.what());
  }
  inv.Normalize();
  return inv;
}

std::string Sha256Digest(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string Inventory::Digest() const { return Sha256Digest(ToJson()); }

std::string Inventory::SummaryJson() const {
  nlohmann::json j;
  j["format"] = kFormatVersion;
  j["digest"] = Digest();
  j["counts"] = CountsByEcosystem();
  if (!notes.empty()) j["notes"] = notes.size();
  return j.dump();
}

}  // namespace ctrsnap::drift
