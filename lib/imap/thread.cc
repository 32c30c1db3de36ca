// thread.cc - RFC 5256 THREAD algorithms and the thread response (see thread.h).
//
// Must never recurse: reply chains can be as deep as the mailbox is large, so
// every tree walk uses an explicit stack or a precomputed order.
#include "lib/imap/thread.h"

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <utility>

#include "lib/imap/sort.h"

namespace columba::imap {

namespace {

constexpr int32_t kNone = -1;

struct Container {
  int32_t msg = kNone;     // index into records; kNone = dummy
  int32_t parent = kNone;  // only maintained during step 1
  std::vector<int32_t> children;
};

class Threader {
 public:
  explicit Threader(std::vector<ThreadRecord> records) : recs_(std::move(records)) {}

  ThreadForest References() {
    Link();                                   // (1)
    std::vector<int32_t> roots = Roots();     // (2)
    roots = Prune(roots);                     // (3)
    SortTopLevel(roots);                      // (4)
    roots = MergeBySubject(std::move(roots));  // (5)
    SortAll(roots);                           // (6)
    return Forest(roots);
  }

 private:
  bool Dummy(int32_t c) const { return cs_[c].msg == kNone; }

  // (sent date, sequence number) of a container; a dummy uses its first child.
  std::pair<int64_t, uint32_t> Key(int32_t c) const {
    while (Dummy(c)) {
      if (cs_[c].children.empty()) return {std::numeric_limits<int64_t>::max(), std::numeric_limits<uint32_t>::max()};
      c = cs_[c].children.front();
    }
    const ThreadRecord& r = recs_[cs_[c].msg];
    return {r.sent, r.seq};
  }

  void SortSiblings(std::vector<int32_t>& v) const {
    std::stable_sort(v.begin(), v.end(), [&](int32_t a, int32_t b) { return Key(a) < Key(b); });
  }

  int32_t NewContainer(int32_t msg) {
    cs_.push_back(Container{msg, kNone, {}});
    return static_cast<int32_t>(cs_.size() - 1);
  }

  int32_t ForId(const std::string& id) {
    auto [it, inserted] = by_id_.try_emplace(id, 0);
    if (inserted) it->second = NewContainer(kNone);
    return it->second;
  }

  // Making `parent` the parent of `child` (always a root here) would close a
  // loop: `child` is an ancestor of `parent`, i.e. `parent` is in its subtree.
  // Walks up from `parent` and down `child`'s subtree in step and stops when
  // either ends, so a new message at the end of a long chain costs O(1).
  bool WouldLoop(int32_t parent, int32_t child) {
    if (parent == child) return true;
    int32_t up = parent;
    down_.assign(cs_[child].children.begin(), cs_[child].children.end());
    for (;;) {
      up = cs_[up].parent;
      if (up == kNone) return false;
      if (up == child) return true;
      if (down_.empty()) return false;
      const int32_t d = down_.back();
      down_.pop_back();
      if (d == parent) return true;
      down_.insert(down_.end(), cs_[d].children.begin(), cs_[d].children.end());
    }
  }

  void SetParent(int32_t parent, int32_t child) {
    cs_[child].parent = parent;
    cs_[parent].children.push_back(child);
  }

  void Unlink(int32_t child) {
    auto& siblings = cs_[cs_[child].parent].children;
    siblings.erase(std::find(siblings.begin(), siblings.end(), child));
    cs_[child].parent = kNone;
  }

