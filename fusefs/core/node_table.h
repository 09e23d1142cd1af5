// NodeTable: the FUSE-visible inodes of a ctrsnap-fs mount.
//
// A Node is what the kernel knows by a nodeid. It holds an O_PATH fd on the
// file in the overlay of one epoch, and (parent, name) so that it can be found
// again by path in a newer epoch (after a seal) without walking anything.
// Its stable_ino is the st_ino reported to the kernel: taken from the overlay
// when the node is created and kept for the node's life, across copy-up and
// seals (the overlay's own st_ino of a file changes when its generation
// becomes a lower layer).
//
// Invariants:
//   - A node is freed when the kernel forgot it (nlookup == 0) and nothing
//     inside references it (refs == 0: children naming it as parent, open
//     handles, resolutions in progress).
//   - by_key_ maps (epoch, st_dev, st_ino) of the overlay to the node whose fd
//     is on that file in that epoch; by_name_ maps (parent, name) to the node
//     last known under that name. A detached node (its name was unlinked or
//     renamed over) has no valid path and cannot be re-resolved.
// Lock order: FsCore epoch lock > Handle::mu > Node::mu > NodeTable::mu_.
// NodeTable::mu_ guards every field marked (T) below.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ctrsnap::fs {

struct Node {
  Node(uint64_t ino, mode_t t) : stable_ino(ino), type(t) {}
  const uint64_t stable_ino;
  const mode_t type;  // S_IFMT bits

  std::mutex mu;
  UniqueFd fd;         // (mu) O_PATH fd in epoch `epoch`
  uint64_t epoch = 0;  // (mu)

  Node* parent = nullptr;  // (T) holds a ref on parent
  std::string name;        // (T)
  bool detached = false;   // (T)
  uint64_t key_epoch = 0;  // (T) key in by_key_
  dev_t key_dev = 0;       // (T)
  ino_t key_ino = 0;       // (T)
  uint64_t nlookup = 0;    // (T)
  uint64_t refs = 0;       // (T)
  uint64_t open_handles = 0;  // (T)
};

class NodeTable {
 public:
  // ROOT_FD: O_PATH fd on the overlay root of EPOCH.
  NodeTable(UniqueFd root_fd, uint64_t epoch, const struct stat& root_st);
  ~NodeTable();
  NodeTable(const NodeTable&) = delete;
  NodeTable& operator=(const NodeTable&) = delete;

  Node* root() { return root_; }

  // The result of a lookup of PARENT/NAME that found the overlay file ST
  // (opened as FD) in EPOCH: an existing node of that file (same key, or the
  // node last known under that name, re-attached to the new epoch) or a new
  // node. Takes one kernel lookup reference. FD is consumed when used.
  // NAME_ONLY: the file is one name of a hard-linked file that exists only in
  // a lower layer; the overlay (index=off) treats each such name as its own
  // inode until copy-up breaks the link, so it gets a node per name and is not
  // entered in by_key_.
  Node* Attach(Node* parent, std::string_view name, uint64_t epoch, const struct stat& st,
               UniqueFd& fd, bool name_only = false);
  // Kernel FORGET.
  void Forget(Node* node, uint64_t nlookup);

  // The parent link of NODE, with a ref on the parent (Unref it). Null parent:
  // root or detached (then *detached is set).
  Node* ParentLink(Node* node, std::string* name, bool* detached);
  void Ref(Node* node);
  void Unref(Node* node);
  void SetKey(Node* node, uint64_t epoch, const struct stat& st);

  // Namespace changes, applied after the overlay did them.
  void Unlinked(Node* parent, std::string_view name);
  void Renamed(Node* parent, std::string_view name, Node* newparent, std::string_view newname);
  void Exchanged(Node* parent, std::string_view name, Node* newparent, std::string_view newname);
  Node* FindChild(Node* parent, std::string_view name);  // with a ref (Unref it)

  // "/a/b" of NODE, or "?/name" when it is detached.
  std::string Path(Node* node);

  size_t size();

 private:
  struct Key {
    uint64_t epoch;
    dev_t dev;
    ino_t ino;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<uint64_t>()(k.ino * 31 + k.dev * 7 + k.epoch);
    }
  };
  static std::string NameKey(Node* parent, std::string_view name);
  // REQUIRES: mu_ held
  void MaybeFree(Node* node);
  void DropName(Node* node);
  void SetName(Node* node, Node* parent, std::string_view name);

  std::mutex mu_;
  Node* root_;
  std::unordered_map<Key, Node*, KeyHash> by_key_;
  std::unordered_map<std::string, Node*> by_name_;
  size_t count_ = 0;
};

}  // namespace ctrsnap::fs
