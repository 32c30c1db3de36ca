// imap_client_test.cc - unit tests for the pure parts of columba-load's IMAP
// support: response assembly across literals (imap_client.h), the small response
// parsers, --mix parsing (options.h) and the per-command table (op_stats.h).
//
// Hermetic: no sockets, no clocks, no files.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loadtest/imap_client.h"
#include "loadtest/op_stats.h"
#include "loadtest/options.h"

namespace columba::loadtest {
namespace {

// Feeds the CRLF-separated `wire` (ending with CRLF) line by line and returns the
// completed responses; fails the test on an assembler error.
std::vector<ImapResponse> Assemble(const std::string& wire, ResponseAssembler* a = nullptr) {
  ResponseAssembler own;
  if (!a) a = &own;
  std::vector<ImapResponse> out;
  size_t at = 0;
  while (at < wire.size()) {
    size_t nl = wire.find("\r\n", at);
    EXPECT_NE(nl, std::string::npos) << "wire must end with CRLF";
    if (nl == std::string::npos) break;
    ImapResponse r;
    auto st = a->Feed(std::string_view(wire).substr(at, nl - at), 2, &r);
    EXPECT_NE(st, ResponseAssembler::Status::kError);
    if (st == ResponseAssembler::Status::kDone) out.push_back(r);
    at = nl + 2;
  }
  return out;
}

TEST(ResponseAssembler, TaggedUntaggedContinuation) {
  auto rs = Assemble("* 3 EXISTS\r\n+ idling\r\nc7 OK [READ-WRITE] SELECT completed\r\nc8 no Nope\r\n");
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[0].kind, ImapResponse::Kind::kUntagged);
  EXPECT_EQ(rs[0].text, "* 3 EXISTS");
  EXPECT_EQ(rs[1].kind, ImapResponse::Kind::kContinuation);
  EXPECT_EQ(rs[2].kind, ImapResponse::Kind::kTagged);
  EXPECT_EQ(rs[2].tag, "c7");
  EXPECT_EQ(rs[2].status, "OK");
  EXPECT_EQ(rs[3].status, "NO");  // upper-cased
}

TEST(ResponseAssembler, UntaggedStatus) {
  auto rs = Assemble("* OK [UIDNEXT 9] Predicted\r\n* BYE Logging out\r\n* PREAUTH hi\r\n* 1 FETCH (FLAGS ())\r\n");
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[0].status, "OK");
  EXPECT_EQ(rs[1].status, "BYE");
  EXPECT_EQ(rs[2].status, "PREAUTH");
  EXPECT_EQ(rs[3].status, "");
}

TEST(ResponseAssembler, LiteralSpanningLinesThenCloseParen) {
  // An 18-octet body "Subject: x\r\n\r\nhi\r\n" followed by ")" on the next line.
  std::string body = "Subject: x\r\n\r\nhi\r\n";
  ASSERT_EQ(body.size(), 18u);
  std::string wire = "* 1 FETCH (UID 5 BODY[] {18}\r\n" + body + ")\r\nc2 OK done\r\n";
  auto rs = Assemble(wire);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].text, "* 1 FETCH (UID 5 BODY[] {18})");
  EXPECT_EQ(rs[0].literal_sizes, std::vector<uint64_t>{18});
  EXPECT_EQ(rs[1].tag, "c2");
}

TEST(ResponseAssembler, LiteralEndingInsideALine) {
  // Literal "abc" without CRLF: the rest of its line continues the response.
  auto rs = Assemble("* 1 FETCH (BODY[TEXT] {3}\r\nabc UID 9)\r\nc1 OK x\r\n");
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].text, "* 1 FETCH (BODY[TEXT] {3} UID 9)");
  EXPECT_EQ(FetchUid(rs[0].text), 9u);
}

TEST(ResponseAssembler, LiteralAtEndOfResponseAndEmptyLiteral) {
  // LIST with the mailbox name as a literal at the very end; then an empty literal.
  auto rs = Assemble("* LIST () \"/\" {3}\r\nfoo\r\n* 2 FETCH (BODY[] {0}\r\n)\r\n");
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].text, "* LIST () \"/\" {3}");
  EXPECT_EQ(rs[1].text, "* 2 FETCH (BODY[] {0})");
  EXPECT_EQ(rs[1].literal_sizes, std::vector<uint64_t>{0});
}

