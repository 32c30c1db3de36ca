// message_test.cc - tests of ParseMessage, BodyStructure, Envelope, FindPart and
// ExtractSearchFields on real-world shaped messages.
//
// Expected BODYSTRUCTURE / ENVELOPE strings were worked out by hand from RFC
// 3501 section 7.4.2 (body-type-1part: type subtype params id description
// encoding size [lines for text/*, envelope+body+lines for message/rfc822],
// then md5 disposition language location; body-type-mpart: bodies subtype,
// then params disposition language location). Sizes are CRLF sizes: a bare LF
// counts two octets. Tests never touch files or the network.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lib/mail/message.h"

namespace columba::mail {
namespace {

ParsedMessage MustParse(std::string_view raw, const ParseLimits& limits = {}) {
  auto m = ParseMessage(raw, limits);
  EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().message);
  return m ? std::move(*m) : ParsedMessage{};
}

// ---------------------------------------------------------------------------
// A plain RFC 5322 message, CRLF line ends, no MIME headers at all.

constexpr std::string_view kSimple =
    "From: Alice Example <alice@example.com>\r\n"
    "To: bob@example.org\r\n"
    "Subject: Hello\r\n"
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    "Message-ID: <1234@local.machine.example>\r\n"
    "\r\n"
    "Hi Bob,\r\n"
    "See you.\r\n";

TEST(ParseMessage, SimpleTextPart) {
  ParsedMessage m = MustParse(kSimple);
  ASSERT_EQ(m.parts.size(), 1u);
  const MessagePart& p = m.parts[0];
  EXPECT_EQ(p.kind, PartKind::kLeaf);
  EXPECT_EQ(p.type, "text");
  EXPECT_EQ(p.subtype, "plain");
  EXPECT_TRUE(p.params.empty());
  EXPECT_EQ(p.header_start, 0u);
  EXPECT_EQ(p.body_start, kSimple.find("Hi Bob"));
  EXPECT_EQ(p.end, kSimple.size());
  EXPECT_EQ(p.body_octets, 19u);
  EXPECT_EQ(p.body_octets_crlf, 19u);
  EXPECT_EQ(p.body_lines, 2u);
  ASSERT_EQ(m.Headers().size(), 5u);
  EXPECT_EQ(m.Headers()[2].name, "Subject");
  EXPECT_EQ(m.Headers()[2].value, "Hello");
  EXPECT_EQ(m.Header("message-id"), "<1234@local.machine.example>");
  EXPECT_EQ(m.Body(), "Hi Bob,\r\nSee you.\r\n");
}

TEST(BodyStructure, SimpleTextPartGetsDefaultCharset) {
  ParsedMessage m = MustParse(kSimple);
  EXPECT_EQ(BodyStructure(m, true),
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 19 2 NIL NIL NIL NIL)");
  EXPECT_EQ(BodyStructure(m, false), "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 19 2)");
}

TEST(Envelope, SenderAndReplyToDefaultToFrom) {
  ParsedMessage m = MustParse(kSimple);
  EXPECT_EQ(Envelope(m),
            "(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"Hello\" "
            "((\"Alice Example\" NIL \"alice\" \"example.com\")) "
            "((\"Alice Example\" NIL \"alice\" \"example.com\")) "
            "((\"Alice Example\" NIL \"alice\" \"example.com\")) "
            "((NIL NIL \"bob\" \"example.org\")) NIL NIL NIL \"<1234@local.machine.example>\")");
}

// ---------------------------------------------------------------------------
// multipart/alternative, quoted-printable text and HTML.

constexpr std::string_view kAlternative =
    "From: a@example.com\r\n"
    "Subject: alt\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"XYZ\"\r\n"
    "\r\n"
    "This is a multi-part message in MIME format.\r\n"
    "--XYZ\r\n"
    "Content-Type: text/plain; charset=UTF-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=C3=A9 time\r\n"
    "--XYZ\r\n"
    "Content-Type: text/html; charset=UTF-8\r\n"
    "\r\n"
    "<p>Caf&eacute; <b>time</b></p>\r\n"
    "--XYZ--\r\n";

TEST(ParseMessage, MultipartAlternative) {
  ParsedMessage m = MustParse(kAlternative);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[0].kind, PartKind::kMultipart);
  EXPECT_EQ(m.parts[0].children, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(m.parts[1].parent, 0u);
  EXPECT_EQ(m.parts[1].depth, 1u);
  EXPECT_EQ(m.parts[1].transfer_encoding, "quoted-printable");
  // The CRLF before "--XYZ" belongs to the delimiter, not to the part.
  EXPECT_EQ(m.Body(1), "Caf=C3=A9 time");
  EXPECT_EQ(m.parts[1].body_lines, 1u);  // a last line without CRLF still counts
  EXPECT_EQ(m.parts[1].header_start, kAlternative.find("Content-Type: text/plain"));
  EXPECT_EQ(m.Body(2), "<p>Caf&eacute; <b>time</b></p>");
  ASSERT_NE(m.parts[2].Param("charset"), nullptr);
  EXPECT_EQ(m.parts[2].Param("charset")->value, "UTF-8");
}

TEST(BodyStructure, MultipartAlternative) {
  ParsedMessage m = MustParse(kAlternative);
  EXPECT_EQ(BodyStructure(m, true),
            "((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"quoted-printable\" 14 1 NIL NIL NIL NIL)"
            "(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 30 1 NIL NIL NIL NIL) "
            "\"alternative\" (\"boundary\" \"XYZ\") NIL NIL NIL)");
  EXPECT_EQ(BodyStructure(m, false),
            "((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"quoted-printable\" 14 1)"
            "(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 30 1) \"alternative\")");
}

TEST(SearchFields, BodyTextDecodesQuotedPrintableAndStripsHtml) {
  ParsedMessage m = MustParse(kAlternative);
  SearchFields f = ExtractSearchFields(m);
  EXPECT_EQ(f.body_text, "Caf\xC3\xA9 time\nCaf\xC3\xA9 time\n");
  EXPECT_FALSE(f.body_text_truncated);
  EXPECT_EQ(f.subject, "alt");
  EXPECT_EQ(f.from, "a@example.com");
}

// ---------------------------------------------------------------------------
// multipart/mixed with a base64 attachment, RFC 2231 filename, RFC 2047 subject.

constexpr std::string_view kMixed =
    "From: \"Doe, Jane\" <jane@example.com>\r\n"
    "To: bob@example.org\r\n"
    "Subject: =?UTF-8?B?UmVwb3J0IMOcYmVyc2ljaHQ=?=\r\n"
    "Content-Type: multipart/mixed;\r\n"
    " boundary=\"----=_Part_0_1\"\r\n"
    "\r\n"
    "------=_Part_0_1\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "See attached.\r\n"
    "------=_Part_0_1\r\n"
    "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
    "Content-Transfer-Encoding: BASE64\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename*0*=UTF-8''%C3%9Cber;\r\n"
    " filename*1=sicht.pdf\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "------=_Part_0_1--\r\n";

TEST(ParseMessage, MixedWithAttachmentAndRfc2231) {
  ParsedMessage m = MustParse(kMixed);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[0].Param("boundary")->value, "----=_Part_0_1");
  const MessagePart& pdf = m.parts[2];
  EXPECT_EQ(pdf.type, "application");
  EXPECT_EQ(pdf.transfer_encoding, "base64");
  EXPECT_EQ(pdf.disposition, "attachment");
  const MimeParam* fn = pdf.DispositionParam("filename");
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(fn->value, "\xC3\x9C" "bersicht.pdf");
  EXPECT_EQ(fn->rfc2231, "UTF-8''%C3%9Cbersicht.pdf");
}

