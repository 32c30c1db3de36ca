// thread_test.cc - THREAD=ORDEREDSUBJECT, THREAD=REFERENCES (RFC 5256) and the
// thread response format, including broken threading headers.
// Hermetic: never touches the network, the file system or the clock.
#include "lib/imap/thread.h"

#include <gtest/gtest.h>

namespace columba::imap {
namespace {

struct Msg {
  int64_t sent;
  std::string subject;
  std::string message_id;
  std::string references;
  std::string in_reply_to;
};

// Sequence numbers 1..n; reported numbers = sequence numbers.
std::vector<ThreadRecord> Records(const std::vector<Msg>& msgs) {
  std::vector<ThreadRecord> recs;
  uint32_t seq = 0;
  for (const Msg& m : msgs) {
    ++seq;
    ThreadInput in;
    in.seq = seq;
    in.number = seq;
    in.sent_date = m.sent;
    in.subject = m.subject;
    in.message_id = m.message_id;
    in.references = m.references;
    in.in_reply_to = m.in_reply_to;
    recs.push_back(MakeThreadRecord(in));
  }
  return recs;
}

std::string Refs(const std::vector<Msg>& msgs) { return FormatThreads(ThreadReferences(Records(msgs))); }
std::string Ordered(const std::vector<Msg>& msgs) { return FormatThreads(ThreadOrderedSubject(Records(msgs))); }

TEST(MessageIds, Parsing) {
  EXPECT_EQ(ParseMessageIds("<a@b> <c@d>"), (std::vector<std::string>{"a@b", "c@d"}));
  EXPECT_EQ(ParseMessageIds(" <a@b>\r\n\t<c @ d (comment)>"), (std::vector<std::string>{"a@b", "c@d"}));
  EXPECT_EQ(ParseMessageIds("<nohost> <@x> <x@> <> <a@b"), (std::vector<std::string>{}));
  EXPECT_EQ(ParseMessageIds("<<a@b>"), (std::vector<std::string>{"a@b"}));
  EXPECT_EQ(ParseMessageIds("junk <A@B> junk"), (std::vector<std::string>{"A@B"}));
}

TEST(FormatThreads, Rfc5256Examples) {
  // "(2)(3 6 (4 23)(44 7 96))" from RFC 5256 section 4.
  ThreadForest f;
  auto add = [&](uint32_t n, std::vector<uint32_t> children) {
    f.nodes.push_back(ThreadForest::Node{n, std::move(children)});
    return static_cast<uint32_t>(f.nodes.size() - 1);
  };
  const uint32_t n23 = add(23, {});
  const uint32_t n4 = add(4, {n23});
  const uint32_t n96 = add(96, {});
  const uint32_t n7 = add(7, {n96});
  const uint32_t n44 = add(44, {n7});
  const uint32_t n6 = add(6, {n4, n44});
  const uint32_t n3 = add(3, {n6});
  const uint32_t n2 = add(2, {});
  f.roots = {n2, n3};
  EXPECT_EQ(FormatThreads(f), "(2)(3 6 (4 23)(44 7 96))");
  // A dummy parent: "((3)(5))"; a dummy with one child is just the child.
  ThreadForest d;
  d.nodes = {{0, {1, 2}}, {3, {}}, {5, {}}, {0, {4}}, {7, {}}};
  d.roots = {0, 3};
  EXPECT_EQ(FormatThreads(d), "((3)(5))(7)");
  EXPECT_EQ(FormatThreads(ThreadForest{}), "");
}

TEST(OrderedSubject, GroupsByBaseSubjectAndSortsByDate) {
  const std::vector<Msg> msgs = {
      {500, "Re: lunch", "", "", ""},  // 1
      {100, "budget", "", "", ""},     // 2
      {300, "LUNCH", "", "", ""},      // 3: first of "lunch"
      {200, "Re: budget", "", "", ""}, // 4
      {600, "[fwd: lunch]", "", "", ""},  // 5
      {400, "other", "", "", ""},      // 6
      {150, "", "", "", ""},           // 7: empty subjects are one thread too
      {160, "Re:", "", "", ""},        // 8
  };
  EXPECT_EQ(Ordered(msgs), "(2 4)(7 8)(3 (1)(5))(6)");
}

TEST(References, ChainsBranchesAndInReplyTo) {
  const std::vector<Msg> msgs = {
      {100, "topic", "<1@x>", "", ""},                 // 1
      {200, "Re: topic", "<2@x>", "<1@x>", ""},        // 2
      {300, "Re: topic", "<3@x>", "<1@x> <2@x>", ""},  // 3
      {250, "Re: topic", "<4@x>", "", "<1@x>"},        // 4: In-Reply-To only
      {50, "unrelated", "<5@x>", "", ""},              // 5
  };
  EXPECT_EQ(Refs(msgs), "(5)(1 (2 3)(4))");
}

TEST(References, SiblingsSortedBySentDateThenSequence) {
  const std::vector<Msg> msgs = {
      {100, "t", "<r@x>", "", ""},
      {300, "Re: t", "<a@x>", "<r@x>", ""},
      {200, "Re: t", "<b@x>", "<r@x>", ""},
      {200, "Re: t", "<c@x>", "<r@x>", ""},  // same date as 3: sequence order
  };
  EXPECT_EQ(Refs(msgs), "(1 (3)(4)(2))");
}

TEST(References, MissingParentsMakeDummies) {
  // Two replies to a message not in the mailbox, different subjects: a dummy root.
  EXPECT_EQ(Refs({{100, "a", "<2@x>", "<gone@x>", ""}, {200, "b", "<3@x>", "<gone@x>", ""}}), "((1)(2))");
  // Only one child: the dummy is dropped and the child promoted.
  EXPECT_EQ(Refs({{100, "a", "<2@x>", "<gone@x>", ""}, {50, "b", "<3@x>", "", ""}}), "(2)(1)");
  // A missing message in the middle of a chain: the dummy below the top is spliced out.
  EXPECT_EQ(Refs({{100, "t", "<1@x>", "", ""}, {300, "Re: t", "<3@x>", "<1@x> <gone@x>", ""},
                  {200, "Re: t", "<4@x>", "<1@x> <gone@x>", ""}}),
            "(1 (3)(2))");
}

TEST(References, DuplicateMessageIds) {
  // 2 repeats 1's id: only 1 keeps it, so 3's reference goes to 1.
  EXPECT_EQ(Refs({{100, "a", "<d@x>", "", ""}, {200, "b", "<d@x>", "", ""}, {300, "c", "<3@x>", "<d@x>", ""}}),
            "(1 3)(2)");
}

TEST(References, LoopsAreNotCreated) {
  // 1 says its parent is 2, 2 says its parent is 1: the second link would close a loop.
  EXPECT_EQ(Refs({{100, "a", "<1@x>", "<2@x>", ""}, {200, "b", "<2@x>", "<1@x>", ""}}), "(2 1)");
  // A References chain that contradicts an earlier one keeps the earlier links (1.A).
  EXPECT_EQ(Refs({{100, "a", "<1@x>", "", ""}, {200, "b", "<2@x>", "<1@x>", ""},
                  {300, "c", "<3@x>", "<2@x> <1@x>", ""}}),
            "(1 (2)(3))");
  // Referencing itself: ignored.
  EXPECT_EQ(Refs({{100, "a", "<1@x>", "<1@x>", "<1@x>"}}), "(1)");
  // A longer cycle through references of others.
  EXPECT_EQ(Refs({{100, "a", "<1@x>", "<3@x> <2@x>", ""}, {200, "b", "<2@x>", "<1@x> <3@x>", ""},
                  {300, "c", "<3@x>", "<2@x> <1@x>", ""}}),
            "(3 2 1)");
}

TEST(References, OwnReferencesReplaceTruncatedOnes) {
  // 2's References (processed first) make 1 the child of "gone"; 1's own header
  // (none) then breaks that link (1.B).
  EXPECT_EQ(Refs({{200, "b", "<2@x>", "<gone@x> <1@x>", ""}, {100, "a", "<1@x>", "", ""}}), "(2 1)");
}

TEST(References, MergesBySubject) {
  // No threading headers: a reply joins the original as its child.
  EXPECT_EQ(Refs({{100, "hello", "<1@x>", "", ""}, {200, "Re: hello", "<2@x>", "", ""}}), "(1 2)");
  // Reply first in date order: the original still becomes the parent.
  EXPECT_EQ(Refs({{200, "hello", "<1@x>", "", ""}, {100, "Re: hello", "<2@x>", "", ""}}), "(1 2)");
  // Two originals with one subject: a dummy holds both.
  EXPECT_EQ(Refs({{100, "hello", "<1@x>", "", ""}, {200, "HELLO", "<2@x>", "", ""}}), "((1)(2))");
  // Three: the third joins the dummy.
  EXPECT_EQ(Refs({{100, "hi", "<1@x>", "", ""}, {200, "hi", "<2@x>", "", ""}, {300, "hi", "<3@x>", "", ""}}),
            "((1)(2)(3))");
  // Empty base subjects are never merged.
  EXPECT_EQ(Refs({{100, "", "<1@x>", "", ""}, {200, "Re:", "<2@x>", "", ""}}), "(1)(2)");
  // "Re: Re: [fwd: x]" has base subject "x".
  EXPECT_EQ(Refs({{100, "x", "<1@x>", "", ""}, {200, "Re: Re: [fwd: x]", "<2@x>", "", ""}}), "(1 2)");
  // A dummy-rooted thread takes in a message of the same subject as a sibling.
  EXPECT_EQ(Refs({{100, "s", "<1@x>", "<gone@x>", ""}, {200, "s", "<2@x>", "<gone@x>", ""},
                  {150, "Re: s", "<3@x>", "", ""}}),
            "((1)(3)(2))");
}

TEST(References, MessagesWithoutIdsStandAlone) {
  EXPECT_EQ(Refs({{100, "a", "", "", ""}, {50, "b", "garbage", "<a@x>", ""}}), "(2)(1)");
}

TEST(References, DeepChainsDoNotRecurse) {
  std::vector<Msg> msgs;
  const int n = 50000;
  for (int i = 1; i <= n; ++i) {
    std::string ref = i > 1 ? "<" + std::to_string(i - 1) + "@x>" : "";
    msgs.push_back({i, "Re: long", "<" + std::to_string(i) + "@x>", "", ref});
  }
  std::string out = Refs(msgs);
  EXPECT_EQ(out.substr(0, 10), "(1 2 3 4 5");
  EXPECT_EQ(out.substr(out.size() - 7), " 50000)");
  // A deep tree of two-child nodes too.
  std::vector<Msg> tree;
  for (int i = 1; i <= 20000; ++i) {
    const int parent = i / 2;
    tree.push_back({i, "t" + std::to_string(i), "<" + std::to_string(i) + "@x>",
                    parent > 0 ? "<" + std::to_string(parent) + "@x>" : "", ""});
  }
  out = Refs(tree);
  EXPECT_EQ(out.substr(0, 12), "(1 (2 (4 (8 ");
  EXPECT_EQ(std::count(out.begin(), out.end(), '('), std::count(out.begin(), out.end(), ')'));
}

TEST(References, ReportsUidsWhenAsked) {
  auto recs = Records({{100, "a", "<1@x>", "", ""}, {200, "Re: a", "<2@x>", "<1@x>", ""}});
  recs[0].number = 17;
  recs[1].number = 42;
  EXPECT_EQ(FormatThreads(ThreadReferences(recs)), "(17 42)");
  EXPECT_EQ(FormatThreads(ThreadOrderedSubject(recs)), "(17 42)");
}

}  // namespace
}  // namespace columba::imap
