#include "layers/lib/change_set.h"

#include <algorithm>
#include <map>

namespace ctrsnap::layers {
namespace {

struct Contrib {
  size_t layer;
  std::string src;  // path of the directory in that layer
};

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

class Builder {
 public:
  Builder(const OverlayStack& stack, const std::vector<size_t>& delta)
      : stack_(stack), delta_(delta) {
    below_ = delta.empty() ? stack.size() : *std::max_element(delta.begin(), delta.end()) + 1;
  }

  Result<std::unique_ptr<ChangeNode>> Build() {
    auto root = std::make_unique<ChangeNode>();
    std::vector<Contrib> contribs;
    bool have_root = false;
    for (size_t l : delta_) {
      ASSIGN_OR_RETURN(auto e, stack_.Lookup(l, ""));
      if (!e || !e->is_dir()) continue;
      if (!have_root) {
        root->entry = *e;
        root->layer = l;
        have_root = true;
      }
      contribs.push_back({l, ""});
      if (e->opaque) break;
    }
    if (!have_root) return root;  // nothing in any delta layer
    RETURN_IF_ERROR(Fill(root.get(), contribs, false));
    return root;
  }

 private:
  struct Acc {
    bool have = false;
    RawEntry first;
    size_t layer = 0;
    std::string src;
    std::vector<Contrib> dirs;
    bool blocked = false;  // lower layers no longer merge into this path
    bool opaque = false;
    bool full = false;
  };

  // Appends the directories a redirect to REDIRECT (absolute) pulls in from
  // every layer below FROM_LAYER, following further redirects.
  Status AddRedirectChain(size_t from_layer, const std::string& redirect, Acc* a) {
    ASSIGN_OR_RETURN(std::string path, CleanRelPath(redirect));
    for (size_t l = from_layer + 1; l < stack_.size(); ++l) {
      ASSIGN_OR_RETURN(auto e, stack_.Lookup(l, path));
      if (!e) continue;
      if (!e->is_dir()) break;
      a->dirs.push_back({l, path});
      if (e->opaque) break;
      if (!e->redirect.empty()) {
        ASSIGN_OR_RETURN(path, CleanRelPath(e->redirect));
      }
    }
    return Status::Ok();
  }

  // Marks A as merging no further and, for a directory, as opaque (unless the
  // parent already is: FULL subtrees need no markers).
  void Block(Acc* a, bool full) {
    a->blocked = true;
    if (!full) a->opaque = true;
  }

  Status Take(Acc* a, const RawEntry& e, size_t layer, const std::string& src, bool full) {
    if (!a->have) {
      a->have = true;
      a->first = e;
      a->layer = layer;
      a->src = src;
      if (!e.is_dir()) return Status::Ok();
    } else {
      if (a->blocked || !a->first.is_dir()) return Status::Ok();
      if (!e.is_dir()) {  // a directory above replaced this file or whiteout
        Block(a, full);
        return Status::Ok();
      }
    }
    a->dirs.push_back({layer, src});
    if (e.opaque) Block(a, full);
    if (!e.redirect.empty() && !a->blocked) {
      Block(a, full);
      a->full = true;
      RETURN_IF_ERROR(AddRedirectChain(layer, e.redirect, a));
    } else if (!e.redirect.empty()) {
      a->full = true;
    }
    return Status::Ok();
  }

  Status Fill(ChangeNode* node, const std::vector<Contrib>& contribs, bool full) {
    std::map<std::string, Acc> acc;
    for (const auto& c : contribs) {
      ASSIGN_OR_RETURN(auto names, stack_.ListDir(c.layer, c.src));
      for (const auto& name : names) {
        std::string src = Join(c.src, name);
        ASSIGN_OR_RETURN(auto e, stack_.Lookup(c.layer, src));
        if (!e) continue;
        RETURN_IF_ERROR(Take(&acc[name], *e, c.layer, src, full));
      }
    }
    for (auto& [name, a] : acc) {
      if (full && a.first.whiteout) continue;
      auto child = std::make_unique<ChangeNode>();
      child->name = name;
      child->path = Join(node->path, name);
      child->entry = std::move(a.first);
      child->layer = a.layer;
      child->src_path = a.src;
      child->opaque = a.opaque && child->entry.is_dir();
      if (child->is_dir()) {
        RETURN_IF_ERROR(Fill(child.get(), a.dirs, full || a.full));
      } else if (!child->is_whiteout()) {
        if (S_ISREG(child->entry.st.st_mode)) {
          child->data_layer = a.layer;
          child->data_path = a.src;
          if (child->entry.metacopy) {
            ASSIGN_OR_RETURN(auto where, stack_.FindData(a.layer, a.src, child->entry));
            child->data_layer = where.first;
            child->data_path = where.second;
          }
        }
        if (!full) {
          ASSIGN_OR_RETURN(child->existed_below, ExistsBelow(child->path));
        }
      }
      node->children.push_back(std::move(child));
    }
    return Status::Ok();
  }

  Result<bool> ExistsBelow(const std::string& path) {
    for (size_t l = below_; l < stack_.size(); ++l) {
      ASSIGN_OR_RETURN(auto e, stack_.Lookup(l, path));
      if (e) return !e->whiteout;
    }
    return false;
  }

  const OverlayStack& stack_;
  std::vector<size_t> delta_;
  size_t below_ = 0;
};

}  // namespace

Result<std::unique_ptr<ChangeNode>> BuildChangeSet(const OverlayStack& stack,
                                                   const std::vector<size_t>& delta) {
  return Builder(stack, delta).Build();
}

}  // namespace ctrsnap::layers
