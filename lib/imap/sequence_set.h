// sequence_set.h - IMAP sequence sets ("1:5,7,*", "$") for message numbers and UIDs.
//
// NAME
//   SequenceSet, SequenceSetLimits
//
// SYNOPSIS
//   Result<SequenceSet> s = SequenceSet::Parse("1:5,*:4,9");
//   SequenceSet r = s->Resolve(max_uid);     // sorted, merged, no '*'
//   if (r.Contains(uid)) ...
//   std::string wire = r.ToString();         // "1:9"
//
// DESCRIPTION
//   Grammar (RFC 3501 sequence-set, RFC 5182 "$"): comma separated numbers or
//   ranges "a:b"; a number is 1..4294967295 or '*' (the largest number in use).
//   "b:a" means "a:b". A parsed set keeps the client's ranges as written, with
//   '*' as kStar, until Resolve(max) substitutes max for '*', orders each
//   range, sorts, and merges overlapping and adjacent ranges. "N:*" with
//   N > max therefore becomes max:N, which contains max (RFC 3501 6.4.8).
//   "$" (SEARCHRES) parses to a set with IsSaved(); the caller substitutes the
//   saved search result, Resolve of "$" is empty.
//
// DIAGNOSTICS
//   Parse fails with kInvalidInput on 0, numbers above 2^32-1, leading or
//   trailing commas, empty input, and '$' inside a list; with kLimitExceeded
//   when the set has more than limits.max_ranges ranges.
//
// NEVER
//   Never expands a range into its members (1:4294967295 costs one entry);
//   never allocates more than max_ranges ranges.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"

namespace columba::imap {

struct SequenceSetLimits {
  // Ranges per set. Clients that send UID sets of non-adjacent messages
  // (mbsync, imapsync) produce a few thousand; 10,000 bounds the work per
  // command while a line of 64 KiB cannot hold more than ~13,000 anyway.
  size_t max_ranges = 10'000;
};

class SequenceSet {
 public:
  static constexpr uint32_t kStar = 0;  // '*' (0 is never a valid number)

  struct Range {
    uint32_t first = 0;  // kStar or 1..2^32-1
    uint32_t last = 0;
    bool operator==(const Range&) const = default;
  };

  SequenceSet() = default;

  static Result<SequenceSet> Parse(std::string_view text, const SequenceSetLimits& limits = {});
  // The "$" set of SEARCHRES.
  static SequenceSet Saved();
  // A normalised (sorted, merged) set from arbitrary ranges without kStar.
  static SequenceSet FromRanges(std::vector<Range> ranges);
  static SequenceSet FromNumbers(const std::vector<uint32_t>& numbers);

  bool IsSaved() const { return saved_; }
  bool empty() const { return ranges_.empty(); }
  const std::vector<Range>& ranges() const { return ranges_; }
  bool HasStar() const;

  // Sorted, merged, '*' replaced by max. max == 0 (empty mailbox): ranges made
  // only of '*' vanish, "N:*" becomes 1:N.
  SequenceSet Resolve(uint32_t max) const;
  // Membership; with '*' = max. On a resolved set this is a binary search.
  bool Contains(uint32_t value, uint32_t max = 0) const;
  // Members of a resolved set (no '*'); saturates at UINT64 range.
  uint64_t Count() const;
  // Largest number in a resolved set (0 when empty).
  uint32_t Max() const { return ranges_.empty() ? 0 : ranges_.back().last; }

  // Compact wire form: "1:5,7,*", "$".
  std::string ToString() const;

  bool operator==(const SequenceSet& o) const { return saved_ == o.saved_ && ranges_ == o.ranges_; }

 private:
  std::vector<Range> ranges_;
  bool saved_ = false;
  bool normalised_ = false;
};

}  // namespace columba::imap