TEST(BodyStructure, MixedWithAttachment) {
  ParsedMessage m = MustParse(kMixed);
  EXPECT_EQ(BodyStructure(m, true),
            "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 1 NIL NIL NIL NIL)"
            "(\"application\" \"pdf\" (\"name\" \"report.pdf\") NIL NIL \"base64\" 12 NIL "
            "(\"attachment\" (\"filename*\" \"UTF-8''%C3%9Cbersicht.pdf\")) NIL NIL) "
            "\"mixed\" (\"boundary\" \"----=_Part_0_1\") NIL NIL NIL)");
}

TEST(Envelope, EncodedWordsStayRawAndQuotedNamesUnquoted) {
  ParsedMessage m = MustParse(kMixed);
  EXPECT_EQ(Envelope(m),
            "(NIL \"=?UTF-8?B?UmVwb3J0IMOcYmVyc2ljaHQ=?=\" "
            "((\"Doe, Jane\" NIL \"jane\" \"example.com\")) ((\"Doe, Jane\" NIL \"jane\" \"example.com\")) "
            "((\"Doe, Jane\" NIL \"jane\" \"example.com\")) ((NIL NIL \"bob\" \"example.org\")) "
            "NIL NIL NIL NIL)");
}

TEST(SearchFields, DecodedSubjectAndAddresses) {
  ParsedMessage m = MustParse(kMixed);
  SearchFields f = ExtractSearchFields(m);
  EXPECT_EQ(f.subject, "Report \xC3\x9C" "bersicht");
  EXPECT_EQ(f.from, "Doe, Jane <jane@example.com>");
  EXPECT_EQ(f.to, "bob@example.org");
  EXPECT_EQ(f.date, 0);  // no Date header
  EXPECT_EQ(f.body_text, "See attached.");  // the PDF is not text/*
}

