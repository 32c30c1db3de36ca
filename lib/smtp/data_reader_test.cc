// data_reader_test.cc - DATA-phase end detection, dot-unstuffing, limits, DotStuff.
//
// Lines are split here the way lib/net's LineReader does (LF ends a line, a CR
// right before it is dropped and the line is CRLF-ended). No sockets.
#include "lib/smtp/data_reader.h"

#include <gtest/gtest.h>

#include <string>

using namespace columba::smtp;

namespace {

struct Fed {
  bool done = false;
  size_t consumed = 0;  // octets of the stream up to and including the ending line
  std::string message;
};

// Feeds every complete line of `stream`; stops at kDone.
Fed FeedStream(DataReader& reader, std::string_view stream) {
  Fed fed;
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t nl = stream.find('\n', pos);
    if (nl == std::string_view::npos) break;
    size_t end = nl;
    bool cr = end > pos && stream[end - 1] == '\r';
    if (cr) --end;
    auto st = reader.Feed(stream.substr(pos, end - pos), !cr);
    pos = nl + 1;
    if (st == DataReader::Status::kDone) {
      fed.done = true;
      break;
    }
  }
  fed.consumed = pos;
  if (fed.done) fed.message = reader.TakeMessage();
  return fed;
}

Fed ReadAll(std::string_view stream, uint64_t max = 1 << 20) {
  DataReader r(max);
  return FeedStream(r, stream);
}

}  // namespace

TEST(DataReader, SimpleMessage) {
  auto fed = ReadAll("Subject: hi\r\n\r\nbody\r\n.\r\n");
  ASSERT_TRUE(fed.done);
  EXPECT_EQ(fed.message, "Subject: hi\r\n\r\nbody\r\n");
}

TEST(DataReader, EmptyMessage) {
  DataReader r(100);
  EXPECT_EQ(r.Feed(".", false), DataReader::Status::kDone);
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.TakeMessage(), "");
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.lines(), 0u);
}

TEST(DataReader, StopsAtTerminatorLeavingTheRest) {
  std::string stream = "a\r\n.\r\nMAIL FROM:<x@y>\r\n";
  auto fed = ReadAll(stream);
  ASSERT_TRUE(fed.done);
  EXPECT_EQ(fed.message, "a\r\n");
  EXPECT_EQ(stream.substr(fed.consumed), "MAIL FROM:<x@y>\r\n");
}

TEST(DataReader, DotUnstuffing) {
  auto fed = ReadAll("..\r\n...\r\n.leading\r\n..two\r\nmid.dle\r\n .space\r\n.\r\n");
  ASSERT_TRUE(fed.done);
  EXPECT_EQ(fed.message, ".\r\n..\r\nleading\r\n.two\r\nmid.dle\r\n .space\r\n");
}

TEST(DataReader, DotLinesFedDirectly) {
  DataReader r(100);
  EXPECT_EQ(r.Feed("..", false), DataReader::Status::kMore);
  EXPECT_EQ(r.Feed("...", false), DataReader::Status::kMore);
  EXPECT_EQ(r.Feed(". ", false), DataReader::Status::kMore);  // not exactly "."
  EXPECT_EQ(r.Feed(".", false), DataReader::Status::kDone);
  EXPECT_EQ(r.TakeMessage(), ".\r\n..\r\n \r\n");
}

// SMTP smuggling (CVE-2023-51764 and friends): only <CRLF>.<CRLF> ends the message.
TEST(DataReader, SmugglingSequencesDoNotEndTheMessage) {
  const char* smuggled[] = {
      "a\n.\nMAIL FROM:<evil@x>\r\n",    // <LF>.<LF>
      "a\n.\r\nMAIL FROM:<evil@x>\r\n",  // <LF>.<CRLF>
      "a\r\n.\nMAIL FROM:<evil@x>\r\n",  // <CRLF>.<LF>
      "a\r.\r\nMAIL FROM:<evil@x>\r\n",  // <CR>.<CRLF>: "a\r." is one line
      "a\r\n.\r.\r\nMAIL FROM:<evil@x>\r\n",
  };
  for (const char* s : smuggled) {
    DataReader r(1 << 20);
    auto fed = FeedStream(r, s);
    EXPECT_FALSE(fed.done) << s;
    EXPECT_FALSE(r.done()) << s;
    // The real end still works afterwards.
    auto rest = FeedStream(r, "tail\r\n.\r\n");
    ASSERT_TRUE(rest.done) << s;
    EXPECT_NE(rest.message.find("MAIL FROM:<evil@x>\r\n"), std::string::npos) << s;
  }
}

