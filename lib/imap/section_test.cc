// section_test.cc - FETCH BODY[section]<partial> / BINARY tests on realistic
// messages, with exact expected bytes. Pure in-memory tests; never touch files
// or the network.
#include "lib/imap/section.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace columba::imap {
namespace {

std::string Crlf(std::initializer_list<std::string_view> lines) {
  std::string out;
  for (std::string_view l : lines) {
    out += l;
    out += "\r\n";
  }
  return out;
}

// 1 multipart/alternative (1.1 text/plain QP, 1.2 text/html), 2 base64
// attachment, 3 message/rfc822 (single-part inner message), 4 unknown CTE.
const std::string kMixed = Crlf({
    "From: Alice <alice@example.org>",
    "To: Bob <bob@example.org>",
    "Subject: Report",
    " for November",
    "Date: Wed, 25 Nov 2026 10:00:00 +0000",
    "MIME-Version: 1.0",
    "Content-Type: multipart/mixed; boundary=\"outer\"",
    "x-custom: one",
    "",
    "This is a multi-part message.",
    "--outer",
    "Content-Type: multipart/alternative; boundary=\"alt\"",
    "",
    "--alt",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "Caf=C3=A9 time.",
    "--alt",
    "Content-Type: text/html; charset=utf-8",
    "",
    "<p>Cafe time.</p>",
    "--alt--",
    "--outer",
    "Content-Type: application/octet-stream; name=\"a.bin\"",
    "Content-Transfer-Encoding: base64",
    "Content-Disposition: attachment; filename=\"a.bin\"",
    "",
    "SGVsbG8sIHdvcmxkIQ==",
    "--outer",
    "Content-Type: message/rfc822",
    "",
    "From: Carol <carol@example.org>",
    "Subject: Inner",
    "Content-Type: text/plain",
    "",
    "Inner body line 1",
    "Inner body line 2",
    "--outer",
    "Content-Type: application/x-thing",
    "Content-Transfer-Encoding: x-uuencode",
    "",
    "begin 644 x",
    "--outer--",
});

const std::string kMixedHeader = Crlf({
    "From: Alice <alice@example.org>",
    "To: Bob <bob@example.org>",
    "Subject: Report",
    " for November",
    "Date: Wed, 25 Nov 2026 10:00:00 +0000",
    "MIME-Version: 1.0",
    "Content-Type: multipart/mixed; boundary=\"outer\"",
    "x-custom: one",
    "",
});

const std::string kInnerMessage = Crlf({
                                       "From: Carol <carol@example.org>",
                                       "Subject: Inner",
                                       "Content-Type: text/plain",
                                       "",
                                       "Inner body line 1",
                                   }) +
                                   "Inner body line 2";

class MixedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parsed = mail::ParseMessage(kMixed);
    ASSERT_TRUE(parsed);
    msg_ = std::move(*parsed);
  }
  std::string Body(std::string_view section, std::optional<SectionPartial> partial = std::nullopt) {
    auto spec = ParseSection(section);
    EXPECT_TRUE(spec) << section;
    if (!spec) return "<bad section>";
    auto data = FetchBody(msg_, *spec, partial);
    if (!data) return std::string("<error: ") + SectionErrorText(data.error()) + ">";
    return *data;
  }
  std::string Binary(std::vector<uint32_t> part, std::optional<SectionPartial> partial = std::nullopt) {
    auto data = FetchBinary(msg_, part, partial);
    if (!data) return std::string("<error: ") + SectionErrorText(data.error()) + ">";
    return *data;
  }
  mail::ParsedMessage msg_;
};

TEST_F(MixedTest, WholeHeaderText) {
  EXPECT_EQ(Body(""), kMixed);
  EXPECT_EQ(Body("HEADER"), kMixedHeader);
  EXPECT_EQ(Body("TEXT"), kMixed.substr(kMixedHeader.size()));
  EXPECT_EQ(Body("text"), Body("TEXT"));
}

