#include "fusefs/core/node_table.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace ctrsnap::fs {

NodeTable::NodeTable(UniqueFd root_fd, uint64_t epoch, const struct stat& root_st) {
  root_ = new Node(root_st.st_ino, S_IFDIR);
  root_->fd = std::move(root_fd);
  root_->epoch = epoch;
  root_->nlookup = 1;  // never forgotten
  root_->refs = 1;
  count_ = 1;
}

NodeTable::~NodeTable() {
  // Nodes still referenced by the kernel at unmount: free them all.
  std::vector<Node*> all;
  for (auto& [k, n] : by_key_) all.push_back(n);
  for (auto& [k, n] : by_name_) all.push_back(n);
  all.push_back(root_);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  for (Node* n : all) delete n;
}

std::string NodeTable::NameKey(Node* parent, std::string_view name) {
  std::string k(sizeof(parent), '\0');
  std::memcpy(k.data(), &parent, sizeof(parent));
  k.append(name);
  return k;
}

void NodeTable::DropName(Node* node) {
  if (node->parent) {
    auto it = by_name_.find(NameKey(node->parent, node->name));
    if (it != by_name_.end() && it->second == node) by_name_.erase(it);
    Node* p = node->parent;
    node->parent = nullptr;
    node->name.clear();
    --p->refs;
    MaybeFree(p);
  }
}

void NodeTable::SetName(Node* node, Node* parent, std::string_view name) {
  ++parent->refs;  // before DropName, which may free the old parent
  DropName(node);
  node->parent = parent;
  node->name = std::string(name);
  node->detached = false;
  auto [it, inserted] = by_name_.try_emplace(NameKey(parent, name), node);
  if (!inserted && it->second != node) {
    // Another node was known under this name: it is no longer reachable by it.
    Node* old = it->second;
    it->second = node;
    if (old->parent == parent && old->name == name) {
      old->name.clear();
      old->parent = nullptr;
      old->detached = true;
      --parent->refs;
    }
  }
}

void NodeTable::MaybeFree(Node* node) {
  if (node == root_ || node->nlookup > 0 || node->refs > 0) return;
  DropName(node);
  auto it = by_key_.find(Key{node->key_epoch, node->key_dev, node->key_ino});
  if (it != by_key_.end() && it->second == node) by_key_.erase(it);
  --count_;
  delete node;
}

Node* NodeTable::Attach(Node* parent, std::string_view name, uint64_t epoch,
                        const struct stat& st, UniqueFd& fd, bool name_only) {
  std::lock_guard<std::mutex> l(mu_);
  const mode_t type = st.st_mode & S_IFMT;
  Key key{epoch, st.st_dev, st.st_ino};
  Node* n = nullptr;
  if (!name_only) {
    auto it = by_key_.find(key);
    if (it != by_key_.end()) n = it->second;
  }
  if (!n) {
    // The node last known under this name (from before a seal, or a
    // name-only node): keeps its nodeid and st_ino. Its fd is replaced by the
    // caller (FsCore) under n->mu when it belongs to an older epoch.
    auto nit = by_name_.find(NameKey(parent, name));
    if (nit != by_name_.end() && nit->second->type == type) n = nit->second;
  }
  if (!n) {
    n = new Node(st.st_ino, type);
    n->fd = std::move(fd);
    n->epoch = epoch;
    ++count_;
  }
  if (!name_only && !(n->key_epoch == epoch && n->key_dev == st.st_dev &&
                      n->key_ino == st.st_ino)) {
    auto old = by_key_.find(Key{n->key_epoch, n->key_dev, n->key_ino});
    if (old != by_key_.end() && old->second == n) by_key_.erase(old);
    n->key_epoch = epoch;
    n->key_dev = st.st_dev;
    n->key_ino = st.st_ino;
    by_key_[key] = n;
  } else if (name_only) {
    n->key_epoch = epoch;
  }
  if (n->detached || n->parent == nullptr || n->name.empty()) {
    if (n != root_) SetName(n, parent, name);
  } else if (n->parent != parent || n->name != name) {
    // A second name of a hard-linked file: remember the newest name too.
    by_name_[NameKey(parent, name)] = n;
  }
  ++n->nlookup;
  return n;
}

void NodeTable::Forget(Node* node, uint64_t nlookup) {
  std::lock_guard<std::mutex> l(mu_);
  node->nlookup = nlookup > node->nlookup ? 0 : node->nlookup - nlookup;
  MaybeFree(node);
}