TEST(DataReader, SmuggledDotStoredAsContent) {
  DataReader r(1000);
  EXPECT_EQ(r.Feed("a", true), DataReader::Status::kMore);   // a<LF>
  EXPECT_EQ(r.Feed(".", false), DataReader::Status::kMore);  // .<CRLF> after a bare LF
  EXPECT_EQ(r.Feed(".", true), DataReader::Status::kMore);   // .<LF>
  EXPECT_EQ(r.Feed("b", false), DataReader::Status::kMore);
  EXPECT_EQ(r.Feed(".", false), DataReader::Status::kDone);
  EXPECT_EQ(r.TakeMessage(), "a\r\n.\r\n.\r\nb\r\n");
  EXPECT_EQ(r.bare_lf_count(), 2u);
}

TEST(DataReader, FirstLineDotEndedByBareLfIsContent) {
  DataReader r(100);
  EXPECT_EQ(r.Feed(".", true), DataReader::Status::kMore);
  EXPECT_EQ(r.Feed(".", false), DataReader::Status::kMore);  // previous ended by bare LF
  EXPECT_EQ(r.Feed(".", false), DataReader::Status::kDone);
  EXPECT_EQ(r.TakeMessage(), ".\r\n.\r\n");
}

TEST(DataReader, BareLfNormalisedAndCounted) {
  DataReader r(1000);
  auto fed = FeedStream(r, "one\ntwo\r\nthree\n\r\n.\r\n");
  ASSERT_TRUE(fed.done);
  EXPECT_EQ(fed.message, "one\r\ntwo\r\nthree\r\n\r\n");
  EXPECT_EQ(r.bare_lf_count(), 2u);
}

TEST(DataReader, BareCrIsContent) {
  auto fed = ReadAll("a\rb\r\nc\r\r\n.\r\n");
  ASSERT_TRUE(fed.done);
  EXPECT_EQ(fed.message, "a\rb\r\nc\r\r\n");
}

TEST(DataReader, SizeLimitExactlyReached) {
  // "12345678\r\n" = 10 octets.
  auto fed = ReadAll("12345678\r\n.\r\n", 10);
  ASSERT_TRUE(fed.done);
  EXPECT_EQ(fed.message, "12345678\r\n");
}

TEST(DataReader, SizeLimitCrossedKeepsConsuming) {
  DataReader r(10);
  std::string stream = "123456789\r\nmore\r\n..dots\r\n.\r\nQUIT\r\n";
  auto fed = FeedStream(r, stream);
  ASSERT_TRUE(fed.done);
  EXPECT_TRUE(r.over_size());
  EXPECT_FALSE(r.had_overlong_line());
  EXPECT_EQ(fed.message, "");
  EXPECT_EQ(r.size(), 11u + 6u + 7u);
  EXPECT_EQ(stream.substr(fed.consumed), "QUIT\r\n");
}

TEST(DataReader, SizeLimitZero) {
  auto fed = ReadAll(".\r\n", 0);
  ASSERT_TRUE(fed.done);
  DataReader r(0);
  EXPECT_EQ(r.Feed("", false), DataReader::Status::kMore);
  EXPECT_TRUE(r.over_size());
}

TEST(DataReader, SizeCountsUnstuffedContent) {
  // "..x\r\n" stores ".x\r\n" = 4 octets.
  DataReader r(4);
  r.Feed("..x", false);
  EXPECT_FALSE(r.over_size());
  EXPECT_EQ(r.Feed(".", false), DataReader::Status::kDone);
  EXPECT_EQ(r.TakeMessage(), ".x\r\n");
}