TEST_F(MixedTest, PartsAndMime) {
  EXPECT_EQ(Body("1.1"), "Caf=C3=A9 time.");
  EXPECT_EQ(Body("1.2"), "<p>Cafe time.</p>");
  EXPECT_EQ(Body("1.1.MIME"), Crlf({"Content-Type: text/plain; charset=utf-8",
                                    "Content-Transfer-Encoding: quoted-printable", ""}));
  EXPECT_EQ(Body("1"), Crlf({"--alt", "Content-Type: text/plain; charset=utf-8",
                             "Content-Transfer-Encoding: quoted-printable", "", "Caf=C3=A9 time.", "--alt",
                             "Content-Type: text/html; charset=utf-8", "", "<p>Cafe time.</p>"}) +
                           "--alt--");
  EXPECT_EQ(Body("1.MIME"), Crlf({"Content-Type: multipart/alternative; boundary=\"alt\"", ""}));
  EXPECT_EQ(Body("2"), "SGVsbG8sIHdvcmxkIQ==");
  EXPECT_EQ(Body("4"), "begin 644 x");
}

TEST_F(MixedTest, EncapsulatedMessage) {
  EXPECT_EQ(Body("3"), kInnerMessage);
  EXPECT_EQ(Body("3.MIME"), Crlf({"Content-Type: message/rfc822", ""}));
  EXPECT_EQ(Body("3.HEADER"),
            Crlf({"From: Carol <carol@example.org>", "Subject: Inner", "Content-Type: text/plain", ""}));
  EXPECT_EQ(Body("3.TEXT"), "Inner body line 1\r\nInner body line 2");
  EXPECT_EQ(Body("3.1"), "Inner body line 1\r\nInner body line 2");  // "1" of a single-part message
  EXPECT_EQ(Body("3.HEADER.FIELDS (subject)"), "Subject: Inner\r\n\r\n");
  EXPECT_EQ(Body("3.HEADER.FIELDS.NOT (FROM content-type)"), "Subject: Inner\r\n\r\n");
}

TEST_F(MixedTest, HeaderFieldsFoldedAndCaseInsensitive) {
  EXPECT_EQ(Body("HEADER.FIELDS (SUBJECT X-Custom)"), "Subject: Report\r\n for November\r\nx-custom: one\r\n\r\n");
  EXPECT_EQ(Body("HEADER.FIELDS (\"subject\")"), "Subject: Report\r\n for November\r\n\r\n");
  EXPECT_EQ(Body("HEADER.FIELDS (X-Absent)"), "\r\n");
  EXPECT_EQ(Body("HEADER.FIELDS.NOT (From To Date MIME-Version Content-Type)"),
            "Subject: Report\r\n for November\r\nx-custom: one\r\n\r\n");
  EXPECT_EQ(Body("header.fields.not (X-Absent)"), kMixedHeader);
}

TEST_F(MixedTest, Errors) {
  EXPECT_EQ(Body("1.TEXT"), "<error: HEADER and TEXT need a message/rfc822 part>");
  EXPECT_EQ(Body("2.HEADER"), "<error: HEADER and TEXT need a message/rfc822 part>");
  EXPECT_EQ(Body("1.1.HEADER.FIELDS (From)"), "<error: HEADER and TEXT need a message/rfc822 part>");
  EXPECT_EQ(Binary({4}), "<error: unknown Content-Transfer-Encoding>");
  EXPECT_FALSE(FetchBinarySize(msg_, std::vector<uint32_t>{4}));
}

TEST_F(MixedTest, MissingPartsAreEmpty) {
  EXPECT_EQ(Body("9"), "");
  EXPECT_EQ(Body("1.5"), "");
  EXPECT_EQ(Body("2.1"), "");  // a leaf has no sub-parts
  EXPECT_EQ(Body("3.2"), "");
  EXPECT_EQ(Body("9.MIME"), "");
  EXPECT_EQ(Body("9.TEXT"), "");
  EXPECT_EQ(Binary({7}), "");
}

TEST_F(MixedTest, PartialAtBoundaries) {
  const uint64_t n = kMixed.size();
  EXPECT_EQ(Body("", SectionPartial{0, 4}), "From");
  EXPECT_EQ(Body("", SectionPartial{0, n}), kMixed);
  EXPECT_EQ(Body("", SectionPartial{0, n + 100}), kMixed);
  EXPECT_EQ(Body("", SectionPartial{n - 1, 1}), "\n");
  EXPECT_EQ(Body("", SectionPartial{n - 1, 10}), "\n");
  EXPECT_EQ(Body("", SectionPartial{n, 1}), "");
  EXPECT_EQ(Body("", SectionPartial{n + 5, 1}), "");
  EXPECT_EQ(Body("1.1", SectionPartial{3, 100}), "=C3=A9 time.");
  EXPECT_EQ(Body("1.1", SectionPartial{14, 1}), ".");
  EXPECT_EQ(Body("1.1", SectionPartial{15, 1}), "");
  EXPECT_EQ(Body("HEADER.FIELDS (Subject)", SectionPartial{9, 8}), "Report\r\n");
  EXPECT_EQ(Binary({1, 1}, SectionPartial{3, 2}), "\xC3\xA9");
  EXPECT_EQ(Binary({2}, SectionPartial{7, 1000}), "world!");
}

