// sequence_set.cc - parse, resolve and format IMAP sequence sets. See sequence_set.h.
//
// Never expands ranges, never accepts 0 or numbers above 2^32-1.
#include "lib/imap/sequence_set.h"

#include <algorithm>

namespace columba::imap {
namespace {

// Parses "*" or a number 1..2^32-1 at text[i]; advances i.
Result<uint32_t> ParseNumber(std::string_view text, size_t& i) {
  if (i < text.size() && text[i] == '*') {
    ++i;
    return SequenceSet::kStar;
  }
  if (i >= text.size() || text[i] < '0' || text[i] > '9') {
    return Fail(ErrorKind::kInvalidInput, "invalid sequence set: expected number or '*'");
  }
  if (text[i] == '0') return Fail(ErrorKind::kInvalidInput, "invalid sequence set: 0 or leading zero");
  uint64_t v = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    v = v * 10 + static_cast<uint64_t>(text[i] - '0');
    if (v > 0xFFFFFFFFull) return Fail(ErrorKind::kInvalidInput, "invalid sequence set: number too big");
    ++i;
  }
  return static_cast<uint32_t>(v);
}

void Normalise(std::vector<SequenceSet::Range>& r) {
  for (auto& x : r) {
    if (x.first > x.last) std::swap(x.first, x.last);
  }
  std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t out = 0;
  for (size_t k = 0; k < r.size(); ++k) {
    if (out > 0 && static_cast<uint64_t>(r[k].first) <= static_cast<uint64_t>(r[out - 1].last) + 1) {
      r[out - 1].last = std::max(r[out - 1].last, r[k].last);
    } else {
      r[out++] = r[k];
    }
  }
  r.resize(out);
}

}  // namespace

Result<SequenceSet> SequenceSet::Parse(std::string_view text, const SequenceSetLimits& limits) {
  SequenceSet set;
  if (text == "$") {
    set.saved_ = true;
    return set;
  }
  if (text.empty()) return Fail(ErrorKind::kInvalidInput, "invalid sequence set: empty");
  size_t i = 0;
  while (true) {
    if (set.ranges_.size() >= limits.max_ranges) {
      return Fail(ErrorKind::kLimitExceeded, "sequence set has too many ranges");
    }
    auto a = ParseNumber(text, i);
    if (!a) return tl::unexpected(a.error());
    uint32_t b = *a;
    if (i < text.size() && text[i] == ':') {
      ++i;
      auto r = ParseNumber(text, i);
      if (!r) return tl::unexpected(r.error());
      b = *r;
    }
    set.ranges_.push_back(Range{*a, b});
    if (i == text.size()) break;
    if (text[i] != ',') return Fail(ErrorKind::kInvalidInput, "invalid sequence set: unexpected character");
    ++i;
  }
  return set;
}

SequenceSet SequenceSet::Saved() {
  SequenceSet s;
  s.saved_ = true;
  return s;
}

SequenceSet SequenceSet::FromRanges(std::vector<Range> ranges) {
  SequenceSet s;
  ranges.erase(std::remove_if(ranges.begin(), ranges.end(),
                              [](const Range& r) { return r.first == kStar || r.last == kStar; }),
               ranges.end());
  Normalise(ranges);
  s.ranges_ = std::move(ranges);
  s.normalised_ = true;
  return s;
}

SequenceSet SequenceSet::FromNumbers(const std::vector<uint32_t>& numbers) {
  std::vector<Range> r;
  r.reserve(numbers.size());
  for (uint32_t n : numbers) {
    if (n != 0) r.push_back(Range{n, n});
  }
  return FromRanges(std::move(r));
}

bool SequenceSet::HasStar() const {
  for (const auto& r : ranges_) {
    if (r.first == kStar || r.last == kStar) return true;
  }
  return false;
}

SequenceSet SequenceSet::Resolve(uint32_t max) const {
  SequenceSet s;
  if (saved_) return s;
  s.ranges_.reserve(ranges_.size());
  for (Range r : ranges_) {
    if (r.first == kStar) r.first = max;
    if (r.last == kStar) r.last = max;
    if (r.first > r.last) std::swap(r.first, r.last);
    if (r.last == 0) continue;        // '*' or '*:*' in an empty mailbox
    if (r.first == 0) r.first = 1;    // "N:*" in an empty mailbox
    s.ranges_.push_back(r);
  }
  Normalise(s.ranges_);
  s.normalised_ = true;
  return s;
}

bool SequenceSet::Contains(uint32_t value, uint32_t max) const {
  if (value == 0) return false;
  if (normalised_) {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), value,
                               [](uint32_t v, const Range& r) { return v < r.first; });
    if (it == ranges_.begin()) return false;
    --it;
    return value <= it->last;
  }
  for (Range r : ranges_) {
    if (r.first == kStar) r.first = max;
    if (r.last == kStar) r.last = max;
    if (r.first > r.last) std::swap(r.first, r.last);
    if (value >= r.first && value <= r.last) return true;
  }
  return false;
}

uint64_t SequenceSet::Count() const {
  uint64_t n = 0;
  for (const auto& r : ranges_) {
    if (r.first == kStar || r.last == kStar) continue;
    n += static_cast<uint64_t>(std::max(r.first, r.last)) - std::min(r.first, r.last) + 1;
  }
  return n;
}

std::string SequenceSet::ToString() const {
  if (saved_) return "$";
  std::string out;
  auto num = [&out](uint32_t v) {
    if (v == kStar) {
      out.push_back('*');
    } else {
      out += std::to_string(v);
    }
  };
  for (size_t k = 0; k < ranges_.size(); ++k) {
    if (k > 0) out.push_back(',');
    num(ranges_[k].first);
    if (ranges_[k].last != ranges_[k].first) {
      out.push_back(':');
      num(ranges_[k].last);
    }
  }
  return out;
}

}  // namespace columba::imap