// ---------------------------------------------------------------------------
// Nested message/rfc822 with bare LF line ends and a group address.

constexpr std::string_view kForward =
    "From: outer@example.com\n"
    "Subject: Fwd: inner\n"
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "--outer\n"
    "Content-Type: text/plain\n"
    "\n"
    "Forwarded below.\n"
    "\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "Content-Description: forwarded message\n"
    "\n"
    "From: Inner Sender <inner@example.net>\n"
    "To: undisclosed-recipients:;\n"
    "Subject: inner\n"
    "Message-ID: <inner.1@example.net>\n"
    "\n"
    "Inner body line 1\n"
    "Inner body line 2\n"
    "--outer--\n";

TEST(ParseMessage, NestedMessageRfc822WithBareLf) {
  ParsedMessage m = MustParse(kForward);
  ASSERT_EQ(m.parts.size(), 4u);
  const MessagePart& fwd = m.parts[2];
  EXPECT_EQ(fwd.kind, PartKind::kMessage);
  ASSERT_EQ(fwd.children.size(), 1u);
  const MessagePart& inner = m.parts[3];
  EXPECT_EQ(inner.header_start, fwd.body_start);
  EXPECT_EQ(inner.end, fwd.end);
  EXPECT_EQ(m.Header("Subject", 3), "inner");
  // 153 raw octets holding 6 bare LFs; the 7th line has no line end.
  EXPECT_EQ(fwd.body_octets, 153u);
  EXPECT_EQ(fwd.body_octets_crlf, 159u);
  EXPECT_EQ(fwd.body_lines, 7u);
  EXPECT_EQ(m.Body(3), "Inner body line 1\nInner body line 2");
  EXPECT_EQ(inner.body_octets_crlf, 36u);
}

TEST(BodyStructure, NestedMessageRfc822) {
  ParsedMessage m = MustParse(kForward);
  const std::string inner_env =
      "(NIL \"inner\" ((\"Inner Sender\" NIL \"inner\" \"example.net\")) "
      "((\"Inner Sender\" NIL \"inner\" \"example.net\")) ((\"Inner Sender\" NIL \"inner\" \"example.net\")) "
      "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL \"<inner.1@example.net>\")";
  EXPECT_EQ(Envelope(m, 3), inner_env);
  EXPECT_EQ(BodyStructure(m, true),
            "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 18 1 NIL NIL NIL NIL)"
            "(\"message\" \"rfc822\" NIL NIL \"forwarded message\" \"7bit\" 159 " +
                inner_env +
                " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 36 2 NIL NIL NIL NIL) 7 "
                "NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)");
  EXPECT_EQ(BodyStructure(m, false),
            "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 18 1)"
            "(\"message\" \"rfc822\" NIL NIL \"forwarded message\" \"7bit\" 159 " +
                inner_env + " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 36 2) 7) \"mixed\")");
}

