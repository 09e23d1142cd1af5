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
  for (auto& [k, n] : extra_names_) all.push_back(n);
  all.push_back(root_);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  by_name_.clear();  // its keys view the nodes' names
  for (Node* n : all) delete n;
}

std::pair<Node*, std::string> NodeTable::SplitExtraKey(const std::string& key) {
  Node* parent = nullptr;
  std::memcpy(&parent, key.data(), sizeof(parent));
  return {parent, key.substr(sizeof(parent))};
}

std::string NodeTable::ExtraKey(const Node* parent, std::string_view name) {
  std::string k(sizeof(parent), '\0');
  std::memcpy(k.data(), &parent, sizeof(parent));
  k.append(name);
  return k;
}

Node* NodeTable::FindName(Node* parent, std::string_view name, bool* extra) {
  if (extra) *extra = false;
  auto it = by_name_.find(NameKey{parent, name});
  if (it != by_name_.end()) return it->second;
  if (extra_names_.empty()) return nullptr;
  auto xit = extra_names_.find(ExtraKey(parent, name));
  if (xit == extra_names_.end()) return nullptr;
  if (extra) *extra = true;
  return xit->second;
}

void NodeTable::ForgetName(Node* parent, std::string_view name) {
  auto it = by_name_.find(NameKey{parent, name});
  if (it != by_name_.end()) {
    Node* old = it->second;
    by_name_.erase(it);
    old->parent = nullptr;
    old->name.clear();
    --parent->refs;  // callers hold their own reference on PARENT or free it
    // A hard-linked file reachable by a further name keeps a path: without
    // one it could not be re-resolved after the next seal (EIO to chmod or
    // write through the surviving name).
    if (!PromoteExtraName(old)) old->detached = true;
    return;
  }
  if (!extra_names_.empty()) extra_names_.erase(ExtraKey(parent, name));
}

bool NodeTable::PromoteExtraName(Node* node) {
  if (!node->extra_names) return false;
  // Linear in extra_names_, which holds only further names of hard-linked
  // files the kernel looked up, and only when such a file loses its own name.
  auto it = std::find_if(extra_names_.begin(), extra_names_.end(),
                         [node](const auto& kv) { return kv.second == node; });
  if (it == extra_names_.end()) {
    node->extra_names = false;
    return false;
  }
  auto [parent, name] = SplitExtraKey(it->first);
  node->name = std::move(name);
  extra_names_.erase(it);
  node->parent = parent;
  ++parent->refs;
  node->detached = false;
  by_name_[NameKey{parent, node->name}] = node;
  node->extra_names = std::any_of(extra_names_.begin(), extra_names_.end(),
                                  [node](const auto& kv) { return kv.second == node; });
  return true;
}

void NodeTable::AddExtraName(Node* node, Node* parent, std::string_view name) {
  ForgetName(parent, name);
  extra_names_[ExtraKey(parent, name)] = node;
  node->extra_names = true;
}

void NodeTable::DropName(Node* node) {
  if (node->parent) {
    auto it = by_name_.find(NameKey{node->parent, node->name});
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
  // Another node known under this name is no longer reachable by it.
  if (Node* old = FindName(parent, name); old && old != node) ForgetName(parent, name);
  if (node->extra_names) extra_names_.erase(ExtraKey(parent, name));
  node->parent = parent;
  node->name = std::string(name);
  node->detached = false;
  by_name_[NameKey{parent, node->name}] = node;
}

void NodeTable::MaybeFree(Node* node) {
  if (node == root_ || node->nlookup > 0 || node->refs > 0) return;
  DropName(node);
  auto it = by_key_.find(Key{node->key_epoch, node->key_dev, node->key_ino});
  if (it != by_key_.end() && it->second == node) by_key_.erase(it);
  if (node->extra_names) {
    std::erase_if(extra_names_, [node](const auto& kv) { return kv.second == node; });
  }
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
    Node* known = FindName(parent, name);
    if (known && known->type == type) n = known;
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
    // Not keyed in EPOCH; a key it had in an older epoch must go with it, or
    // by_key_ would keep a pointer to it after it is freed.
    auto old = by_key_.find(Key{n->key_epoch, n->key_dev, n->key_ino});
    if (old != by_key_.end() && old->second == n) by_key_.erase(old);
    n->key_epoch = epoch;
  }
  if (n->detached || n->parent == nullptr || n->name.empty()) {
    if (n != root_) SetName(n, parent, name);
  } else if (n->parent != parent || n->name != name) {
    // A further name of a hard-linked file: it leads to this node too.
    if (FindName(parent, name) != n) AddExtraName(n, parent, name);
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
  Node* n = FindName(parent, name);
  if (n) ++n->refs;
  return n;
}

std::vector<std::pair<Node*, std::string>> NodeTable::IdleNames(size_t max) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::pair<Node*, std::string>> out;
  for (auto& [key, node] : by_name_) {
    if (out.size() >= max) break;
    if (node->refs != 0 || node->nlookup == 0) continue;
    ++node->parent->refs;
    out.emplace_back(node->parent, node->name);
  }
  return out;
}