TEST(ResponseAssembler, LiteralContentThatLooksLikeALiteralOrATag) {
  // Inside a literal, "{5}" and "c1 OK" are data, not protocol.
  std::string body = "c1 OK fake {5}\r\n";
  std::string wire = "* 1 FETCH (BODY[] {" + std::to_string(body.size()) + "}\r\n" + body + " FLAGS (\\Seen))\r\n";
  auto rs = Assemble(wire);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, ImapResponse::Kind::kUntagged);
  EXPECT_EQ(rs[0].literal_sizes.size(), 1u);
  EXPECT_NE(rs[0].text.find("FLAGS (\\Seen))"), std::string::npos);
}

TEST(ResponseAssembler, TwoLiteralsInOneResponse) {
  auto rs = Assemble("* 1 FETCH (BODY[1] {2}\r\nab BODY[2] {4}\r\nwxyz)\r\n");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].text, "* 1 FETCH (BODY[1] {2} BODY[2] {4})");
  EXPECT_EQ(rs[0].literal_sizes, (std::vector<uint64_t>{2, 4}));
}

TEST(ResponseAssembler, LimitsAreErrors) {
  ResponseAssembler a(ResponseAssembler::Limits{16, 100});
  ImapResponse r;
  EXPECT_EQ(a.Feed("* 1 FETCH (BODY[] {101}", 2, &r), ResponseAssembler::Status::kError);
  ResponseAssembler b(ResponseAssembler::Limits{16, 100});
  EXPECT_EQ(b.Feed("* OK this line is longer than sixteen", 2, &r), ResponseAssembler::Status::kError);
  ResponseAssembler c(ResponseAssembler::Limits{64, 100});
  EXPECT_EQ(c.Feed("* 1 FETCH (BODY[] {100}", 2, &r), ResponseAssembler::Status::kNeedMore);
  EXPECT_TRUE(c.in_literal());
}

TEST(ImapParse, TrailingLiteral) {
  EXPECT_EQ(TrailingLiteral("x {12}"), 12u);
  EXPECT_EQ(TrailingLiteral("x {12+}"), 12u);
  EXPECT_EQ(TrailingLiteral("{0}"), 0u);
  EXPECT_FALSE(TrailingLiteral("x {12} y"));
  EXPECT_FALSE(TrailingLiteral("x {}"));
  EXPECT_FALSE(TrailingLiteral("x {1a}"));
  EXPECT_FALSE(TrailingLiteral("x }"));
}

TEST(ImapParse, UntaggedNumber) {
  EXPECT_EQ(UntaggedNumber("* 12 EXISTS", "EXISTS"), 12u);
  EXPECT_EQ(UntaggedNumber("* 12 exists", "EXISTS"), 12u);
  EXPECT_FALSE(UntaggedNumber("* 12 RECENT", "EXISTS"));
  EXPECT_FALSE(UntaggedNumber("* OK [UIDNEXT 4]", "EXISTS"));
  EXPECT_FALSE(UntaggedNumber("c1 12 EXISTS", "EXISTS"));
}

TEST(ImapParse, ResponseCodeNumber) {
  EXPECT_EQ(ResponseCodeNumber("* OK [UIDNEXT 42] Predicted next UID", "UIDNEXT"), 42u);
  EXPECT_EQ(ResponseCodeNumber("c3 OK [APPENDUID 1700000000 77] Append completed.", "APPENDUID"), 77u);
  EXPECT_EQ(ResponseCodeNumber("c3 ok [appenduid 9 8] x", "APPENDUID"), 8u);
  EXPECT_FALSE(ResponseCodeNumber("c3 OK Append completed.", "APPENDUID"));
  EXPECT_FALSE(ResponseCodeNumber("* OK [UIDNEXTX 4]", "UIDNEXT"));
}

TEST(ImapParse, SearchNumbers) {
  EXPECT_EQ(SearchNumbers("* SEARCH 1 4 9"), (std::vector<uint64_t>{1, 4, 9}));
  EXPECT_EQ(SearchNumbers("* SEARCH"), std::vector<uint64_t>{});
  EXPECT_EQ(SearchNumbers("* SEARCH 2 3 (MODSEQ 917)"), (std::vector<uint64_t>{2, 3}));
  EXPECT_FALSE(SearchNumbers("* 3 EXISTS"));
}

TEST(ImapParse, FetchUid) {
  EXPECT_EQ(FetchUid("* 1 FETCH (UID 17 FLAGS (\\Seen))"), 17u);
  EXPECT_EQ(FetchUid("* 1 FETCH (FLAGS (\\Seen) UID 18)"), 18u);
  EXPECT_FALSE(FetchUid("* 1 FETCH (FLAGS (\\Seen))"));
  EXPECT_FALSE(FetchUid("* SEARCH 1 UID 2"));
}

