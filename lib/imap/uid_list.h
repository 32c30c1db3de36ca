// uid_list.h - the UIDs of a selected mailbox in sequence-number order, stored
// as runs of consecutive UIDs.
//
// NAME
//   UidList
//
// DESCRIPTION
//   An IMAP session must map sequence numbers to UIDs for its whole view of
//   the mailbox. Mail is delivered with consecutive UIDs and expunges are
//   comparatively rare, so the view is a few runs ("1:9800,9802:10000"), not
//   10,000 separate numbers: 12 bytes per run instead of 4 per message keeps
//   an idle session after SELECT of a 10,000-message mailbox small (issue 4's
//   64 KiB per connection). The worst case (every other UID expunged) costs
//   3x a plain vector.
//
//   The interface is the part of std::vector<uint32_t> the sessions use:
//   size, operator[] (index = sequence number - 1, O(log runs)), front/back,
//   push_back, a sorted insert, erase, and const random-access iterators, so
//   std::lower_bound / binary_search / set_intersection work on it (their
//   iterator steps cost O(log runs) each).
//
// NEVER
//   Holds a UID twice or out of ascending order (push_back and insert assert
//   it); allocates per message.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <vector>

namespace columba::imap {

class UidList {
 public:
  struct Run {
    uint32_t first = 0;
    uint32_t count = 0;
    uint32_t last() const { return first + count - 1; }
    bool operator==(const Run&) const = default;
  };

  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = uint32_t;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = uint32_t;

    const_iterator() = default;
    const_iterator(const UidList* l, std::ptrdiff_t i) : l_(l), i_(i) {}
    uint32_t operator*() const { return (*l_)[static_cast<size_t>(i_)]; }
    uint32_t operator[](difference_type n) const { return (*l_)[static_cast<size_t>(i_ + n)]; }
    const_iterator& operator++() { ++i_; return *this; }
    const_iterator operator++(int) { auto t = *this; ++i_; return t; }
    const_iterator& operator--() { --i_; return *this; }
    const_iterator operator--(int) { auto t = *this; --i_; return t; }
    const_iterator& operator+=(difference_type n) { i_ += n; return *this; }
    const_iterator& operator-=(difference_type n) { i_ -= n; return *this; }
    friend const_iterator operator+(const_iterator a, difference_type n) { return a += n; }
    friend const_iterator operator+(difference_type n, const_iterator a) { return a += n; }
    friend const_iterator operator-(const_iterator a, difference_type n) { return a -= n; }
    friend difference_type operator-(const const_iterator& a, const const_iterator& b) { return a.i_ - b.i_; }
    friend bool operator==(const const_iterator& a, const const_iterator& b) { return a.i_ == b.i_; }
    friend auto operator<=>(const const_iterator& a, const const_iterator& b) { return a.i_ <=> b.i_; }
    std::ptrdiff_t index() const { return i_; }

   private:
    const UidList* l_ = nullptr;
    std::ptrdiff_t i_ = 0;
  };
  using iterator = const_iterator;
  using value_type = uint32_t;

