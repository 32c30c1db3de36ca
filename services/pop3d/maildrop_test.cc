// maildrop_test.cc - the session's maildrop snapshot (session.h Maildrop):
// numbering, deleted marks, STAT totals and the UIDL format. Never touches
// Redis, metad or a socket.
#include <gtest/gtest.h>

#include "services/pop3d/session.h"

using columba::pop3d::Maildrop;

namespace {

Maildrop Drop() {
  Maildrop d;
  d.uidvalidity = 0x5F3A1C00;
  d.messages = {{1, 100, "a", false}, {42, 250, "b", false}, {0xFFFFFFFF, 7, "c", false}};
  return d;
}

TEST(Pop3Maildrop, UidlIsUidThenUidvalidityInUpperHex) {
  Maildrop d = Drop();
  EXPECT_EQ(d.Uidl(d.messages[0]), "000000015F3A1C00");
  EXPECT_EQ(d.Uidl(d.messages[1]), "0000002A5F3A1C00");
  EXPECT_EQ(d.Uidl(d.messages[2]), "FFFFFFFF5F3A1C00");
  Maildrop other = Drop();
  other.uidvalidity = 1;
  EXPECT_NE(other.Uidl(other.messages[0]), d.Uidl(d.messages[0]));  // a new UIDVALIDITY, new UIDLs
}

TEST(Pop3Maildrop, DeletedMessagesLeaveTheTotalsAndTheNumbering) {
  Maildrop d = Drop();
  EXPECT_EQ(d.Count(), 3u);
  EXPECT_EQ(d.Octets(), 357u);
  d.messages[1].deleted = true;
  EXPECT_EQ(d.Count(), 2u);
  EXPECT_EQ(d.Octets(), 107u);
  EXPECT_EQ(d.Find(2), nullptr);
  ASSERT_NE(d.Find(3), nullptr);  // numbers do not shift
  EXPECT_EQ(d.Find(3)->uid, 0xFFFFFFFFu);
  EXPECT_EQ(d.Find(0), nullptr);
  EXPECT_EQ(d.Find(4), nullptr);
}

}  // namespace