TEST(ImapParse, Quote) {
  EXPECT_EQ(Quote("u@example.test"), "\"u@example.test\"");
  EXPECT_EQ(Quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
}

TEST(ImapResultTest, ErrorKey) {
  ImapResult r;
  r.status = "NO";
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.ErrorKey(), "NO");
  r.failure = IoFailure::kTimeout;
  EXPECT_EQ(r.ErrorKey(), "timeout");
  ImapResult ok;
  ok.status = "OK";
  EXPECT_TRUE(ok.ok());
}

TEST(MixOption, ParsesAndRejects) {
  auto m = ParseMix("fetch-flags:30,NOOP:10,idle:0");
  ASSERT_TRUE(m) << m.error();
  ASSERT_EQ(m->size(), 2u);  // weight 0 dropped
  EXPECT_EQ((*m)[0].op, "fetch-flags");
  EXPECT_EQ((*m)[1].op, "noop");
  EXPECT_EQ((*m)[1].weight, 10u);
  EXPECT_FALSE(ParseMix("fetch:1"));
  EXPECT_FALSE(ParseMix("noop"));
  EXPECT_FALSE(ParseMix("noop:1,noop:2"));
  EXPECT_FALSE(ParseMix("noop:0"));
  EXPECT_FALSE(ParseMix("noop:-1"));
}

TEST(MixOption, ImapFlags) {
  const char* argv[] = {"columba-load", "imap", "--user-pattern", "imap%d@example.test", "--user-count", "3",
                        "--password", "pw", "--mix", "append:1"};
  auto o = ParseOptions(10, argv);
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->users, (std::vector<std::string>{"imap1@example.test", "imap2@example.test", "imap3@example.test"}));
  EXPECT_EQ(o->password, "pw");
  ASSERT_EQ(o->mix.size(), 1u);

  const char* none[] = {"columba-load", "imap"};
  EXPECT_FALSE(ParseOptions(2, none));  // no users
  const char* def[] = {"columba-load", "imap", "--user", "a@b"};
  auto d = ParseOptions(4, def);
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->mix.size(), DefaultImapMix().size());

  const char* notify[] = {"columba-load", "imap-notify", "--user", "a@b"};
  EXPECT_FALSE(ParseOptions(4, notify));  // needs --lmtp-target
  const char* notify2[] = {"columba-load", "imap-notify", "--user", "a@b", "--lmtp-target", "127.0.0.1:2424"};
  auto n = ParseOptions(6, notify2);
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(n->rcpts, std::vector<std::string>{"a@b"});
  EXPECT_EQ(n->lmtp_port, 2424);
  const char* remote[] = {"columba-load", "imap-notify", "--user", "a@b", "--lmtp-target", "192.0.2.1:24"};
  EXPECT_FALSE(ParseOptions(6, remote));
  const char* quote[] = {"columba-load", "imap", "--user", "a\"b"};
  EXPECT_FALSE(ParseOptions(4, quote));
}

TEST(OpTableTest, CountsRatesAndJson) {
  OpTable t;
  for (int i = 1; i <= 100; ++i) t.Ok("noop", std::chrono::milliseconds(i));
  t.Ok("select", std::chrono::milliseconds(5));
  t.Failed("select", "NO");
  t.Failed("select", "io");
  EXPECT_EQ(t.total_ok(), 101u);
  EXPECT_EQ(t.total_failed(), 2u);
  const auto& rows = t.rows();
  ASSERT_EQ(rows.size(), 2u);
  auto s = rows.at("noop").latency.Summarize();
  EXPECT_DOUBLE_EQ(s.p99_ms, 99.0);
  std::string json = "{" + t.FormatJsonMembers(2.0) + "}";
  EXPECT_NE(json.find("\"noop\":{\"ok\":100,\"ops_per_s\":50.00,\"failed\":0,\"errors\":{}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"select\":{\"ok\":1,\"ops_per_s\":0.50,\"failed\":2,\"errors\":{\"NO\":1,\"io\":1}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"ops_ok\":101,\"ops_failed\":2,\"ops_per_s\":50.50"), std::string::npos) << json;
  std::string text = t.FormatText(2.0);
  EXPECT_NE(text.find("noop"), std::string::npos);
  EXPECT_NE(text.find("NO: 1, io: 1"), std::string::npos) << text;
  EXPECT_NE(text.find("total"), std::string::npos);
}

}  // namespace
}  // namespace columba::loadtest
