// sort_test.cc - RFC 5256 base subjects, sort-key folding, ENVELOPE first
// addresses and SORT ordering.
// Hermetic: never touches the network, the file system or the clock.
#include "lib/imap/sort.h"

#include <gtest/gtest.h>

#include "lib/mail/message.h"

namespace columba::imap {
namespace {

struct BaseCase {
  const char* subject;
  const char* base;
  bool reply_or_forward;
};

TEST(BaseSubject, Rfc5256Section2_1) {
  const BaseCase cases[] = {
      {"hello", "hello", false},
      {"Re: hello", "hello", true},
      {"RE:hello", "hello", true},
      {"re : hello", "hello", true},  // *WSP before ':'
      {"Fw: hello", "hello", true},
      {"FWD: hello", "hello", true},
      {"Re: Re: Fwd: hello", "hello", true},
      {"Re:Re:Re: hello", "hello", true},
      {"Re [2]: hello", "hello", true},  // subj-blob inside subj-refwd
      {"Re[list]: hello", "hello", true},
      {"[PATCH] Re: hello", "hello", true},  // blobs before a re: are part of the leader
      {"[a] [b] Re: hello", "hello", true},
      {"Re: [list] Re: topic", "topic", true},
      {"[PATCH] hello", "hello", false},  // a blob that leaves a subject is removed (step 4)
      {"[a][b] hello", "hello", false},
      {"[PATCH]", "[PATCH]", false},  // ... but not when nothing would be left
      {"[a] [b]", "[b]", false},
      {"Re: [PATCH]", "[PATCH]", true},
      {"hello (fwd)", "hello", true},
      {"hello (FWD) (fwd)   ", "hello", true},
      {"Re: Re: [fwd: x]", "x", true},
      {"[fwd: hello]", "hello", true},
      {"[Fwd: Re: hello (fwd)]", "hello", true},
      {"[fwd: [fwd: a]]", "a", true},
      {"Re: [fwd: Re: hi] (fwd)", "hi", true},
      {"[fwd: x", "[fwd: x", false},  // no closing bracket: not a wrapping, not a blob
      {"  hello\t\tworld  ", "hello world", false},
      {"hello\r\n world", "hello world", false},
      {"Reply: hello", "Reply: hello", false},  // "re" must be followed by WSP/blob and ':'
      {"Fwdx: hello", "Fwdx: hello", false},
      {"Re:", "", true},
      {"", "", false},
      {"   ", "", false},
      {"(fwd)", "", true},
      {"Re: Caf\xc3\xa9", "Caf\xc3\xa9", true},
  };
  for (const auto& c : cases) {
    BaseSubject b = ExtractBaseSubject(c.subject);
    EXPECT_EQ(b.text, c.base) << c.subject;
    EXPECT_EQ(b.reply_or_forward, c.reply_or_forward) << c.subject;
  }
}

TEST(BaseSubject, LongBlobRunsStayLinear) {
  std::string s;
  for (int i = 0; i < 20000; ++i) s += "[b]";
  s += " end";
  EXPECT_EQ(ExtractBaseSubject(s).text, "end");
  std::string only_blobs;
  for (int i = 0; i < 20000; ++i) only_blobs += "[b]";
  EXPECT_EQ(ExtractBaseSubject(only_blobs).text, "[b]");
}

TEST(FoldForSort, AsciiCasemapAndSimpleUnicode) {
  EXPECT_EQ(FoldForSort("Hello World_1"), "HELLO WORLD_1");
  EXPECT_EQ(FoldForSort("caf\xc3\xa9"), "CAF\xc3\x89");          // é -> É
  EXPECT_EQ(FoldForSort("\xce\xb1\xce\xb2"), "\xce\x91\xce\x92");  // αβ -> ΑΒ
  EXPECT_EQ(FoldForSort("\xd0\xb4\xd0\xb0"), "\xd0\x94\xd0\x90");  // да -> ДА
  EXPECT_EQ(FoldForSort("\xc5\x82"), "\xc5\x81");                  // ł -> Ł
  EXPECT_EQ(FoldForSort("\xff\xc3"), "\xff\xc3");                  // invalid bytes kept
  EXPECT_EQ(FoldForSort("\xe2\x82\xac"), "\xe2\x82\xac");          // € unchanged
  // i;ascii-casemap upper-cases: '_' (0x5F) sorts after 'a' (as 'A', 0x41).
  EXPECT_LT(FoldForSort("a"), FoldForSort("_"));
}

std::string EnvelopeOf(const std::string& raw) {
  auto m = mail::ParseMessage(raw);
  EXPECT_TRUE(m.has_value());
  return m ? mail::Envelope(*m) : std::string();
}

TEST(EnvelopeAddress, FromLibMailEnvelopes) {
  const std::string env = EnvelopeOf(
      "From: \"Doe, John\" <JDoe@Example.org>\r\n"
      "To: team: a.one@x.test, b@y.test;, z@z.test\r\n"
      "Cc: =?UTF-8?Q?Jos=C3=A9?= <jose@x.test>\r\n"
      "Subject: hi\r\n\r\nbody\r\n");
  auto from = ParseEnvelopeAddress(env, EnvelopeField::kFrom);
  ASSERT_TRUE(from.well_formed);
  ASSERT_TRUE(from.first.has_value());
  EXPECT_EQ(from.first->mailbox, "JDoe");
  EXPECT_EQ(from.first->host, "Example.org");
  EXPECT_EQ(from.first->name, "Doe, John");
  auto to = ParseEnvelopeAddress(env, EnvelopeField::kTo);  // the group marker is skipped
  ASSERT_TRUE(to.first.has_value());
  EXPECT_EQ(to.first->mailbox, "a.one");
  auto cc = ParseEnvelopeAddress(env, EnvelopeField::kCc);
  ASSERT_TRUE(cc.first.has_value());
  EXPECT_EQ(cc.first->name, "=?UTF-8?Q?Jos=C3=A9?=");
  auto bcc = ParseEnvelopeAddress(env, EnvelopeField::kBcc);  // NIL
  EXPECT_TRUE(bcc.well_formed);
  EXPECT_FALSE(bcc.first.has_value());
}

TEST(EnvelopeAddress, LiteralsEscapesAndMalformed) {
  const std::string env =
      "(NIL \"s\" (({5}\r\nJos\xc3\xa9 NIL \"q\\\"x\" \"h\")) NIL NIL NIL NIL NIL NIL NIL)";
  auto from = ParseEnvelopeAddress(env, EnvelopeField::kFrom);
  ASSERT_TRUE(from.well_formed);
  ASSERT_TRUE(from.first.has_value());
  EXPECT_EQ(from.first->name, "Jos\xc3\xa9");
  EXPECT_EQ(from.first->mailbox, "q\"x");
  for (const char* bad : {"", "(", "(NIL", "(NIL \"s\" ((\"a\" NIL \"b\"", "(NIL \"s\" ({99}\r\nab NIL)",
                          "(NIL \"s\" ((NIL NIL \"b\" \"c\" \"d\")))", "x"}) {
    EXPECT_FALSE(ParseEnvelopeAddress(bad, EnvelopeField::kFrom).well_formed) << bad;
  }
}

TEST(EnvelopeAddress, FromText) {
  auto a = FirstAddressOfText("Alice Example <alice@example.org>, bob@example.org");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->mailbox, "alice");
  EXPECT_EQ(a->name, "Alice Example");
  EXPECT_FALSE(FirstAddressOfText("").has_value());
}

SortInput In(uint32_t seq, int64_t arrival, int64_t sent, uint64_t size, std::string_view subject,
             std::string_view from = "", std::string_view to = "", std::string_view cc = "") {
  SortInput in;
  in.seq = seq;
  in.number = seq * 10;  // as UIDs would be
  in.internal_date = arrival;
  in.sent_date = sent;
  in.size = size;
  in.subject = subject;
  in.from = from;
  in.to = to;
  in.cc = cc;
  return in;
}

std::vector<uint32_t> Sorted(const std::vector<SortInput>& ins, std::vector<SortCriterion> criteria) {
  auto specs = SortSpecs(criteria);
  EXPECT_TRUE(specs.has_value());
  std::vector<SortRecord> recs;
  for (const auto& in : ins) recs.push_back(MakeSortRecord(in, *specs));
  SortRecords(recs, *specs);
  std::vector<uint32_t> out;
  for (const auto& r : recs) out.push_back(r.number);
  return out;
}

using V = std::vector<uint32_t>;

TEST(Sort, KeysReverseAndTies) {
  const std::vector<SortInput> ins = {
      In(1, 500, 0, 300, "Re: banana", "Zed <zed@x>", "b@x", ""),            // no Date: sent = 500
      In(2, 100, 400, 100, "apple", "alice@x", "A@x", "c@x"),
      In(3, 300, 200, 300, "[fwd: Apple]", "\"Bob\" <Bob@x>", "a@x", "b@x"),
      In(4, 200, 200, 200, "cherry", "", "", ""),
  };
  EXPECT_EQ(Sorted(ins, {{false, "ARRIVAL"}}), (V{20, 40, 30, 10}));
  EXPECT_EQ(Sorted(ins, {{false, "DATE"}}), (V{30, 40, 20, 10}));  // 3 and 4 tie: sequence order
  EXPECT_EQ(Sorted(ins, {{true, "DATE"}}), (V{10, 20, 30, 40}));   // REVERSE; the tie keeps sequence order
  EXPECT_EQ(Sorted(ins, {{false, "SIZE"}}), (V{20, 40, 10, 30}));
  EXPECT_EQ(Sorted(ins, {{false, "SIZE"}, {true, "ARRIVAL"}}), (V{20, 40, 10, 30}));
  EXPECT_EQ(Sorted(ins, {{false, "SIZE"}, {false, "ARRIVAL"}}), (V{20, 40, 30, 10}));
  EXPECT_EQ(Sorted(ins, {{false, "SUBJECT"}}), (V{20, 30, 10, 40}));  // apple apple banana cherry
  EXPECT_EQ(Sorted(ins, {{false, "SUBJECT"}, {true, "DATE"}}), (V{20, 30, 10, 40}));
  EXPECT_EQ(Sorted(ins, {{false, "FROM"}}), (V{40, 20, 30, 10}));  // "" alice Bob zed
  EXPECT_EQ(Sorted(ins, {{false, "TO"}}), (V{40, 20, 30, 10}));    // "" A a b (A/a tie: sequence)
  EXPECT_EQ(Sorted(ins, {{false, "CC"}}), (V{10, 40, 30, 20}));    // "" "" b c
  EXPECT_EQ(Sorted(ins, {{true, "CC"}, {false, "SIZE"}}), (V{20, 30, 40, 10}));
  EXPECT_EQ(Sorted(ins, {{false, "DISPLAYFROM"}}), (V{40, 20, 30, 10}));  // "" alice@x Bob Zed
  EXPECT_FALSE(SortSpecs({{false, "NOPE"}}).has_value());
}

TEST(Sort, EnvelopePreferredOverText) {
  const std::string env = EnvelopeOf("From: \"Doe, Zed\" <zed@x>\r\nSubject: s\r\n\r\n");
  SortInput a = In(1, 1, 0, 1, "", "Doe, Zed <zed@x>");  // the text alone would give "Doe"
  a.envelope = env;
  SortInput b = In(2, 1, 0, 1, "", "mike@x");
  EXPECT_EQ(Sorted({a, b}, {{false, "FROM"}}), (V{20, 10}));
}

}  // namespace
}  // namespace columba::imap