  UidList() = default;
  // From ascending, distinct UIDs.
  explicit UidList(const std::vector<uint32_t>& ascending) {
    for (uint32_t u : ascending) push_back(u);
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint32_t operator[](size_t i) const {
    size_t r = RunOfIndex(i);
    return runs_[r].first + static_cast<uint32_t>(i - starts_[r]);
  }
  uint32_t front() const { return runs_.front().first; }
  uint32_t back() const { return runs_.back().last(); }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, static_cast<std::ptrdiff_t>(size_)); }

  // Appends `uid`, which must be above back().
  void push_back(uint32_t uid) {
    assert(empty() || uid > back());
    if (!runs_.empty() && runs_.back().last() + 1 == uid) {
      ++runs_.back().count;
    } else {
      runs_.push_back(Run{uid, 1});
      starts_.push_back(static_cast<uint32_t>(size_));
    }
    ++size_;
  }
  // Appends first..last, all above back().
  void AppendRun(uint32_t first, uint32_t last) {
    assert(first <= last && (empty() || first > back()));
    if (!runs_.empty() && runs_.back().last() + 1 == first) {
      runs_.back().count += last - first + 1;
    } else {
      runs_.push_back(Run{first, last - first + 1});
      starts_.push_back(static_cast<uint32_t>(size_));
    }
    size_ += last - first + 1;
  }
  void reserve(size_t) {}  // runs need no per-message room
  void clear() {
    runs_.clear();
    starts_.clear();
    runs_.shrink_to_fit();
    starts_.shrink_to_fit();
    size_ = 0;
  }

  // Index (sequence number - 1) of `uid`, nullopt when absent.
  std::optional<size_t> IndexOf(uint32_t uid) const {
    size_t r = RunOfUid(uid);
    if (r == runs_.size() || uid > runs_[r].last()) return std::nullopt;
    return starts_[r] + (uid - runs_[r].first);
  }
  bool Contains(uint32_t uid) const { return IndexOf(uid).has_value(); }

  // Inserts `uid` in order (the position argument is a hint for vector-like
  // callers and is not needed). Returns an iterator to it; no-op if present.
  const_iterator insert(const_iterator, uint32_t uid) { return Insert(uid); }
  const_iterator Insert(uint32_t uid) {
    if (auto i = IndexOf(uid)) return const_iterator(this, static_cast<std::ptrdiff_t>(*i));
    // The run that would precede it.
    size_t r = runs_.empty() || uid < runs_.front().first ? runs_.size() : RunOfUid(uid);
    if (r != runs_.size() && runs_[r].last() + 1 == uid) {
      ++runs_[r].count;
      if (r + 1 < runs_.size() && runs_[r + 1].first == uid + 1) {  // bridges two runs
        runs_[r].count += runs_[r + 1].count;
        runs_.erase(runs_.begin() + static_cast<std::ptrdiff_t>(r + 1));
      }
    } else {
      size_t next = r == runs_.size() ? 0 : r + 1;
      if (next < runs_.size() && runs_[next].first == uid + 1) {
        --runs_[next].first;
        ++runs_[next].count;
      } else {
        runs_.insert(runs_.begin() + static_cast<std::ptrdiff_t>(next), Run{uid, 1});
      }
    }
    ++size_;
    Reindex();
    return const_iterator(this, static_cast<std::ptrdiff_t>(*IndexOf(uid)));
  }

  // Removes the element at `pos`.
  void erase(const_iterator pos) { EraseIndex(static_cast<size_t>(pos.index())); }
  void EraseIndex(size_t i) {
    assert(i < size_);
    size_t r = RunOfIndex(i);
    Run& run = runs_[r];
    const uint32_t uid = run.first + static_cast<uint32_t>(i - starts_[r]);
    if (run.count == 1) {
      runs_.erase(runs_.begin() + static_cast<std::ptrdiff_t>(r));
    } else if (uid == run.first) {
      ++run.first;
      --run.count;
    } else if (uid == run.last()) {
      --run.count;
    } else {
      Run tail{uid + 1, run.last() - uid};
      run.count = uid - run.first;
      runs_.insert(runs_.begin() + static_cast<std::ptrdiff_t>(r + 1), tail);
    }
    --size_;
    Reindex();
  }

  std::vector<uint32_t> ToVector() const {
    std::vector<uint32_t> out;
    out.reserve(size_);
    for (const Run& r : runs_)
      for (uint32_t k = 0; k < r.count; ++k) out.push_back(r.first + k);
    return out;
  }
  const std::vector<Run>& runs() const { return runs_; }
  // Heap bytes held (for tests and the memory benchmark).
  size_t HeapBytes() const { return runs_.capacity() * sizeof(Run) + starts_.capacity() * sizeof(uint32_t); }

  bool operator==(const UidList& o) const { return runs_ == o.runs_; }

 private:
  // The run holding index i (i < size_).
  size_t RunOfIndex(size_t i) const {
    size_t lo = 0, hi = starts_.size();
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      if (starts_[mid] <= i) lo = mid; else hi = mid;
    }
    return lo;
  }
  // The last run whose first UID is <= uid; runs_.size() when none.
  size_t RunOfUid(uint32_t uid) const {
    if (runs_.empty() || uid < runs_.front().first) return runs_.size();
    size_t lo = 0, hi = runs_.size();
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      if (runs_[mid].first <= uid) lo = mid; else hi = mid;
    }
    return lo;
  }
  void Reindex() {
    starts_.resize(runs_.size());
    uint32_t n = 0;
    for (size_t r = 0; r < runs_.size(); ++r) {
      starts_[r] = n;
      n += runs_[r].count;
    }
  }

  std::vector<Run> runs_;
  std::vector<uint32_t> starts_;  // index of each run's first UID
  size_t size_ = 0;
};

}  // namespace columba::imap