  void Link() {
    for (size_t i = 0; i < recs_.size(); ++i) {
      const ThreadRecord& r = recs_[i];
      int32_t me;
      if (r.message_id.empty()) {
        me = NewContainer(static_cast<int32_t>(i));
      } else {
        me = ForId(r.message_id);
        if (cs_[me].msg != kNone) {
          me = NewContainer(static_cast<int32_t>(i));  // a duplicate id: this one gets a unique id
        } else {
          cs_[me].msg = static_cast<int32_t>(i);
        }
      }
      // (1.A) chain the references, keeping existing parents.
      for (size_t k = 0; k + 1 < r.references.size(); ++k) {
        const int32_t parent = ForId(r.references[k]);
        const int32_t child = ForId(r.references[k + 1]);
        if (cs_[child].parent == kNone && !WouldLoop(parent, child)) SetParent(parent, child);
      }
      // (1.B) the message's own parent is the last reference (or none).
      if (cs_[me].parent != kNone) Unlink(me);
      if (!r.references.empty()) {
        const int32_t parent = ForId(r.references.back());
        if (!WouldLoop(parent, me)) SetParent(parent, me);
      }
    }
  }

  std::vector<int32_t> Roots() const {
    std::vector<int32_t> roots;
    for (size_t c = 0; c < cs_.size(); ++c)
      if (cs_[c].parent == kNone) roots.push_back(static_cast<int32_t>(c));
    return roots;
  }

  // Every container below `roots`, parents before children.
  std::vector<int32_t> PreOrder(const std::vector<int32_t>& roots) const {
    std::vector<int32_t> order, stack(roots.rbegin(), roots.rend());
    while (!stack.empty()) {
      const int32_t c = stack.back();
      stack.pop_back();
      order.push_back(c);
      for (auto it = cs_[c].children.rbegin(); it != cs_[c].children.rend(); ++it) stack.push_back(*it);
    }
    return order;
  }

  // (3) Below the top level a dummy is replaced by its children (none: it goes);
  // at the top level a dummy stays only with two or more children.
  std::vector<int32_t> Prune(const std::vector<int32_t>& roots) {
    const std::vector<int32_t> order = PreOrder(roots);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {  // children before parents
      std::vector<int32_t> kept;
      for (int32_t child : cs_[*it].children) {
        if (Dummy(child)) {
          kept.insert(kept.end(), cs_[child].children.begin(), cs_[child].children.end());
        } else {
          kept.push_back(child);
        }
      }
      cs_[*it].children = std::move(kept);
    }
    std::vector<int32_t> top;
    for (int32_t r : roots) {
      if (!Dummy(r)) {
        top.push_back(r);
      } else if (cs_[r].children.size() == 1) {
        top.push_back(cs_[r].children.front());
      } else if (cs_[r].children.size() > 1) {
        top.push_back(r);
      }
    }
    return top;
  }

  // (4)
  void SortTopLevel(std::vector<int32_t>& roots) {
    for (int32_t r : roots)
      if (Dummy(r)) SortSiblings(cs_[r].children);
    SortSiblings(roots);
  }

  // The thread subject: of the message, or of a dummy's first child.
  const ThreadRecord* Subject(int32_t c) const {
    while (Dummy(c)) {
      if (cs_[c].children.empty()) return nullptr;
      c = cs_[c].children.front();
    }
    return &recs_[cs_[c].msg];
  }

  bool ReplyOrForward(int32_t c) const { return !Dummy(c) && recs_[cs_[c].msg].reply_or_forward; }