TEST(FindPart, ImapSectionNumbers) {
  ParsedMessage m = MustParse(kForward);
  auto find = [&](std::vector<uint32_t> path) { return FindPart(m, path); };
  EXPECT_EQ(find({}), 0u);
  EXPECT_EQ(find({1}), 1u);
  EXPECT_EQ(find({2}), 2u);
  EXPECT_EQ(find({2, 1}), 3u);  // body of the non-multipart encapsulated message
  EXPECT_EQ(find({3}), std::nullopt);
  EXPECT_EQ(find({0}), std::nullopt);
  EXPECT_EQ(find({1, 1}), std::nullopt);
  EXPECT_EQ(find({2, 2}), std::nullopt);

  ParsedMessage single = MustParse(kSimple);
  EXPECT_EQ(FindPart(single, std::vector<uint32_t>{1}), 0u);  // "1" of a single-part message
  EXPECT_EQ(FindPart(single, std::vector<uint32_t>{2}), std::nullopt);
}

TEST(SearchFields, NestedTextIsExtracted) {
  ParsedMessage m = MustParse(kForward);
  SearchFields f = ExtractSearchFields(m);
  EXPECT_EQ(f.body_text, "Forwarded below.\nInner body line 1\nInner body line 2");
  EXPECT_EQ(f.headers,
            "From: outer@example.com\nSubject: Fwd: inner\nContent-Type: multipart/mixed; boundary=outer\n\n");
}

// ---------------------------------------------------------------------------
// Liberal parsing.

TEST(ParseMessage, MissingCloseDelimiterEndsAtEof) {
  constexpr std::string_view raw =
      "Content-Type: multipart/mixed; boundary=\"b1\"\n"
      "\n"
      "--b1\n"
      "Content-Type: text/plain\n"
      "\n"
      "first\n"
      "--b1\n"
      "Content-Type: text/plain\n"
      "\n"
      "second, never closed\n";
  ParsedMessage m = MustParse(raw);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[2].end, raw.size());
  EXPECT_EQ(BodyStructure(m, false),
            "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 1)"
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 22 1) \"mixed\")");
}

TEST(ParseMessage, OuterBoundaryClosesInnerMultipart) {
  constexpr std::string_view raw =
      "Content-Type: multipart/mixed; boundary=outer\r\n"
      "\r\n"
      "--outer\r\n"
      "Content-Type: multipart/alternative; boundary=inner\r\n"
      "\r\n"
      "--inner\r\n"
      "\r\n"
      "one\r\n"
      "--outer\r\n"  // inner never closed
      "\r\n"
      "two\r\n"
      "--outer--\r\n";
  ParsedMessage m = MustParse(raw);
  ASSERT_EQ(m.parts.size(), 4u);
  EXPECT_EQ(m.parts[0].children, (std::vector<size_t>{1, 3}));
  EXPECT_EQ(m.parts[1].children, (std::vector<size_t>{2}));
  EXPECT_EQ(m.Body(2), "one");
  EXPECT_EQ(m.Body(3), "two");
}

TEST(ParseMessage, BoundaryCutsHeaderShort) {
  constexpr std::string_view raw =
      "Content-Type: multipart/mixed; boundary=\"a\"\n"
      "\n"
      "--a\n"
      "Content-Type: text/plain\n"
      "--a\n"
      "\n"
      "body\n"
      "--a--\n";
  ParsedMessage m = MustParse(raw);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[1].header_count, 1u);
  EXPECT_EQ(m.parts[1].body_octets, 0u);
  EXPECT_EQ(m.Body(2), "body");
}

