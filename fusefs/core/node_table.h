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
//     is on that file in that epoch. A name (parent, name) leads to at most
//     one node, the one last known under it: by_name_ holds each node's own
//     name (its key views node->name, so the name is stored once), extra_names_
//     the further names of hard-linked files (rare). A node that loses its own
//     name to another node, or whose name was unlinked or renamed over, is
//     detached: it has no valid path and cannot be re-resolved.
// Memory: the table holds one Node per inode the kernel caches (hundreds of
// thousands for a large tree), so Node is kept small (a 4-byte lock, no
// duplicate of its name in the maps).
// Lock order: FsCore epoch lock > Handle::mu > Node::mu > NodeTable::mu_.
// NodeTable::mu_ guards every field marked (T) below.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ctrsnap::fs {

// A mutex of 4 bytes (std::mutex has 40): 0 free, 1 locked, 2 locked with
// waiters (futex through std::atomic wait/notify).
class NodeMutex {
 public:
  void lock() {
    uint32_t c = 0;
    if (state_.compare_exchange_strong(c, 1, std::memory_order_acquire)) return;
    while (state_.exchange(2, std::memory_order_acquire) != 0) state_.wait(2);
  }
  void unlock() {
    if (state_.exchange(0, std::memory_order_release) == 2) state_.notify_one();
  }

 private:
  std::atomic<uint32_t> state_{0};
};

struct Node {
  Node(uint64_t ino, mode_t t) : stable_ino(ino), type(t) {}
  const uint64_t stable_ino;
  Node* parent = nullptr;  // (T) holds a ref on parent
  std::string name;        // (T) while in by_name_, its key views this string
  uint64_t key_epoch = 0;  // (T) key in by_key_
  dev_t key_dev = 0;       // (T)
  ino_t key_ino = 0;       // (T)
  uint64_t nlookup = 0;    // (T)
  uint64_t epoch = 0;      // (mu)
  uint32_t refs = 0;       // (T)
  UniqueFd fd;             // (mu) O_PATH fd in epoch `epoch`
  NodeMutex mu;
  const mode_t type;       // S_IFMT bits
  bool detached = false;   // (T)
  bool extra_names = false;  // (T) some entry of extra_names_ leads to it
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
  // Up to MAX names (parent, name) of nodes nothing inside holds (no open
  // handle, no cached child), each with a ref on its parent (Unref it): what
  // the kernel may be asked to forget when descriptors run short.
  std::vector<std::pair<Node*, std::string>> IdleNames(size_t max);
  // Removes every further name of hard-linked files from the table and
  // returns them, each with a ref on its parent (Unref it).
  std::vector<std::pair<Node*, std::string>> TakeExtraNames();

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
  // noexcept hashes: the map nodes then do not cache the hash (8 bytes each).
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      return std::hash<uint64_t>()(k.ino * 31 + k.dev * 7 + k.epoch);
    }
  };
  struct NameKey {
    const Node* parent;
    std::string_view name;
    bool operator==(const NameKey&) const = default;
  };
  struct NameHash {
    size_t operator()(const NameKey& k) const noexcept {
      return std::hash<std::string_view>()(k.name) ^
             (reinterpret_cast<uintptr_t>(k.parent) * 0x9e3779b97f4a7c15ull);
    }
  };
  static std::string ExtraKey(const Node* parent, std::string_view name);
  static std::pair<Node*, std::string> SplitExtraKey(const std::string& key);  // its inverse
  // REQUIRES: mu_ held
  void MaybeFree(Node* node);
  void DropName(Node* node);
  void SetName(Node* node, Node* parent, std::string_view name);
  // The node known under PARENT/NAME, or null; *EXTRA: it is a further name.
  Node* FindName(Node* parent, std::string_view name, bool* extra = nullptr);
  // Removes whatever node is known under PARENT/NAME from that name (a node
  // whose own name it is becomes detached).
  void ForgetName(Node* parent, std::string_view name);
  // Makes one of NODE's further names its own name; false if it has none.
  bool PromoteExtraName(Node* node);
  // Makes PARENT/NAME a further name of NODE (a hard link).
  void AddExtraName(Node* node, Node* parent, std::string_view name);

  std::mutex mu_;
  Node* root_;
  std::unordered_map<Key, Node*, KeyHash> by_key_;
  std::unordered_map<NameKey, Node*, NameHash> by_name_;
  std::unordered_map<std::string, Node*> extra_names_;
  size_t count_ = 0;
};

}  // namespace ctrsnap::fs