  // (5)
  std::vector<int32_t> MergeBySubject(std::vector<int32_t> roots) {
    // (5.B) one message per base subject.
    std::unordered_map<std::string, int32_t> table;
    for (int32_t r : roots) {
      const ThreadRecord* s = Subject(r);
      if (s == nullptr || s->subject.empty()) continue;
      auto [it, inserted] = table.try_emplace(s->subject, r);
      if (inserted) continue;
      const int32_t t = it->second;
      if (!Dummy(t) && (Dummy(r) || (ReplyOrForward(t) && !ReplyOrForward(r)))) it->second = r;
    }
    // (5.C) merge the others into it. A top-level entry replaced by a new dummy
    // is replaced in place, so the dummy is visited (and kept) at its position.
    std::vector<size_t> position(cs_.size() + roots.size(), 0);  // room for the new dummies
    for (size_t i = 0; i < roots.size(); ++i) position[static_cast<size_t>(roots[i])] = i;
    std::vector<bool> gone(roots.size(), false);
    for (size_t i = 0; i < roots.size(); ++i) {
      const int32_t r = roots[i];
      const ThreadRecord* s = Subject(r);
      if (s == nullptr || s->subject.empty()) continue;
      auto it = table.find(s->subject);
      if (it == table.end() || it->second == r) continue;
      const int32_t t = it->second;
      gone[i] = true;
      if (Dummy(t) && Dummy(r)) {
        auto& into = cs_[t].children;
        into.insert(into.end(), cs_[r].children.begin(), cs_[r].children.end());
        cs_[r].children.clear();
      } else if (Dummy(t) || (ReplyOrForward(r) && !ReplyOrForward(t))) {
        cs_[t].children.push_back(r);
      } else {
        const int32_t d = NewContainer(kNone);
        cs_[d].children.push_back(t);
        if (Dummy(r)) {
          cs_[d].children.insert(cs_[d].children.end(), cs_[r].children.begin(), cs_[r].children.end());
        } else {
          cs_[d].children.push_back(r);
        }
        it->second = d;
        const size_t at = position[static_cast<size_t>(t)];
        roots[at] = d;
        position[static_cast<size_t>(d)] = at;
      }
    }
    std::vector<int32_t> kept;
    for (size_t i = 0; i < roots.size(); ++i)
      if (!gone[i]) kept.push_back(roots[i]);
    return kept;
  }

  // (6) every set of siblings, the deepest first (the top level last).
  void SortAll(std::vector<int32_t>& roots) {
    const std::vector<int32_t> order = PreOrder(roots);
    for (auto it = order.rbegin(); it != order.rend(); ++it) SortSiblings(cs_[*it].children);
    SortSiblings(roots);
  }

  ThreadForest Forest(const std::vector<int32_t>& roots) const {
    ThreadForest f;
    std::vector<uint32_t> index(cs_.size(), 0);
    const std::vector<int32_t> order = PreOrder(roots);
    f.nodes.reserve(order.size());
    for (int32_t c : order) {
      index[static_cast<size_t>(c)] = static_cast<uint32_t>(f.nodes.size());
      f.nodes.push_back(ThreadForest::Node{Dummy(c) ? 0 : recs_[cs_[c].msg].number, {}});
    }
    for (int32_t c : order)
      for (int32_t child : cs_[c].children)
        f.nodes[index[static_cast<size_t>(c)]].children.push_back(index[static_cast<size_t>(child)]);
    for (int32_t r : roots) f.roots.push_back(index[static_cast<size_t>(r)]);
    return f;
  }