TEST(ParseMessage, BlankLineBeforeBoundaryBelongsToDelimiter) {
  constexpr std::string_view raw =
      "Content-Type: multipart/mixed; boundary=b\r\n"
      "\r\n"
      "--b\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "--b\r\n"
      "Content-Type: message/rfc822\r\n"
      "\r\n"
      "--b--\r\n";
  ParsedMessage m = MustParse(raw);
  ASSERT_EQ(m.parts.size(), 4u);
  const size_t first = raw.find("Content-Type: text/plain");
  EXPECT_EQ(m.parts[1].header_start, first);
  EXPECT_EQ(m.parts[1].end, first + 26);  // header line + its CRLF; the blank line's CRLF starts the delimiter
  EXPECT_EQ(m.parts[1].body_start, m.parts[1].end);
  EXPECT_EQ(m.parts[3].header_start, m.parts[2].end);  // the empty encapsulated message stays inside
  EXPECT_EQ(BodyStructure(m, false),
            "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
            "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 0) \"mixed\")");
}

TEST(ParseMessage, PartsStayInsideTheirParent) {
  // "--e-" (boundary "e-" matched by prefix) and "--d" share one CRLF; the
  // empty part between them must not end after its parent.
  constexpr std::string_view raw =
      "Content-Type: multipart/mixed; boundary=d\r\n"
      "\r\n"
      "--d\r\n"
      "Content-Type: multipart/mixed; boundary=e-\r\n"
      "\r\n"
      "--e-\r\n"
      "--d--\r\n";
  ParsedMessage m = MustParse(raw);
  ASSERT_EQ(m.parts.size(), 3u);
  const size_t d_close = raw.rfind("--d--");
  EXPECT_EQ(m.parts[2].header_start, d_close);
  EXPECT_EQ(m.parts[2].end, d_close);
  EXPECT_EQ(m.parts[1].end, d_close);
  for (const MessagePart& p : m.parts)
    for (size_t c : p.children) EXPECT_LE(m.parts[c].end, p.end);
}

