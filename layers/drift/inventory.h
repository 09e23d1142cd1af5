// Inventory: the software in one root filesystem (packages of every
// ecosystem, /etc files, image-config settings), as recorded beside a
// snapshot and compared by `ctrsnap drift`.
//
// Invariants:
//   - items are sorted by Key() and keys are unique (ScanRoot and FromJson
//     both establish this through Normalize());
//   - ToJson() is deterministic: the same inventory always gives the same
//     bytes, so Digest() identifies the content;
//   - secret values never enter an inventory: a secret-looking environment
//     variable is stored as the sha256 of its value, flagged `secret`.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ctrsnap::drift {

// Ecosystem names as they appear in JSON and tables.
inline constexpr char kEcoDeb[] = "deb";
inline constexpr char kEcoApk[] = "apk";
inline constexpr char kEcoRpm[] = "rpm";
inline constexpr char kEcoPython[] = "python";
inline constexpr char kEcoConda[] = "conda";
inline constexpr char kEcoNpm[] = "npm";
inline constexpr char kEcoCuda[] = "cuda";
inline constexpr char kEcoEtc[] = "etc";
inline constexpr char kEcoConfig[] = "config";

// One thing that can drift. Which fields are used depends on the ecosystem:
//   deb/apk/rpm: name, version, arch
//   python:      name (PEP 503 normalized), version, location = environment
//                prefix (/usr, /opt/venv), path = the site-packages dir
//   conda:       name, version, build, channel, location = environment dir
//   npm:         name, version, location = the node_modules dir holding it
//   cuda:        name = library (libcudart) or component (cuda, cudnn-header),
//                version, location = directory, path = file
//   etc:         name = absolute path, digest = sha256 of content (or
//                "link:TARGET"), mode ("0644"), owner ("0:0")
//   config:      name = Env:NAME | Entrypoint | Cmd | WorkingDir | User,
//                version = value (or digest when secret)
struct Item {
  std::string ecosystem;
  std::string name;
  std::string version;
  std::string arch;
  std::string build;
  std::string channel;
  std::string location;
  std::string path;
  std::string digest;
  std::string mode;
  std::string owner;
  bool secret = false;

  // Identity across two inventories: ecosystem, location, name, arch.
  std::string Key() const;
};

struct Inventory {
  static constexpr int kFormatVersion = 1;

  std::string source;               // what was scanned, for humans
  std::vector<Item> items;          // sorted by Key(), unique keys
  std::vector<std::string> notes;   // skipped databases, limits hit

  // Sorts items, drops duplicate keys (first wins), sorts notes.
  void Normalize();
  void AddNote(std::string note);

  std::map<std::string, size_t> CountsByEcosystem() const;

  std::string ToJson() const;
  static Result<Inventory> FromJson(std::string_view text);
  // "sha256:<hex>" of ToJson().
  std::string Digest() const;
  // Annotation-sized JSON (< 1 KiB): format, counts per ecosystem, digest.
  std::string SummaryJson() const;
};

// "sha256:<hex>" of DATA.
std::string Sha256Digest(std::string_view data);

}  // namespace ctrsnap::drift