TEST_F(MixedTest, BinaryDecodes) {
  EXPECT_EQ(Binary({1, 1}), "Caf\xC3\xA9 time.");
  EXPECT_EQ(Binary({1, 2}), "<p>Cafe time.</p>");
  EXPECT_EQ(Binary({2}), "Hello, world!");
  EXPECT_EQ(Binary({3}), kInnerMessage);  // not a leaf: as is
  EXPECT_EQ(Binary({}), kMixed);
  EXPECT_EQ(FetchBinarySize(msg_, std::vector<uint32_t>{2}).value(), 13u);
  EXPECT_EQ(FetchBinarySize(msg_, std::vector<uint32_t>{1, 1}).value(), 11u);
  EXPECT_EQ(FetchBinarySize(msg_, std::vector<uint32_t>{9}).value(), 0u);
}

TEST_F(MixedTest, StreamingPlansMatchInMemoryResults) {
  auto map = ParsePartMap(SerializePartMap(BuildPartMap(msg_)));
  ASSERT_TRUE(map);
  EXPECT_EQ(*map, BuildPartMap(msg_));
  EXPECT_TRUE(map->crlf_only);

  // BODY[1.1]<3.6>: a range of the blob, the partial applied to the range.
  auto plan = PlanBody(*map, *ParseSection("1.1"));
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->action, SectionPlan::kRange);
  EXPECT_FALSE(plan->needs_crlf);
  const ByteRange r = ClampPartial(plan->range.length, SectionPartial{3, 6});
  EXPECT_EQ(kMixed.substr(plan->range.offset + r.offset, r.length), "=C3=A9");

  // HEADER.FIELDS reads only the header block.
  plan = PlanBody(*map, *ParseSection("HEADER.FIELDS (To)"));
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->action, SectionPlan::kFilterHeader);
  EXPECT_EQ(plan->range, (ByteRange{0, kMixedHeader.size()}));
  EXPECT_EQ(Materialize(*plan, kMixed.substr(0, kMixedHeader.size()), std::nullopt).value(),
            "To: Bob <bob@example.org>\r\n\r\n");

  plan = PlanBinary(*map, std::vector<uint32_t>{2});
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->action, SectionPlan::kDecode);
  EXPECT_EQ(plan->encoding, TransferEncoding::kBase64);
  EXPECT_EQ(kMixed.substr(plan->range.offset, plan->range.length), "SGVsbG8sIHdvcmxkIQ==");

  plan = PlanBody(*map, *ParseSection("7"));
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->action, SectionPlan::kEmpty);

  for (uint32_t a = 0; a < 6; ++a) {
    for (uint32_t b = 0; b < 4; ++b) {
      const std::vector<uint32_t> path = {a, b};
      const std::vector<uint32_t> head = {a};
      EXPECT_EQ(FindPart(*map, path), mail::FindPart(msg_, path));
      EXPECT_EQ(FindPart(*map, head), mail::FindPart(msg_, head));
    }
  }
}

TEST(Section, SinglePartMessage) {
  const std::string raw = Crlf({"Subject: hi", "Content-Type: text/plain", "", "Hello"}) + "World\r\n";
  auto msg = mail::ParseMessage(raw);
  ASSERT_TRUE(msg);
  auto body = [&](std::string_view s) { return FetchBody(*msg, *ParseSection(s)).value_or("<error>"); };
  EXPECT_EQ(body("1"), "Hello\r\nWorld\r\n");
  EXPECT_EQ(body("TEXT"), "Hello\r\nWorld\r\n");
  EXPECT_EQ(body("1.MIME"), "Subject: hi\r\nContent-Type: text/plain\r\n\r\n");
  EXPECT_EQ(body("2"), "");
  EXPECT_EQ(body("1.1"), "");
  EXPECT_EQ(body("1.TEXT"), "<error>");
  EXPECT_EQ(FetchBinary(*msg, std::vector<uint32_t>{1}).value(), "Hello\r\nWorld\r\n");
}