TEST(ParseMessage, HeadersWithoutBody) {
  constexpr std::string_view raw = "Subject: only headers\r\nX-Folded: a\r\n b\r\n";
  ParsedMessage m = MustParse(raw);
  EXPECT_EQ(m.parts[0].body_start, raw.size());
  EXPECT_EQ(m.Header("x-folded"), "a\r\n b");
  EXPECT_EQ(BodyStructure(m, false), "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)");
  EXPECT_EQ(Envelope(m), "(NIL \"only headers\" NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST(ParseMessage, JunkHeaderLinesAreSkipped) {
  constexpr std::string_view raw =
      "From sender@example.com Mon Jan  1 00:00:00 2024\n"
      "Subject : spaced\n"
      "no colon here\n"
      "\n"
      "x";
  ParsedMessage m = MustParse(raw);
  ASSERT_EQ(m.Headers().size(), 1u);
  EXPECT_EQ(m.Headers()[0].name, "Subject");
  EXPECT_EQ(m.Headers()[0].value, "spaced");
  EXPECT_EQ(m.parts[0].body_lines, 1u);
}

TEST(BodyStructure, MultipartWithoutPartsGetsEmptyTextPart) {
  ParsedMessage m = MustParse("Content-Type: multipart/mixed; boundary=zz\r\n\r\nno parts here\r\n");
  EXPECT_EQ(BodyStructure(m, true),
            "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\" "
            "(\"boundary\" \"zz\") NIL NIL NIL)");
}

TEST(BodyStructure, MultipartWithoutBoundaryIsALeaf) {
  ParsedMessage m = MustParse("Content-Type: multipart/mixed\r\n\r\nabc\r\n");
  EXPECT_EQ(m.parts[0].kind, PartKind::kLeaf);
  EXPECT_EQ(BodyStructure(m, true), "(\"multipart\" \"mixed\" NIL NIL NIL \"7bit\" 5 NIL NIL NIL NIL)");
}

TEST(BodyStructure, InvalidContentTypeAndEncodingFallBackToDefaults) {
  ParsedMessage m = MustParse(
      "Content-Type: garbage\r\n"
      "Content-Transfer-Encoding: ?invalid\r\n"
      "\r\n"
      "x\r\n");
  EXPECT_EQ(BodyStructure(m, false), "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)");
}

TEST(BodyStructure, ExtensionFieldsAndRfc2231Charset) {
  ParsedMessage m = MustParse(
      "Content-Type: text/plain; charset=\"iso-8859-1\"; format=flowed (comment);\r\n"
      " title*=iso-8859-1'en'%A3%20rate; name*0=\"long\"; name*1=\"name.txt\"\r\n"
      "Content-ID: <part1@example.com>\r\n"
      "Content-Description: A \"quoted\" description\r\n"
      "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
      "Content-Disposition: INLINE\r\n"
      "Content-Language: en-US, de\r\n"
      "Content-Location: http://example.com/a.txt\r\n"
      "\r\n"
      "hi\r\n");
  const MessagePart& p = m.parts[0];
  ASSERT_NE(p.Param("title"), nullptr);
  EXPECT_EQ(p.Param("title")->value, "\xC2\xA3 rate");
  EXPECT_EQ(p.Param("name")->value, "longname.txt");
  EXPECT_EQ(BodyStructure(m, true),
            "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\" \"format\" \"flowed\" "
            "\"title*\" \"iso-8859-1'en'%A3%20rate\" \"name\" \"longname.txt\") "
            "\"<part1@example.com>\" \"A \\\"quoted\\\" description\" \"7bit\" 4 1 "
            "\"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"inline\" NIL) (\"en-US\" \"de\") \"http://example.com/a.txt\")");
}

TEST(ParseMessage, MalformedRfc2231NamesAreKeptAsIs) {
  ParsedMessage m = MustParse(
      "Content-Type: text/plain; a*99999999999=x; b*x=y; c*1=second; c*0=first; d*=bad-no-quotes;\r\n"
      " e*0=plain%; e*1*=%C3%A9\r\n\r\n");
  const MessagePart& p = m.parts[0];
  ASSERT_EQ(p.params.size(), 5u);
  EXPECT_EQ(p.params[0].name, "a*99999999999");
  EXPECT_EQ(p.params[1].name, "b*x");
  EXPECT_EQ(p.params[2].name, "c");
  EXPECT_EQ(p.params[2].value, "firstsecond");  // sections are ordered by number
  EXPECT_EQ(p.params[3].name, "d");
  EXPECT_EQ(p.params[3].value, "bad-no-quotes");
  EXPECT_EQ(p.params[3].rfc2231, "''bad-no-quotes");
  // A later extended section makes the whole value extended, charset unknown.
  EXPECT_EQ(p.params[4].name, "e");
  EXPECT_EQ(p.params[4].rfc2231, "''plain%25%C3%A9");
  EXPECT_EQ(p.params[4].value, "plain%\xC3\xA9");
}

TEST(ParseMessage, DigestPartsDefaultToMessageRfc822) {
  constexpr std::string_view raw =
      "Content-Type: multipart/digest; boundary=d\r\n"
      "\r\n"
      "--d\r\n"
      "\r\n"
      "Subject: one\r\n"
      "\r\n"
      "first\r\n"
      "--d--\r\n";
  ParsedMessage m = MustParse(raw);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[1].type, "message");
  EXPECT_EQ(m.parts[1].kind, PartKind::kMessage);
  EXPECT_EQ(m.Header("Subject", 2), "one");
  EXPECT_EQ(m.Body(2), "first");
}