TEST(DataReader, OverlongLineStopsStoring) {
  DataReader r(1000);
  EXPECT_EQ(r.Feed("ok", false), DataReader::Status::kMore);
  EXPECT_EQ(r.FeedTooLong(), DataReader::Status::kMore);
  EXPECT_TRUE(r.had_overlong_line());
  EXPECT_EQ(r.Feed("after", false), DataReader::Status::kMore);
  EXPECT_EQ(r.Feed(".", false), DataReader::Status::kDone);
  EXPECT_FALSE(r.over_size());
  EXPECT_EQ(r.TakeMessage(), "");
}

TEST(DataReader, OverlongLineEndedByBareLfBlocksTheEnd) {
  DataReader r(1000);
  r.FeedTooLong(true);
  EXPECT_EQ(r.Feed(".", false), DataReader::Status::kMore);
  EXPECT_EQ(r.Feed(".", false), DataReader::Status::kDone);
  EXPECT_EQ(r.bare_lf_count(), 1u);
}

TEST(DataReader, OverlongLineThenImmediateEnd) {
  DataReader r(1000);
  r.FeedTooLong();
  EXPECT_EQ(r.Feed(".", false), DataReader::Status::kDone);
}

TEST(DotStuff, Basics) {
  EXPECT_EQ(DotStuff(""), ".\r\n");
  EXPECT_EQ(DotStuff("a\r\n"), "a\r\n.\r\n");
  EXPECT_EQ(DotStuff("a"), "a\r\n.\r\n");
  EXPECT_EQ(DotStuff("a\nb\n"), "a\r\nb\r\n.\r\n");
  EXPECT_EQ(DotStuff(".\r\n..\r\n.x\r\nx.\r\n"), "..\r\n...\r\n..x\r\nx.\r\n.\r\n");
  EXPECT_EQ(DotStuff(".\n.\n"), "..\r\n..\r\n.\r\n");
  EXPECT_EQ(DotStuff("\r\n"), "\r\n.\r\n");
  EXPECT_EQ(DotStuff("a\r"), "a\r\r\n.\r\n");
  EXPECT_EQ(DotStuff("\n"), "\r\n.\r\n");
}

TEST(DotStuff, RoundTrip) {
  const char* messages[] = {
      "",
      "\r\n",
      "Subject: x\r\n\r\nbody\r\n",
      ".\r\n",
      "..\r\n...\r\n.\r\n",
      "line\r\n.\r\nafter the dot\r\n",
      "a\r\n.\r\n\r\n.\r\n",
      "x\r.\r\n",
      "\r\n\r\n\r\n",
      ". \r\n .\r\n",
  };
  for (const char* m : messages) {
    auto fed = ReadAll(DotStuff(m));
    ASSERT_TRUE(fed.done) << m;
    EXPECT_EQ(fed.message, m) << m;
    EXPECT_EQ(fed.consumed, DotStuff(m).size()) << m;
  }
}

TEST(DotStuff, RoundTripNormalises) {
  // Bare LFs and a missing final CRLF come back normalised.
  auto fed = ReadAll(DotStuff("a\n.\nb"));
  ASSERT_TRUE(fed.done);
  EXPECT_EQ(fed.message, "a\r\n.\r\nb\r\n");
}

TEST(DotStuff, ReaderOutputIsAFixedPoint) {
  // Whatever the reader produced, stuffing it and reading it again gives it back.
  auto first = ReadAll("a\n.\n..\n.\r\nb\r\n.\r\n");  // ends only at the last <CRLF>.<CRLF>
  ASSERT_TRUE(first.done);
  EXPECT_EQ(first.message, "a\r\n.\r\n.\r\n.\r\nb\r\n");
  auto second = ReadAll(DotStuff(first.message));
  ASSERT_TRUE(second.done);
  EXPECT_EQ(second.message, first.message);
}
