// RPM packages from the sqlite rpmdb (rpm >= 4.16: /var/lib/rpm/rpmdb.sqlite or
// /usr/lib/sysimage/rpm/rpmdb.sqlite), read without rpm: the file is loaded
// into memory (sqlite3_deserialize, so no journal or WAL is touched next to
// it) and each Packages.blob is parsed as an rpm header. BerkeleyDB and ndb
// databases are skipped with a note.
#include <arpa/inet.h>
#include <fcntl.h>
#include <sqlite3.h>

#include <cstring>
#include <memory>

#include "layers/drift/root_fs.h"
#include "layers/drift/scanners.h"

namespace ctrsnap::drift {
namespace {

constexpr uint32_t kTagName = 1000;
constexpr uint32_t kTagVersion = 1001;
constexpr uint32_t kTagRelease = 1002;
constexpr uint32_t kTagEpoch = 1003;
constexpr uint32_t kTagArch = 1022;
constexpr uint32_t kTypeInt32 = 4;
constexpr uint32_t kTypeString = 6;
constexpr uint32_t kTypeI18nString = 9;

uint32_t Be32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return ntohl(v);
}

Status ScanSqlite(std::string bytes, const std::string& shown, Inventory& inv) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return Status::Internal("sqlite3_open failed");
  }
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close);
  auto size = static_cast<sqlite3_int64>(bytes.size());
  auto* buf = static_cast<unsigned char*>(sqlite3_malloc64(bytes.size()));
  if (buf == nullptr) return Status::Internal("sqlite3_malloc failed");
  std::memcpy(buf, bytes.data(), bytes.size());
  int rc = sqlite3_deserialize(db.get(), "main", buf, size, size,
                               SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY);
  if (rc != SQLITE_OK) return Status::Corrupt(shown + ": not a sqlite database");
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db.get(), "SELECT blob FROM Packages", -1, &stmt, nullptr) != SQLITE_OK) {
    return Status::Corrupt(shown + ": " + sqlite3_errmsg(db.get()));
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(stmt, sqlite3_finalize);
  size_t bad = 0;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const void* blob = sqlite3_column_blob(stmt, 0);
    int n = sqlite3_column_bytes(stmt, 0);
    if (blob == nullptr || n <= 0) continue;
    Item it;
    if (ParseRpmHeader(std::string_view(static_cast<const char*>(blob), static_cast<size_t>(n)), &it)
            .ok()) {
      inv.items.push_back(std::move(it));
    } else {
      ++bad;
    }
  }
  if (rc != SQLITE_DONE) return Status::Corrupt(shown + ": " + sqlite3_errmsg(db.get()));
  if (bad > 0) inv.AddNote("rpm: " + std::to_string(bad) + " unreadable header(s) in " + shown);
  return Status::Ok();
}

}  // namespace

Status ParseRpmHeader(std::string_view blob, Item* item) {
  if (blob.size() < 8) return Status::Corrupt("rpm header: too short");
  uint32_t il = Be32(blob.data()), dl = Be32(blob.data() + 4);
  if (il == 0 || il > 65536 || dl > (256u << 20)) return Status::Corrupt("rpm header: bad counts");
  size_t data_off = 8 + size_t{il} * 16;
  if (data_off + dl > blob.size()) return Status::Corrupt("rpm header: truncated");
  std::string_view data = blob.substr(data_off, dl);
  std::string epoch;
  Item it;
  it.ecosystem = kEcoRpm;
  for (uint32_t k = 0; k < il; ++k) {
    const char* e = blob.data() + 8 + size_t{k} * 16;
    uint32_t tag = Be32(e), type = Be32(e + 4), off = Be32(e + 8), count = Be32(e + 12);
    if (off >= data.size()) continue;
    std::string* dst = nullptr;
    switch (tag) {
      case kTagName: dst = &it.name; break;
      case kTagVersion: dst = &it.version; break;
      case kTagRelease: dst = &it.build; break;
      case kTagArch: dst = &it.arch; break;
      case kTagEpoch:
        if (type == kTypeInt32 && count >= 1 && off + 4 <= data.size()) {
          epoch = std::to_string(Be32(data.data() + off));
        }
        continue;
      default: continue;
    }
    if (type != kTypeString && type != kTypeI18nString) continue;
    std::string_view rest = data.substr(off);
    size_t nul = rest.find('\0');
    if (nul == std::string_view::npos) return Status::Corrupt("rpm header: unterminated string");
    *dst = std::string(rest.substr(0, nul));
  }
  if (it.name.empty() || it.version.empty()) return Status::Corrupt("rpm header: no name/version");
  // One version string in rpm's EVR form; build keeps the release alone.
  std::string evr = (epoch.empty() ? "" : epoch + ":") + it.version;
  if (!it.build.empty()) evr += "-" + it.build;
  it.version = evr;
  it.build.clear();
  *item = std::move(it);
  return Status::Ok();
}

void ScanRpm(int rootfd, Inventory& inv) {
  static constexpr const char* kDirs[] = {"/var/lib/rpm", "/usr/lib/sysimage/rpm"};
  for (const char* dir : kDirs) {
    std::string sqlite_path = std::string(dir) + "/rpmdb.sqlite";
    auto bytes = ReadFileInRoot(rootfd, sqlite_path, 1u << 30);
    if (bytes.ok()) {
      Status st = ScanSqlite(std::move(*bytes), sqlite_path, inv);
      if (!st.ok()) inv.AddNote("rpm: " + st.ToString());
      return;
    }
    if (bytes.status().code() != Code::kNotFound) {
      inv.AddNote("rpm: " + bytes.status().ToString());
      return;
    }
    for (const char* other : {"/Packages", "/Packages.db"}) {
      std::string p = std::string(dir) + other;
      if (OpenInRoot(rootfd, p, O_PATH).ok()) {
        inv.AddNote(std::string("rpm: ") + p + " is a " +
                    (std::string_view(other) == "/Packages" ? "BerkeleyDB" : "ndb") +
                    " database; skipped (only rpmdb.sqlite is read without rpm)");
        return;
      }
    }
  }
}

}  // namespace ctrsnap::drift