TEST(ParseMessage, EncodedMessageRfc822StaysALeaf) {
  ParsedMessage m = MustParse(
      "Content-Type: message/rfc822\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "U3ViamVjdDogeA0KDQp5\r\n");
  EXPECT_EQ(m.parts.size(), 1u);
  EXPECT_EQ(BodyStructure(m, false), "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 22)");
}

// ---------------------------------------------------------------------------
// IMAP string quoting.

TEST(Envelope, QuotingEscapesAndLiterals) {
  ParsedMessage m = MustParse(
      "Subject: say \"hi\" \\o/\r\n"
      "Message-ID: <a@b>\r\n"
      "In-Reply-To: <x@y>\r\n"
      "\t<folded@y>\r\n"
      "\r\n");
  EXPECT_EQ(Envelope(m), "(NIL \"say \\\"hi\\\" \\\\o/\" NIL NIL NIL NIL NIL NIL \"<x@y>\t<folded@y>\" \"<a@b>\")");

  ParsedMessage utf8 = MustParse("Subject: Gr\xC3\xBC\xC3\x9F" "e\r\n\r\n");
  EXPECT_EQ(Envelope(utf8), "(NIL {7}\r\nGr\xC3\xBC\xC3\x9F" "e NIL NIL NIL NIL NIL NIL NIL NIL)");

  std::string long_subject(2000, 'x');
  const std::string long_raw = "Subject: " + long_subject + "\r\n\r\n";  // must outlive the parse
  ParsedMessage longm = MustParse(long_raw);
  EXPECT_EQ(Envelope(longm), "(NIL {2000}\r\n" + long_subject + " NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST(Envelope, GroupsRoutesAndExplicitSenderReplyTo) {
  ParsedMessage m = MustParse(
      "From: Ann <ann@example.com>\r\n"
      "Sender: \r\n"
      "Reply-To: list@example.com\r\n"
      "To: Team: a@example.com, \"B\" <b@example.com>;, c@example.com\r\n"
      "Cc: <@relay.example:d@example.com>\r\n"
      "\r\n");
  EXPECT_EQ(Envelope(m),
            "(NIL NIL ((\"Ann\" NIL \"ann\" \"example.com\")) ((\"Ann\" NIL \"ann\" \"example.com\")) "
            "((NIL NIL \"list\" \"example.com\")) "
            "((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"example.com\")(\"B\" NIL \"b\" \"example.com\")"
            "(NIL NIL NIL NIL)(NIL NIL \"c\" \"example.com\")) "
            "((NIL \"@relay.example\" \"d\" \"example.com\")) NIL NIL NIL)");
}

// ---------------------------------------------------------------------------
// Search fields.

TEST(SearchFields, DateIdsAndReferences) {
  ParsedMessage m = MustParse(
      "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
      "Message-ID: (comment) <abc@example.com>\r\n"
      "In-Reply-To: <p1@example.com>\r\n"
      "References: <p0@example.com>\r\n"
      " <p1@example.com>\r\n"
      "Subject: =?ISO-8859-1?Q?Andr=E9?= Pirard\r\n"
      "\r\n"
      "body\r\n");
  SearchFields f = ExtractSearchFields(m);
  EXPECT_EQ(f.date, 760686745);
  EXPECT_EQ(f.date_zone_minutes, -480);
  EXPECT_EQ(f.message_id, "<abc@example.com>");
  EXPECT_EQ(f.in_reply_to, "<p1@example.com>");
  EXPECT_EQ(f.references, "<p0@example.com> <p1@example.com>");
  EXPECT_EQ(f.subject, "Andr\xC3\xA9 Pirard");
  EXPECT_EQ(f.body_text, "body\n");  // CRLF normalised to LF
}

TEST(SearchFields, UnparseableDateIsZeroAndTextIsValidUtf8) {
  constexpr char kRaw[] =
      "Date: sometime soon\r\n"
      "Subject: caf\xE9 \x00zero\r\n"  // a Latin-1 byte and a NUL in a raw header
      "Content-Type: text/plain; charset=windows-1252\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "gCAxMDA=\r\n";  // "\x80 100": the euro sign in Windows-1252
  ParsedMessage m = MustParse(std::string_view(kRaw, sizeof(kRaw) - 1));
  SearchFields f = ExtractSearchFields(m);
  EXPECT_EQ(f.date, 0);
  EXPECT_EQ(f.subject, "caf\xC3\xA9 zero");
  EXPECT_EQ(f.body_text, "\xE2\x82\xAC 100");
  EXPECT_EQ(f.headers.find('\0'), std::string::npos);
  EXPECT_NE(f.headers.find("caf\xC3\xA9 zero"), std::string::npos);
}

TEST(SearchFields, BodyTextIsCapped) {
  std::string raw = "Content-Type: text/plain; charset=utf-8\r\n\r\n";
  for (int i = 0; i < 1000; ++i) raw += "0123456789 \xC3\xA9\r\n";  // 14 bytes per line once CRLF -> LF
  ParsedMessage m = MustParse(raw);
  SearchLimits limits;
  limits.max_body_text = 96;  // 6 lines (84) + 11 ASCII + the first byte of U+00E9
  SearchFields f = ExtractSearchFields(m, limits);
  EXPECT_EQ(f.body_text.size(), 95u);  // never cut inside a UTF-8 sequence
  EXPECT_EQ(f.body_text.back(), ' ');
  EXPECT_TRUE(f.body_text_truncated);
}

// ---------------------------------------------------------------------------
// Errors and limits: every limit has a test that crosses it.

TEST(ParseMessage, EmptyInputIsInvalid) {
  auto m = ParseMessage("");
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().kind, ErrorKind::kInvalidInput);
}

std::string NestedMultiparts(int levels) {
  std::string raw;
  for (int i = 0; i < levels; ++i) {
    raw += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  raw += "Content-Type: text/plain\r\n\r\ndeep\r\n";
  return raw;
}

TEST(Limits, DeepMultipartNestingIsLimitExceeded) {
  auto m = ParseMessage(NestedMultiparts(100));
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().kind, ErrorKind::kLimitExceeded);
  EXPECT_NE(m.error().message.find("nested deeper than 32"), std::string::npos);

  // Exactly at the limit is fine: 32 multiparts (depths 0..31) + the leaf at depth 32.
  EXPECT_TRUE(ParseMessage(NestedMultiparts(32)).has_value());
  EXPECT_FALSE(ParseMessage(NestedMultiparts(33)).has_value());
}

TEST(Limits, DeepMessageRfc822NestingIsLimitExceeded) {
  std::string raw;
  for (int i = 0; i < 60; ++i) raw += "Content-Type: message/rfc822\r\n\r\n";
  raw += "Subject: bottom\r\n\r\nx\r\n";
  ParseLimits limits;
  limits.max_depth = 8;
  auto m = ParseMessage(raw, limits);
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().kind, ErrorKind::kLimitExceeded);
}

