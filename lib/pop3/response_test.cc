// response_test.cc - status lines and the multi-line writer (response.h): dot-
// stuffing exact at every chunk boundary, bare LF to CRLF, the final ".", and
// TOP's header + n lines. Never depends on a socket.
#include "lib/pop3/response.h"

#include <gtest/gtest.h>

using namespace columba::pop3;

namespace {

// The writer's output for `in` fed in pieces of `piece` octets.
std::string Stuff(std::string_view in, std::optional<uint32_t> top = std::nullopt, size_t piece = 0) {
  MultilineWriter w(top);
  std::string out;
  if (piece == 0) piece = in.size() + 1;
  for (size_t i = 0; i < in.size(); i += piece)
    if (!w.Write(in.substr(i, piece), out)) break;
  w.Finish(out);
  return out;
}

TEST(Pop3Response, StatusLines) {
  EXPECT_EQ(FormatOk("2 320"), "+OK 2 320\r\n");
  EXPECT_EQ(FormatOk(""), "+OK\r\n");
  EXPECT_EQ(FormatErr("IN-USE", "Maildrop locked."), "-ERR [IN-USE] Maildrop locked.\r\n");
  EXPECT_EQ(FormatErr("", "No such message."), "-ERR No such message.\r\n");
  EXPECT_EQ(FormatErr("", "a\r\nb"), "-ERR a  b\r\n");
  std::string longer = FormatOk(std::string(1000, 'x'));
  EXPECT_EQ(longer.size(), kMaxResponseLine);
  EXPECT_EQ(longer.substr(longer.size() - 2), "\r\n");
}

TEST(Pop3Response, DotStuffingAndTermination) {
  EXPECT_EQ(Stuff("a\r\n.b\r\n..c\r\n.\r\n"), "a\r\n..b\r\n...c\r\n..\r\n.\r\n");
  EXPECT_EQ(Stuff(""), ".\r\n");
  EXPECT_EQ(Stuff("no end"), "no end\r\n.\r\n");
  EXPECT_EQ(Stuff(".lead"), "..lead\r\n.\r\n");
  EXPECT_EQ(Stuff("x\r"), "x\r\n.\r\n");
  EXPECT_EQ(Stuff("mid.dot\r\n"), "mid.dot\r\n.\r\n");
}

TEST(Pop3Response, BareLfBecomesCrlf) {
  EXPECT_EQ(Stuff("a\nb\n.c\n"), "a\r\nb\r\n..c\r\n.\r\n");
  EXPECT_EQ(Stuff("a\r\n\nb"), "a\r\n\r\nb\r\n.\r\n");
}

TEST(Pop3Response, EveryChunkSizeGivesTheSameBytes) {
  const std::string msg = "Subject: x\r\n.hidden: y\r\n\r\n.\r\n..two\r\nend.\r\n.\nlast";
  const std::string whole = Stuff(msg);
  for (size_t piece = 1; piece <= msg.size(); ++piece) EXPECT_EQ(Stuff(msg, std::nullopt, piece), whole) << piece;
  for (uint32_t n = 0; n < 6; ++n)
    for (size_t piece = 1; piece <= msg.size(); ++piece)
      EXPECT_EQ(Stuff(msg, n, piece), Stuff(msg, n)) << n << "/" << piece;
}

TEST(Pop3Response, TopSendsHeadersAndNLines) {
  const std::string msg = "From: a\r\nSubject: s\r\n\r\nline1\r\n.line2\r\nline3\r\n";
  EXPECT_EQ(Stuff(msg, 0), "From: a\r\nSubject: s\r\n\r\n.\r\n");
  EXPECT_EQ(Stuff(msg, 1), "From: a\r\nSubject: s\r\n\r\nline1\r\n.\r\n");
  EXPECT_EQ(Stuff(msg, 2), "From: a\r\nSubject: s\r\n\r\nline1\r\n..line2\r\n.\r\n");
  EXPECT_EQ(Stuff(msg, 99), Stuff(msg));
  // No blank line: everything is header.
  EXPECT_EQ(Stuff("A: b\r\nC: d\r\n", 0), "A: b\r\nC: d\r\n.\r\n");
  // Blank body lines count as lines.
  EXPECT_EQ(Stuff("H: 1\r\n\r\n\r\n\r\nx\r\n", 2), "H: 1\r\n\r\n\r\n\r\n.\r\n");
}

TEST(Pop3Response, TopStopsAsking) {
  MultilineWriter w(1);
  std::string out;
  EXPECT_TRUE(w.Write("H: 1\r\n\r\n", out));
  EXPECT_FALSE(w.Write("body1\r\nbody2\r\n", out));
  EXPECT_TRUE(w.done());
  w.Finish(out);
  EXPECT_EQ(out, "H: 1\r\n\r\nbody1\r\n.\r\n");
}

}  // namespace