TEST(Section, TopLevelMessageRfc822) {
  const std::string raw = Crlf({"Subject: outer", "Content-Type: message/rfc822", "", "Subject: inner", "",
                                "inner text"});
  auto msg = mail::ParseMessage(raw);
  ASSERT_TRUE(msg);
  auto body = [&](std::string_view s) { return FetchBody(*msg, *ParseSection(s)).value_or("<error>"); };
  EXPECT_EQ(body("1"), "Subject: inner\r\n\r\ninner text\r\n");
  EXPECT_EQ(body("1.HEADER"), "Subject: inner\r\n\r\n");
  EXPECT_EQ(body("1.TEXT"), "inner text\r\n");
  EXPECT_EQ(body("1.1"), "inner text\r\n");
  EXPECT_EQ(body("HEADER.FIELDS (subject)"), "Subject: outer\r\n\r\n");
}

TEST(Section, BareLfCountsAsCrlf) {
  const std::string raw = "Subject: x\nFrom: a@b\n\nline1\nline2\n";
  auto msg = mail::ParseMessage(raw);
  ASSERT_TRUE(msg);
  const PartMap map = BuildPartMap(*msg);
  EXPECT_FALSE(map.crlf_only);
  auto text = FetchBody(*msg, *ParseSection("TEXT"));
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "line1\r\nline2\r\n");
  EXPECT_EQ(text->size(), msg->parts[0].body_octets_crlf);
  EXPECT_EQ(FetchBody(*msg, *ParseSection(""), SectionPartial{10, 4}).value(), "\r\nFr");
  EXPECT_EQ(FetchBody(*msg, *ParseSection("HEADER")).value(), "Subject: x\r\nFrom: a@b\r\n\r\n");
  EXPECT_EQ(FetchBody(*msg, *ParseSection("HEADER.FIELDS (FROM)")).value(), "From: a@b\r\n\r\n");
  auto plan = PlanBody(map, *ParseSection("TEXT"));
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->needs_crlf);
}

TEST(Section, QuotedPrintableAndUnknownBinarySize) {
  const std::string raw = Crlf({"Content-Type: multipart/mixed; boundary=b", "", "--b",
                                "Content-Transfer-Encoding: Quoted-Printable", "", "a=3Db=", "c", "--b",
                                "Content-Transfer-Encoding: 8bit", "", "caf\xC3\xA9", "--b--"});
  auto msg = mail::ParseMessage(raw);
  ASSERT_TRUE(msg);
  EXPECT_EQ(FetchBinary(*msg, std::vector<uint32_t>{1}).value(), "a=bc");
  EXPECT_EQ(FetchBinarySize(*msg, std::vector<uint32_t>{1}).value(), 4u);
  EXPECT_EQ(FetchBinary(*msg, std::vector<uint32_t>{2}).value(), "caf\xC3\xA9");
}

TEST(FilterHeaderFields, FoldingJunkAndLineEnds) {
  const std::vector<std::string> names = {"received", "X-A"};
  const std::string block =
      "Received: from a\r\n\tby b\r\n  with c\r\nX-B: no\r\n fold\r\nx-a : spaced name\r\n"
      "junk line without colon\r\nX-A: second\nX-AB: prefix only\r\n\r\nBody: not a header\r\n";
  EXPECT_EQ(FilterHeaderFields(block, names, false),
            "Received: from a\r\n\tby b\r\n  with c\r\nx-a : spaced name\r\nX-A: second\r\n\r\n");
  EXPECT_EQ(FilterHeaderFields(block, names, true),
            "X-B: no\r\n fold\r\njunk line without colon\r\nX-AB: prefix only\r\n\r\n");
  EXPECT_EQ(FilterHeaderFields("", names, false), "\r\n");
  EXPECT_EQ(FilterHeaderFields("X-A: no line end", names, false), "X-A: no line end\r\n\r\n");
  EXPECT_EQ(FilterHeaderFields(" leading continuation\r\nX-A: 1\r\n", names, true), " leading continuation\r\n\r\n");
}