TEST(Limits, HeaderFieldTooLong) {
  std::string raw = "Subject: " + std::string(70'000, 'a') + "\r\n\r\nbody";
  auto m = ParseMessage(raw);
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().kind, ErrorKind::kLimitExceeded);
  EXPECT_NE(m.error().message.find("'Subject'"), std::string::npos);

  // The same length spread over folded lines is one field too.
  std::string folded = "References:";
  for (int i = 0; i < 4000; ++i) folded += " <" + std::to_string(i) + "@example.com>\r\n";
  folded += "\r\n";
  m = ParseMessage(folded);
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().kind, ErrorKind::kLimitExceeded);

  // 998+ octet lines below the limit are tolerated.
  EXPECT_TRUE(ParseMessage("X-Long: " + std::string(5000, 'b') + "\r\n\r\n").has_value());
}

TEST(Limits, TooManyHeaderFields) {
  std::string raw;
  for (int i = 0; i < 6; ++i) raw += "X-H: " + std::to_string(i) + "\r\n";
  raw += "\r\n";
  ParseLimits limits;
  limits.max_header_fields = 5;
  auto m = ParseMessage(raw, limits);
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().kind, ErrorKind::kLimitExceeded);
  limits.max_header_fields = 6;
  EXPECT_TRUE(ParseMessage(raw, limits).has_value());
}

TEST(Limits, TooManyParts) {
  std::string raw = "Content-Type: multipart/mixed; boundary=p\r\n\r\n";
  for (int i = 0; i < 3; ++i) raw += "--p\r\n\r\npart\r\n";
  raw += "--p--\r\n";
  ParseLimits limits;
  limits.max_parts = 3;  // root + 3 children = 4 parts
  auto m = ParseMessage(raw, limits);
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().kind, ErrorKind::kLimitExceeded);
  limits.max_parts = 4;
  EXPECT_TRUE(ParseMessage(raw, limits).has_value());
}

}  // namespace
}  // namespace columba::mail
