// uid_list_test.cc - UidList behaves exactly like an ascending std::vector of
// UIDs under random push_back / insert / erase (a model check), stays a few
// runs for typical mailboxes, and works with the standard algorithms.
#include "lib/imap/uid_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace columba::imap {
namespace {

void ExpectSame(const UidList& l, const std::vector<uint32_t>& model) {
  ASSERT_EQ(l.size(), model.size());
  EXPECT_EQ(l.ToVector(), model);
  for (size_t i = 0; i < model.size(); ++i) ASSERT_EQ(l[i], model[i]) << i;
  for (size_t i = 0; i < model.size(); ++i) ASSERT_EQ(l.IndexOf(model[i]), i);
  if (!model.empty()) {
    EXPECT_EQ(l.front(), model.front());
    EXPECT_EQ(l.back(), model.back());
  }
  // Consecutive runs are always merged: the run count is the number of gaps + 1.
  size_t gaps = 0;
  for (size_t i = 1; i < model.size(); ++i) gaps += model[i] != model[i - 1] + 1;
  EXPECT_EQ(l.runs().size(), model.empty() ? 0 : gaps + 1);
}

TEST(UidList, ConsecutiveDeliveriesAreOneRun) {
  UidList l;
  for (uint32_t u = 1; u <= 10'000; ++u) l.push_back(u);
  EXPECT_EQ(l.size(), 10'000u);
  EXPECT_EQ(l.runs().size(), 1u);
  EXPECT_LE(l.HeapBytes(), 64u);
  EXPECT_EQ(l[4999], 5000u);
  l.erase(l.begin() + 4999);  // expunge UID 5000: two runs
  EXPECT_EQ(l.runs().size(), 2u);
  EXPECT_EQ(l[4999], 5001u);
  EXPECT_FALSE(l.Contains(5000));
  l.Insert(5000);  // and back to one
  EXPECT_EQ(l.runs().size(), 1u);
}

TEST(UidList, AppendRunMergesAdjacentRuns) {
  UidList l;
  l.AppendRun(1, 5);
  l.AppendRun(6, 8);   // adjacent: one run
  l.AppendRun(10, 10);
  EXPECT_EQ(l.ToVector(), (std::vector<uint32_t>{1, 2, 3, 4, 5, 6, 7, 8, 10}));
  EXPECT_EQ(l.runs().size(), 2u);
  EXPECT_EQ(l.IndexOf(10), 8u);
  l.push_back(11);
  EXPECT_EQ(l.runs().size(), 2u);
}

TEST(UidList, StandardAlgorithmsWork) {
  UidList l(std::vector<uint32_t>{2, 3, 4, 10, 11, 20});
  auto it = std::lower_bound(l.begin(), l.end(), 5u);
  EXPECT_EQ(*it, 10u);
  EXPECT_EQ(it - l.begin(), 3);
  EXPECT_TRUE(std::binary_search(l.begin(), l.end(), 11u));
  EXPECT_FALSE(std::binary_search(l.begin(), l.end(), 12u));
  std::vector<uint32_t> want{1, 3, 11, 12, 20}, both;
  std::set_intersection(want.begin(), want.end(), l.begin(), l.end(), std::back_inserter(both));
  EXPECT_EQ(both, (std::vector<uint32_t>{3, 11, 20}));
  EXPECT_EQ(std::upper_bound(l.begin(), l.end(), 20u), l.end());
}

TEST(UidList, MatchesAVectorUnderRandomChanges) {
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    UidList l;
    std::vector<uint32_t> model;
    uint32_t next = 1;
    for (int step = 0; step < 400; ++step) {
      int op = static_cast<int>(rng() % 10);
      if (op < 5) {  // deliver
        next += rng() % 4 == 0 ? 1 + rng() % 3 : 0;
        l.push_back(next);
        model.push_back(next);
        ++next;
      } else if (op < 8 && !model.empty()) {  // expunge
        size_t i = rng() % model.size();
        l.erase(l.begin() + static_cast<std::ptrdiff_t>(i));
        model.erase(model.begin() + static_cast<std::ptrdiff_t>(i));
      } else {  // insert a missing UID below the top
        if (next == 1) continue;
        uint32_t u = 1 + static_cast<uint32_t>(rng() % (next - 1));  // below the next UID to deliver
        auto it = std::lower_bound(model.begin(), model.end(), u);
        if (it == model.end() || *it != u) model.insert(it, u);
        auto got = l.Insert(u);
        EXPECT_EQ(*got, u);
      }
      ExpectSame(l, model);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(UidList, ClearFreesTheRuns) {
  UidList l(std::vector<uint32_t>{1, 3, 5, 7});
  l.clear();
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.HeapBytes(), 0u);
  EXPECT_EQ(l.begin(), l.end());
}

}  // namespace
}  // namespace columba::imap