Node* NodeTable::ParentLink(Node* node, std::string* name, bool* detached) {
  std::lock_guard<std::mutex> l(mu_);
  *detached = node->detached || (node != root_ && node->parent == nullptr);
  if (!node->parent) return nullptr;
  *name = node->name;
  ++node->parent->refs;
  return node->parent;
}

void NodeTable::Ref(Node* node) {
  std::lock_guard<std::mutex> l(mu_);
  ++node->refs;
}

void NodeTable::Unref(Node* node) {
  std::lock_guard<std::mutex> l(mu_);
  --node->refs;
  MaybeFree(node);
}

void NodeTable::SetKey(Node* node, uint64_t epoch, const struct stat& st) {
  std::lock_guard<std::mutex> l(mu_);
  auto old = by_key_.find(Key{node->key_epoch, node->key_dev, node->key_ino});
  if (old != by_key_.end() && old->second == node) by_key_.erase(old);
  node->key_epoch = epoch;
  node->key_dev = st.st_dev;
  node->key_ino = st.st_ino;
  by_key_[Key{epoch, st.st_dev, st.st_ino}] = node;
}

Node* NodeTable::FindChild(Node* parent, std::string_view name) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_name_.find(NameKey(parent, name));
  if (it == by_name_.end()) return nullptr;
  ++it->second->refs;
  return it->second;
}

void NodeTable::Unlinked(Node* parent, std::string_view name) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_name_.find(NameKey(parent, name));
  if (it == by_name_.end()) return;
  Node* n = it->second;
  by_name_.erase(it);
  if (n->parent == parent && n->name == name) {
    n->parent = nullptr;
    n->name.clear();
    n->detached = true;
    --parent->refs;
    MaybeFree(parent);
  }
}

void NodeTable::Renamed(Node* parent, std::string_view name, Node* newparent,
                        std::string_view newname) {
  std::lock_guard<std::mutex> l(mu_);
  // The target name, if known, is replaced.
  auto tit = by_name_.find(NameKey(newparent, newname));
  if (tit != by_name_.end()) {
    Node* t = tit->second;
    by_name_.erase(tit);
    if (t->parent == newparent && t->name == newname) {
      t->parent = nullptr;
      t->name.clear();
      t->detached = true;
      --newparent->refs;
    }
  }
  auto it = by_name_.find(NameKey(parent, name));
  if (it == by_name_.end()) return;
  Node* n = it->second;
  by_name_.erase(it);
  if (n->parent == parent && n->name == name) {
    ++newparent->refs;
    n->parent = newparent;
    n->name = std::string(newname);
    --parent->refs;
  }
  by_name_[NameKey(newparent, newname)] = n;
  MaybeFree(parent);
}

void NodeTable::Exchanged(Node* parent, std::string_view name, Node* newparent,
                          std::string_view newname) {
  std::lock_guard<std::mutex> l(mu_);
  auto a = by_name_.find(NameKey(parent, name));
  auto b = by_name_.find(NameKey(newparent, newname));
  Node* na = a == by_name_.end() ? nullptr : a->second;
  Node* nb = b == by_name_.end() ? nullptr : b->second;
  if (na) by_name_.erase(NameKey(parent, name));
  if (nb) by_name_.erase(NameKey(newparent, newname));
  auto move = [&](Node* n, Node* from, std::string_view fromname, Node* to,
                  std::string_view toname) {
    if (!n) return;
    if (n->parent == from && n->name == fromname) {
      ++to->refs;
      n->parent = to;
      n->name = std::string(toname);
      --from->refs;
    }
    by_name_[NameKey(to, toname)] = n;
  };
  move(na, parent, name, newparent, newname);
  move(nb, newparent, newname, parent, name);
}

std::string NodeTable::Path(Node* node) {
  std::lock_guard<std::mutex> l(mu_);
  if (node == root_) return "/";
  std::vector<std::string_view> parts;
  Node* n = node;
  while (n && n != root_) {
    if (n->detached || !n->parent) {
      parts.push_back("?");
      break;
    }
    parts.push_back(n->name);
    n = n->parent;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (*it != "?") out += '/';
    out.append(*it);
  }
  return out;
}

size_t NodeTable::size() {
  std::lock_guard<std::mutex> l(mu_);
  return count_;
}

}  // namespace ctrsnap::fs
