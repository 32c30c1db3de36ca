// deflate_test.cc - round trips in pieces, sync-flushed output that inflates
// completely without more input, bounded output of a highly compressible
// stream, and a corrupt stream reported as bad input.
#include "lib/net/deflate.h"

#include <gtest/gtest.h>

#include <random>

namespace columba::net {
namespace {

std::string InflateAll(Inflater& inf, size_t piece = 4096) {
  std::string out;
  for (;;) {
    auto r = inf.Next(piece);
    EXPECT_TRUE(r);
    if (!r || r->empty()) return out;
    out += *r;
  }
}

TEST(Deflate, EachCompressedResponseInflatesCompletelyOnItsOwn) {
  auto d = Deflater::Create();
  auto i = Inflater::Create();
  ASSERT_TRUE(d && i);
  std::mt19937 rng(7);
  for (int n = 0; n < 200; ++n) {
    std::string msg = "* " + std::to_string(n) + " FETCH (FLAGS (\\Seen) UID " + std::to_string(rng()) + ")\r\n";
    if (n % 17 == 0) msg += std::string(100000, static_cast<char>('a' + n % 26));
    auto c = (*d)->Compress(msg);
    ASSERT_TRUE(c);
    (*i)->Input(*c);
    EXPECT_EQ(InflateAll(**i), msg) << n;  // nothing held back: the flush made it whole
    EXPECT_FALSE((*i)->Pending());
  }
}

TEST(Deflate, OutputComesInBoundedPieces) {
  auto d = Deflater::Create();
  auto i = Inflater::Create();
  ASSERT_TRUE(d && i);
  std::string big(8 << 20, 'x');  // 8 MiB of one byte: a few KiB compressed
  auto c = (*d)->Compress(big);
  ASSERT_TRUE(c);
  EXPECT_LT(c->size(), 64u * 1024);
  (*i)->Input(*c);
  size_t total = 0;
  for (;;) {
    auto r = (*i)->Next(65536);
    ASSERT_TRUE(r);
    if (r->empty()) break;
    EXPECT_LE(r->size(), 65536u);
    total += r->size();
  }
  EXPECT_EQ(total, big.size());
}

TEST(Deflate, SplitInputIsFine) {
  auto d = Deflater::Create();
  auto i = Inflater::Create();
  ASSERT_TRUE(d && i);
  std::string msg(50000, 'q');
  for (size_t k = 0; k < msg.size(); k += 7) msg[k] = static_cast<char>('a' + k % 26);
  auto c = (*d)->Compress(msg);
  ASSERT_TRUE(c);
  std::string got;
  for (size_t k = 0; k < c->size(); k += 100) {
    (*i)->Input(std::string_view(*c).substr(k, 100));
    got += InflateAll(**i, 1000);
  }
  EXPECT_EQ(got, msg);
}

TEST(Deflate, CorruptStreamIsBadInput) {
  auto i = Inflater::Create();
  ASSERT_TRUE(i);
  (*i)->Input(std::string("\xff\xff\xff\xff garbage", 12));
  auto r = (*i)->Next(4096);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);
}

}  // namespace
}  // namespace columba::net