  std::vector<ThreadRecord> recs_;
  std::vector<Container> cs_;
  std::unordered_map<std::string, int32_t> by_id_;
  std::vector<int32_t> down_;  // WouldLoop's scratch stack
};

}  // namespace

std::vector<std::string> ParseMessageIds(std::string_view s) {
  std::vector<std::string> ids;
  size_t i = 0;
  while (i < s.size()) {
    const size_t lt = s.find('<', i);
    if (lt == std::string_view::npos) break;
    std::string id;
    size_t j = lt + 1;
    int comment = 0;
    bool restart = false;
    for (; j < s.size(); ++j) {
      const char c = s[j];
      if (comment > 0) {
        if (c == '(') ++comment;
        if (c == ')') --comment;
        continue;
      }
      if (c == '>') break;
      if (c == '<') {
        restart = true;
        break;
      }
      if (c == '(') {
        comment = 1;
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
      id += c;
    }
    if (restart) {
      i = j;
      continue;
    }
    if (j >= s.size()) break;
    i = j + 1;
    const size_t at = id.find('@');
    if (at != std::string::npos && at > 0 && at + 1 < id.size()) ids.push_back(std::move(id));
  }
  return ids;
}

ThreadRecord MakeThreadRecord(const ThreadInput& in) {
  ThreadRecord r;
  r.seq = in.seq;
  r.number = in.number;
  r.sent = in.sent_date;
  BaseSubject b = ExtractBaseSubject(in.subject);
  r.subject = FoldForSort(b.text);
  r.reply_or_forward = b.reply_or_forward;
  auto own = ParseMessageIds(in.message_id);
  if (!own.empty()) r.message_id = std::move(own.front());
  r.references = ParseMessageIds(in.references);
  if (r.references.empty()) {
    auto irt = ParseMessageIds(in.in_reply_to);
    if (!irt.empty()) r.references.push_back(std::move(irt.front()));
  }
  if (!r.message_id.empty())
    std::erase_if(r.references, [&](const std::string& id) { return id == r.message_id; });
  return r;
}

ThreadForest ThreadOrderedSubject(std::vector<ThreadRecord> records) {
  std::vector<uint32_t> order(records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
    const ThreadRecord& a = records[x];
    const ThreadRecord& b = records[y];
    if (int c = a.subject.compare(b.subject); c != 0) return c < 0;
    if (a.sent != b.sent) return a.sent < b.sent;
    return a.seq < b.seq;
  });
  struct Thread {
    int64_t sent;
    uint32_t seq;
    uint32_t node;
  };
  ThreadForest f;
  f.nodes.reserve(records.size());
  std::vector<Thread> threads;
  const ThreadRecord* prev = nullptr;
  for (uint32_t i : order) {
    const ThreadRecord& r = records[i];
    const uint32_t node = static_cast<uint32_t>(f.nodes.size());
    f.nodes.push_back(ThreadForest::Node{r.number, {}});
    if (prev != nullptr && prev->subject == r.subject) {
      f.nodes[threads.back().node].children.push_back(node);
    } else {
      threads.push_back(Thread{r.sent, r.seq, node});
    }
    prev = &r;
  }
  std::stable_sort(threads.begin(), threads.end(), [](const Thread& a, const Thread& b) {
    return a.sent != b.sent ? a.sent < b.sent : a.seq < b.seq;
  });
  for (const Thread& t : threads) f.roots.push_back(t.node);
  return f;
}

ThreadForest ThreadReferences(std::vector<ThreadRecord> records) {
  return Threader(std::move(records)).References();
}

std::string FormatThreads(const ThreadForest& f) {
  std::string out;
  enum Kind { kEmit, kOpen, kClose };
  std::vector<std::pair<Kind, uint32_t>> tasks;
  auto push_lists = [&](const std::vector<uint32_t>& children) {
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      tasks.emplace_back(kClose, 0);
      tasks.emplace_back(kEmit, *it);
      tasks.emplace_back(kOpen, 0);
    }
  };
  for (uint32_t root : f.roots) {
    if (root >= f.nodes.size()) continue;
    if (f.nodes[root].number == 0 && f.nodes[root].children.empty()) continue;  // an empty dummy
    tasks.emplace_back(kClose, 0);
    tasks.emplace_back(kEmit, root);
    tasks.emplace_back(kOpen, 0);
    while (!tasks.empty()) {
      auto [kind, n] = tasks.back();
      tasks.pop_back();
      if (kind == kOpen) {
        out += '(';
        continue;
      }
      if (kind == kClose) {
        out += ')';
        continue;
      }
      if (n >= f.nodes.size()) continue;
      const ThreadForest::Node* node = &f.nodes[n];
      if (node->number == 0) {  // a dummy: its children, as one list if only one
        if (node->children.size() == 1) {
          tasks.emplace_back(kEmit, node->children.front());
        } else {
          push_lists(node->children);
        }
        continue;
      }
      out += std::to_string(node->number);
      // A chain of only children is written flat: "1 2 3".
      size_t guard = f.nodes.size();
      while (node->children.size() == 1 && node->children.front() < f.nodes.size() &&
             f.nodes[node->children.front()].number != 0 && guard-- > 0) {
        node = &f.nodes[node->children.front()];
        out += ' ';
        out += std::to_string(node->number);
      }
      if (!node->children.empty()) {
        out += ' ';
        push_lists(node->children);
      }
    }
  }
  return out;
}

}  // namespace columba::imap
