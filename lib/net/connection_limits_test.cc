// connection_limits_test.cc - slots per key up to the limit, released when the
// handle dies or moves, kinds kept apart, 0 = unlimited.
#include "lib/net/connection_limits.h"

#include <gtest/gtest.h>

#include <vector>

namespace columba::net {
namespace {

TEST(ConnectionLimits, RefusesTheSlotPastTheLimitUntilOneIsReleased) {
  ConnectionLimits l;
  auto a = l.Acquire(ConnectionLimits::kIp, "192.0.2.1", 2);
  auto b = l.Acquire(ConnectionLimits::kIp, "192.0.2.1", 2);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(l.Acquire(ConnectionLimits::kIp, "192.0.2.1", 2));
  EXPECT_TRUE(l.Acquire(ConnectionLimits::kIp, "192.0.2.2", 2));  // another address
  EXPECT_TRUE(l.Acquire(ConnectionLimits::kUser, "192.0.2.1", 2)); // another kind
  a.reset();
  EXPECT_EQ(l.Count(ConnectionLimits::kIp, "192.0.2.1"), 1u);
  EXPECT_TRUE(l.Acquire(ConnectionLimits::kIp, "192.0.2.1", 2));
}

TEST(ConnectionLimits, MovedSlotsReleaseOnce) {
  ConnectionLimits l;
  {
    std::vector<ConnectionSlot> held;
    for (int i = 0; i < 3; ++i) held.push_back(std::move(*l.Acquire(ConnectionLimits::kUser, "alice", 3)));
    EXPECT_EQ(l.Count(ConnectionLimits::kUser, "alice"), 3u);
    ConnectionSlot moved = std::move(held[0]);
    held[0] = std::move(held[1]);  // releases nothing twice: held[0] was empty after the move
    EXPECT_EQ(l.Count(ConnectionLimits::kUser, "alice"), 3u);
  }
  EXPECT_EQ(l.Count(ConnectionLimits::kUser, "alice"), 0u);
}

TEST(ConnectionLimits, ZeroMeansUnlimited) {
  ConnectionLimits l;
  std::vector<ConnectionSlot> held;
  for (int i = 0; i < 1000; ++i) {
    auto s = l.Acquire(ConnectionLimits::kIp, "192.0.2.1", 0);
    ASSERT_TRUE(s);
    held.push_back(std::move(*s));
  }
  EXPECT_EQ(l.Count(ConnectionLimits::kIp, "192.0.2.1"), 1000u);
}

}  // namespace
}  // namespace columba::net