TEST(ParseSection, ValidForms) {
  EXPECT_EQ(ParseSection("").value(), SectionSpec{});
  EXPECT_EQ(ParseSection("HEADER").value().text, SectionText::kHeader);
  EXPECT_EQ(ParseSection("1.2.mime").value(), (SectionSpec{{1, 2}, SectionText::kMime, {}}));
  EXPECT_EQ(ParseSection("4294967295").value().part, (std::vector<uint32_t>{4294967295u}));
  EXPECT_EQ(ParseSection("3.HEADER.FIELDS (From \"X-A b\")").value(),
            (SectionSpec{{3}, SectionText::kHeaderFields, {"From", "X-A b"}}));
  EXPECT_EQ(ParseSection("HEADER.FIELDS.NOT (a  b)").value(),
            (SectionSpec{{}, SectionText::kHeaderFieldsNot, {"a", "b"}}));
}

TEST(ParseSection, Invalid) {
  for (const char* bad : {"MIME", "0", "01", "1.", "1..2", ".1", "1.0", "HEADER.FIELDS ()", "HEADER.FIELDS",
                          "HEADER.FIELDS(From)", "HEADER.FIELDS (From", "HEADER.FIELDS (\"From)",
                          "HEADER.FIELDS (From) x", "HEADER.FIELDS (a\"b)", "HEADER.FIELDS (\"a\"b)",
                          "FOO", "1.2.TEXT.", "HEADERX", "TEXT ", "4294967296", "1.HEADER.NOT"}) {
    EXPECT_FALSE(ParseSection(bad)) << '[' << bad << ']';
  }
  std::string deep;
  for (int i = 0; i < 101; ++i) deep += i ? ".1" : "1";
  EXPECT_FALSE(ParseSection(deep));
}

TEST(FormatSection, EchoesCanonically) {
  for (const char* s : {"", "HEADER", "TEXT", "1", "1.2.MIME", "3.HEADER.FIELDS (From To)",
                        "HEADER.FIELDS.NOT (X-A \"with space\")"}) {
    EXPECT_EQ(FormatSection(ParseSection(s).value()), s);
  }
  EXPECT_EQ(FormatSection(ParseSection("1.header.fields (a]b)").value()), "1.HEADER.FIELDS (\"a]b\")");
}

TEST(ParsePartial, Forms) {
  EXPECT_EQ(ParsePartial("0.10").value(), (SectionPartial{0, 10}));
  EXPECT_EQ(ParsePartial("4294967296.1").value(), (SectionPartial{4294967296ull, 1}));
  for (const char* bad : {"", "1", "1.", ".1", "10.0", "a.1", "1.1.1", "01.1", "1.-1", "99999999999999999999.1"}) {
    EXPECT_FALSE(ParsePartial(bad)) << bad;
  }
}

TEST(PartMap, RejectsInconsistentBytes) {
  auto msg = mail::ParseMessage(kMixed);
  ASSERT_TRUE(msg);
  const std::string good = SerializePartMap(BuildPartMap(*msg));
  EXPECT_TRUE(ParsePartMap(good));
  EXPECT_FALSE(ParsePartMap(""));
  EXPECT_FALSE(ParsePartMap(std::string("\x02") + good.substr(1)));
  EXPECT_FALSE(ParsePartMap(good + "x"));
  for (size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(ParsePartMap(good.substr(0, n))) << n;
  // One part whose body ends past the message size (10).
  EXPECT_FALSE(ParsePartMap(std::string("\x01\x0A\x01\x01\x00\x00\x00\x00\x02\x09", 10)));
  EXPECT_TRUE(ParsePartMap(std::string("\x01\x0A\x01\x01\x00\x00\x00\x00\x02\x08", 10)));
  // A child outside its parent's body.
  EXPECT_FALSE(ParsePartMap(std::string("\x01\x0A\x01\x02\x01\x00\x00\x00\x05\x05"
                                        "\x00\x00\x01\x00\x01\x01",
                                        16)));
}

}  // namespace
}  // namespace columba::imap

TEST(PartMapShift, PrependedTraceHeadersShiftEverythingButTheTopHeaderStart) {
  const std::string body =
      "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
      "one\r\n--b--\r\n";
  const std::string prefix = "Return-Path: <a@b>\r\nDelivered-To: u@example.test\r\n";
  auto plain = columba::mail::ParseMessage(body);
  ASSERT_TRUE(plain.has_value());
  auto shifted = columba::imap::BuildPartMap(*plain);
  columba::imap::PrependHeaderLines(shifted, prefix.size());
  const std::string stored = prefix + body;
  auto reparsed = columba::mail::ParseMessage(stored);
  ASSERT_TRUE(reparsed.has_value());
  EXPECT_EQ(shifted, columba::imap::BuildPartMap(*reparsed)) << "same as parsing the stored bytes";
}