std::vector<std::pair<Node*, std::string>> NodeTable::TakeExtraNames() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::pair<Node*, std::string>> out;
  if (extra_names_.empty()) return out;
  out.reserve(extra_names_.size());
  for (auto& [key, node] : extra_names_) {
    out.push_back(SplitExtraKey(key));
    ++out.back().first->refs;
    node->extra_names = false;
  }
  extra_names_.clear();
  return out;
}

void NodeTable::Unlinked(Node* parent, std::string_view name) {
  std::lock_guard<std::mutex> l(mu_);
  ++parent->refs;  // ForgetName may drop the last reference of PARENT
  ForgetName(parent, name);
  --parent->refs;
  MaybeFree(parent);
}

void NodeTable::Renamed(Node* parent, std::string_view name, Node* newparent,
                        std::string_view newname) {
  std::lock_guard<std::mutex> l(mu_);
  ++parent->refs;  // pinned while names move
  ++newparent->refs;
  bool extra = false;
  Node* n = FindName(parent, name, &extra);
  if (n) {
    if (extra) {
      extra_names_.erase(ExtraKey(parent, name));
    } else {
      by_name_.erase(NameKey{parent, name});
      n->parent = nullptr;  // re-attached below; refs of PARENT dropped there
    }
  }
  // The target name, if known, is replaced.
  ForgetName(newparent, newname);
  if (n) {
    if (extra) {
      extra_names_[ExtraKey(newparent, newname)] = n;
    } else {
      ++newparent->refs;
      --parent->refs;
      n->parent = newparent;
      n->name = std::string(newname);
      by_name_[NameKey{newparent, n->name}] = n;
    }
  }
  --newparent->refs;
  --parent->refs;
  MaybeFree(newparent);
  MaybeFree(parent);
}

void NodeTable::Exchanged(Node* parent, std::string_view name, Node* newparent,
                          std::string_view newname) {
  std::lock_guard<std::mutex> l(mu_);
  bool xa = false, xb = false;
  Node* na = FindName(parent, name, &xa);
  Node* nb = FindName(newparent, newname, &xb);
  auto take = [&](Node* n, bool extra, Node* from, std::string_view fromname) {
    if (!n) return;
    if (extra) {
      extra_names_.erase(ExtraKey(from, fromname));
    } else {
      by_name_.erase(NameKey{from, fromname});
    }
  };
  take(na, xa, parent, name);
  take(nb, xb, newparent, newname);
  auto put = [&](Node* n, bool extra, Node* from, Node* to, std::string_view toname) {
    if (!n) return;
    if (extra) {
      extra_names_[ExtraKey(to, toname)] = n;
      return;
    }
    ++to->refs;
    --from->refs;  // FROM keeps a reference while it is one of the two parents
    n->parent = to;
    n->name = std::string(toname);
    by_name_[NameKey{to, n->name}] = n;
  };
  std::string sname(name), snewname(newname);  // NAME may view a node's name
  put(na, xa, parent, newparent, snewname);
  put(nb, xb, newparent, parent, sname);
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
