// parser_test.cc - the incremental IMAP command parser: real client command
// shapes, literals in every split, limits crossed and recovery, IDLE, SASL.
// Hermetic: never touches the network, the file system or the clock.
#include "lib/imap/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace columba::imap {
namespace {

using Kind = ParseEvent::Kind;

// Feeds `wire` at once and collects events until the parser needs more.
std::vector<ParseEvent> Drain(Parser& p, std::string_view wire = {}) {
  if (!wire.empty()) p.Feed(wire);
  std::vector<ParseEvent> out;
  for (int guard = 0; guard < 10'000; ++guard) {
    ParseEvent ev = p.Next();
    if (ev.kind == Kind::kNeedMore) break;
    out.push_back(std::move(ev));
  }
  return out;
}

// Parses exactly one command (authenticated limits), skipping continuations.
Command One(std::string_view wire, ParserOptions options = {}) {
  Parser p({}, options);
  p.SetAuthenticated(true);
  auto events = Drain(p, wire);
  std::vector<Command> cmds;
  for (auto& ev : events) {
    if (ev.kind == Kind::kError) ADD_FAILURE() << wire << " -> " << ev.error.code << " " << ev.error.text;
    if (ev.kind == Kind::kCommand) cmds.push_back(std::move(ev.command));
  }
  EXPECT_EQ(cmds.size(), 1u) << wire;
  return cmds.empty() ? Command{} : std::move(cmds[0]);
}

// Expects one error (authenticated), returns it.
ProtocolError Bad(std::string_view wire, ParserOptions options = {}) {
  Parser p({}, options);
  p.SetAuthenticated(true);
  auto events = Drain(p, wire);
  for (auto& ev : events) {
    if (ev.kind == Kind::kError) return ev.error;
  }
  ADD_FAILURE() << "no error for " << wire;
  return {};
}

template <class T>
const T& Args(const Command& c) {
  static const T empty{};
  const T* a = std::get_if<T>(&c.args);
  EXPECT_NE(a, nullptr) << c.name;
  return a ? *a : empty;
}

TEST(Parser, SimpleCommands) {
  for (const char* name : {"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK", "CLOSE", "UNSELECT",
                           "EXPUNGE", "IDLE", "NAMESPACE"}) {
    Command c = One(std::string("a1 ") + name + "\r\n");
    EXPECT_EQ(c.tag, "a1");
    EXPECT_EQ(c.name, name);
    EXPECT_FALSE(c.uid);
    EXPECT_TRUE(std::holds_alternative<NoArgs>(c.args));
  }
  Command c = One("3 capability\n");  // lower case, bare LF
  EXPECT_EQ(c.name, "CAPABILITY");
  EXPECT_EQ(c.tag, "3");
  EXPECT_EQ(One("1.1 noop  \r\n").tag, "1.1");  // Apple Mail tags, trailing spaces
}

TEST(Parser, Login) {
  auto c = One("a LOGIN joe \"pa\\\"ss\\\\word\"\r\n");
  EXPECT_EQ(Args<LoginArgs>(c).user, "joe");
  EXPECT_EQ(Args<LoginArgs>(c).password, "pa\"ss\\word");
  // imaplib quotes only when needed.
  c = One("JLLF1 LOGIN user@example.org secret]\r\n");
  EXPECT_EQ(Args<LoginArgs>(c).user, "user@example.org");
  EXPECT_EQ(Args<LoginArgs>(c).password, "secret]");
  EXPECT_EQ(Bad("a LOGIN joe\r\n").tag, "a");
  EXPECT_EQ(Bad("a LOGIN joe \"bad\\x\"\r\n").tag, "a");
  EXPECT_EQ(Bad("a LOGIN joe \"unterminated\r\n").tag, "a");
}

TEST(Parser, SynchronisingLiteralSendsContinuation) {
  Parser p;
  auto ev = Drain(p, "a LOGIN {3}\r\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::kContinue);
  ev = Drain(p, "joe {6}\r\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::kContinue);
  ev = Drain(p, "se cr\"\r\n");
  ASSERT_EQ(ev.size(), 1u);
  ASSERT_EQ(ev[0].kind, Kind::kCommand);
  EXPECT_EQ(Args<LoginArgs>(ev[0].command).user, "joe");
  EXPECT_EQ(Args<LoginArgs>(ev[0].command).password, "se cr\"");
}

TEST(Parser, LiteralsSplitByteByByte) {
  const std::string wire =
      "A003 APPEND saved-messages (\\Seen) {19}\r\nFrom: me\r\n\r\nhello\r\n\r\n"
      "A004 LOGIN {2+}\r\nab {0}\r\n\r\n";
  Parser p;
  p.SetAuthenticated(true);
  int continues = 0;
  std::vector<Command> cmds;
  for (char ch : wire) {
    p.Feed(std::string_view(&ch, 1));
    for (;;) {
      ParseEvent ev = p.Next();
      if (ev.kind == Kind::kNeedMore) break;
      if (ev.kind == Kind::kContinue) ++continues;
      if (ev.kind == Kind::kCommand) cmds.push_back(std::move(ev.command));
      ASSERT_NE(ev.kind, Kind::kError) << ev.error.text;
    }
  }
  EXPECT_EQ(continues, 2);  // {23} and {0}; not {2+}
  ASSERT_EQ(cmds.size(), 2u);
  const auto& app = Args<AppendArgs>(cmds[0]);
  EXPECT_EQ(app.mailbox, "saved-messages");
  ASSERT_EQ(app.messages.size(), 1u);
  EXPECT_EQ(app.messages[0].data, "From: me\r\n\r\nhello\r\n");
  EXPECT_EQ(app.messages[0].flags, std::vector<std::string>{"\\Seen"});
  EXPECT_EQ(Args<LoginArgs>(cmds[1]).user, "ab");
  EXPECT_EQ(Args<LoginArgs>(cmds[1]).password, "");
}

TEST(Parser, LiteralPlusNoContinuation) {
  Parser p;
  auto ev = Drain(p, "a LOGIN {3+}\r\njoe {4+}\r\npass\r\n");
  ASSERT_EQ(ev.size(), 1u);
  ASSERT_EQ(ev[0].kind, Kind::kCommand);
  EXPECT_EQ(Args<LoginArgs>(ev[0].command).password, "pass");
}

TEST(Parser, LiteralMinus) {
  ParserOptions o;
  o.literal_plus = false;
  Command c = One("a LOGIN {3-}\r\njoe {4-}\r\npass\r\n", o);
  EXPECT_EQ(Args<LoginArgs>(c).user, "joe");

  // Over 4096: TOOBIG, the 5000 octets are skipped exactly, the next command parses.
  Parser p({}, o);
  p.SetAuthenticated(true);
  std::string wire = "b APPEND INBOX {5000-}\r\n" + std::string(5000, 'x') + "\r\nc NOOP\r\n";
  auto ev = Drain(p, wire);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, Kind::kError);
  EXPECT_EQ(ev[0].error.tag, "b");
  EXPECT_EQ(ev[0].error.code, "TOOBIG");
  EXPECT_FALSE(ev[0].error.fatal);
  ASSERT_EQ(ev[1].kind, Kind::kCommand);
  EXPECT_EQ(ev[1].command.tag, "c");

  // Without LITERAL+, {n+} is limited the same way; even with LITERAL+ {n-} is.
  p = Parser({}, o);
  p.SetAuthenticated(true);
  ev = Drain(p, "d APPEND INBOX {4097+}\r\n" + std::string(4097, 'y') + "\r\ne NOOP\r\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].error.code, "TOOBIG");
  EXPECT_EQ(ev[1].command.tag, "e");
  EXPECT_EQ(Bad("f APPEND INBOX {4097-}\r\n" + std::string(4097, 'y') + "\r\n").code, "TOOBIG");
}

TEST(Parser, OversizeSynchronisingLiteralRefused) {
  ParserLimits l;
  l.max_literal_size = 100;
  Parser p(l);
  p.SetAuthenticated(true);
  auto ev = Drain(p, "a APPEND INBOX {101}\r\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::kError);
  EXPECT_EQ(ev[0].error.code, "TOOBIG");
  EXPECT_EQ(ev[0].error.tag, "a");
  // The client never got "+", so its next line is a new command.
  ev = Drain(p, "b APPEND INBOX {100}\r\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::kContinue);
  ev = Drain(p, std::string(100, 'z') + "\r\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(Args<AppendArgs>(ev[0].command).messages.at(0).data.size(), 100u);
  // A literal size that does not fit in 64 bits.
  ev = Drain(p, "c APPEND INBOX {999999999999999999999999}\r\nd NOOP\r\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].error.code, "TOOBIG");
  EXPECT_EQ(ev[1].command.tag, "d");
}

TEST(Parser, OversizeNonSyncLiteralInMultiappendSkipped) {
  ParserLimits l;
  l.max_literal_size = 10;
  Parser p(l);
  p.SetAuthenticated(true);
  std::string wire = "a APPEND INBOX {3+}\r\nabc {20+}\r\n" + std::string(20, 'q') +
                     " (\\Seen) {5+}\r\n{7+}\r\n\r\nb NOOP\r\n";
  auto ev = Drain(p, wire);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].error.code, "TOOBIG");
  EXPECT_EQ(ev[0].error.tag, "a");
  ASSERT_EQ(ev[1].kind, Kind::kCommand);
  EXPECT_EQ(ev[1].command.tag, "b");
}

TEST(Parser, HugeNonSyncLiteralIsFatal) {
  ParserLimits l;
  l.max_literal_skip = 1000;
  Parser p(l);
  p.SetAuthenticated(true);
  auto ev = Drain(p, "a APPEND INBOX {1000000000+}\r\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].error.fatal);
}

TEST(Parser, LineLengthLimitsBeforeAndAfterLogin) {
  std::string long_line = "a LOGIN " + std::string(9000, 'u') + " p\r\nb NOOP\r\n";
  Parser pre;
  auto ev = Drain(pre, long_line);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, Kind::kError);
  EXPECT_EQ(ev[0].error.code, "TOOBIG");
  EXPECT_EQ(ev[0].error.tag, "a");
  EXPECT_EQ(ev[1].command.tag, "b");

  Parser post;
  post.SetAuthenticated(true);
  ev = Drain(post, long_line);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, Kind::kCommand);

  // Over 64 KiB after login, arriving in pieces; recovery afterwards.
  Parser p;
  p.SetAuthenticated(true);
  std::string set;
  for (int i = 1; set.size() < 70'000; i += 2) set += std::to_string(i) + ",";
  set += "1";
  std::string wire = "x UID FETCH " + set + " (FLAGS)\r\ny NOOP\r\n";
  std::vector<ParseEvent> all;
  for (size_t i = 0; i < wire.size(); i += 1000) {
    auto part = Drain(p, std::string_view(wire).substr(i, 1000));
    all.insert(all.end(), part.begin(), part.end());
  }
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].error.code, "TOOBIG");
  EXPECT_EQ(all[0].error.tag, "x");
  EXPECT_EQ(all[1].command.tag, "y");
}

TEST(Parser, LongLineEndingInLiteralIsSkippedWithTheLiteral) {
  Parser p;  // unauthenticated: 8 KiB lines
  std::string wire = "a LOGIN " + std::string(9000, 'u') + " {4+}\r\n1234\r\nb NOOP\r\n";
  auto ev = Drain(p, wire);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].error.code, "TOOBIG");
  EXPECT_EQ(ev[1].command.tag, "b");
}

TEST(Parser, PreLoginLiteralLimit) {
  Parser p;
  auto ev = Drain(p, "a LOGIN {9000}\r\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].error.code, "TOOBIG");
}

TEST(Parser, Pipelined) {
  Parser p;
  p.SetAuthenticated(true);
  auto ev = Drain(p, "a NOOP\r\nb UID FETCH 1:* (FLAGS)\r\n\r\nc LOGIN {1+}\r\nx y\r\nd LOGOUT\r\n");
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].command.tag, "a");
  EXPECT_EQ(ev[1].command.name, "FETCH");
  EXPECT_TRUE(ev[1].command.uid);
  EXPECT_EQ(ev[2].command.name, "LOGIN");
  EXPECT_EQ(ev[3].command.name, "LOGOUT");
}

TEST(Parser, IdleDone) {
  Parser p;
  p.SetAuthenticated(true);
  auto ev = Drain(p, "12 IDLE\r\nDONE\r\n13 NOOP\r\n");
  // Without ExpectIdleDone() "DONE" is just a malformed command line.
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].command.name, "IDLE");
  EXPECT_EQ(ev[1].kind, Kind::kError);
  EXPECT_EQ(ev[2].command.tag, "13");
}

TEST(Parser, IdleDoneAfterExpect) {
  Parser p;
  p.SetAuthenticated(true);
  p.Feed("12 IDLE\r\nDO");
  ParseEvent ev = p.Next();
  ASSERT_EQ(ev.kind, Kind::kCommand);
  EXPECT_EQ(ev.command.name, "IDLE");
  p.ExpectIdleDone();
  EXPECT_EQ(p.Next().kind, Kind::kNeedMore);
  p.Feed("ne\r\n13 NOOP\r\n");
  EXPECT_EQ(p.Next().kind, Kind::kIdleDone);
  ev = p.Next();
  EXPECT_EQ(ev.command.tag, "13");
  // Anything but DONE ends IDLE with an error.
  p.Feed("14 IDLE\r\n");
  EXPECT_EQ(p.Next().kind, Kind::kCommand);
  p.ExpectIdleDone();
  p.Feed("15 NOOP\r\n");
  ev = p.Next();
  EXPECT_EQ(ev.kind, Kind::kError);
  EXPECT_EQ(ev.error.text, "expected DONE");
}

TEST(Parser, Authenticate) {
  Command c = One("a AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\n");
  EXPECT_EQ(Args<AuthenticateArgs>(c).mechanism, "PLAIN");
  EXPECT_EQ(*Args<AuthenticateArgs>(c).initial_response, "AGpvZQBzZWNyZXQ=");
  c = One("a authenticate scram-sha-256\r\n");
  EXPECT_EQ(Args<AuthenticateArgs>(c).mechanism, "SCRAM-SHA-256");
  EXPECT_FALSE(Args<AuthenticateArgs>(c).initial_response);
  EXPECT_EQ(*Args<AuthenticateArgs>(One("a AUTHENTICATE PLAIN =\r\n")).initial_response, "=");

  Parser p;
  p.Feed("b AUTHENTICATE LOGIN\r\ndXNlcg==\r\n*\r\n");
  EXPECT_EQ(p.Next().kind, Kind::kCommand);
  p.ExpectSaslLine();
  ParseEvent ev = p.Next();
  ASSERT_EQ(ev.kind, Kind::kSaslLine);
  EXPECT_EQ(ev.line, "dXNlcg==");
  p.ExpectSaslLine();
  ev = p.Next();
  EXPECT_EQ(ev.line, "*");
}

TEST(Parser, SelectCondstoreQresync) {
  Command c = One("7 select \"INBOX\" (CONDSTORE)\r\n");
  EXPECT_EQ(c.name, "SELECT");
  EXPECT_EQ(Args<SelectArgs>(c).mailbox, "INBOX");
  EXPECT_TRUE(Args<SelectArgs>(c).condstore);
  c = One("A02 SELECT inbox (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n");
  const auto& q = *Args<SelectArgs>(c).qresync;
  EXPECT_EQ(Args<SelectArgs>(c).mailbox, "INBOX");
  EXPECT_EQ(q.uidvalidity, 67890007u);
  EXPECT_EQ(q.modseq, 20050715194045000ull);
  EXPECT_EQ(q.known_uids->ToString(), "41,43:211,214:541");
  c = One("A03 EXAMINE INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n");
  const auto& q2 = *Args<SelectArgs>(c).qresync;
  EXPECT_EQ(c.name, "EXAMINE");
  EXPECT_EQ(q2.known_sequence_set->ToString(), "5000,7500,9000,9990:9999");
  EXPECT_EQ(q2.known_uid_set->ranges().size(), 13u);
  c = One("A04 SELECT Drafts (QRESYNC (1 2))\r\n");
  EXPECT_FALSE(Args<SelectArgs>(c).qresync->known_uids);
  EXPECT_EQ(Bad("A05 SELECT INBOX (QRESYNC (1 0))\r\n").tag, "A05");
  EXPECT_EQ(Bad("A06 SELECT INBOX (FOO)\r\n").tag, "A06");
  EXPECT_EQ(Bad("A07 SELECT INBOX (QRESYNC (1 2 1:*))\r\n").tag, "A07");
}

TEST(Parser, MailboxCommands) {
  Command c = One("a CREATE \"Archive/2026\" (USE (\\Archive))\r\n");
  EXPECT_EQ(Args<CreateArgs>(c).mailbox, "Archive/2026");
  EXPECT_EQ(Args<CreateArgs>(c).special_use, std::vector<std::string>{"\\Archive"});
  c = One("a RENAME \"Old\" Entw&APw-rfe\r\n");
  EXPECT_EQ(Args<RenameArgs>(c).from, "Old");
  EXPECT_EQ(Args<RenameArgs>(c).to, "Entw&APw-rfe");
  EXPECT_EQ(Args<MailboxArgs>(One("a DELETE foo\r\n")).mailbox, "foo");
  EXPECT_EQ(Args<MailboxArgs>(One("a SUBSCRIBE InBoX\r\n")).mailbox, "INBOX");
  EXPECT_EQ(Args<MailboxArgs>(One("a UNSUBSCRIBE {3+}\r\nf o\r\n")).mailbox, "f o");
  EXPECT_EQ(Args<MailboxArgs>(One("a GETQUOTAROOT INBOX\r\n")).mailbox, "INBOX");
  EXPECT_EQ(Args<MailboxArgs>(One("a GETQUOTA \"\"\r\n")).mailbox, "");
  c = One("a STATUS Sent (MESSAGES UIDNEXT unseen HIGHESTMODSEQ SIZE APPENDLIMIT)\r\n");
  EXPECT_EQ(Args<StatusArgs>(c).items,
            (std::vector<std::string>{"MESSAGES", "UIDNEXT", "UNSEEN", "HIGHESTMODSEQ", "SIZE", "APPENDLIMIT"}));
  EXPECT_EQ(Bad("a STATUS Sent (BOGUS)\r\n").tag, "a");
  EXPECT_EQ(Bad("a STATUS Sent ()\r\n").tag, "a");
  c = One("a ENABLE QRESYNC condstore UTF8=ACCEPT\r\n");
  EXPECT_EQ(Args<EnableArgs>(c).capabilities,
            (std::vector<std::string>{"QRESYNC", "CONDSTORE", "UTF8=ACCEPT"}));
  EXPECT_EQ(Args<CompressArgs>(One("a COMPRESS DEFLATE\r\n")).mechanism, "DEFLATE");
}

TEST(Parser, List) {
  Command c = One("4 list (SUBSCRIBED) \"\" \"*\" return (SPECIAL-USE)\r\n");
  const auto& l = Args<ListArgs>(c);
  EXPECT_TRUE(l.extended);
  EXPECT_EQ(l.selection_options, std::vector<std::string>{"SUBSCRIBED"});
  EXPECT_EQ(l.reference, "");
  EXPECT_EQ(l.patterns, std::vector<std::string>{"*"});
  EXPECT_EQ(l.return_options, std::vector<std::string>{"SPECIAL-USE"});

  c = One("5 LIST \"\" % RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n");
  EXPECT_EQ(Args<ListArgs>(c).patterns, std::vector<std::string>{"%"});
  EXPECT_EQ(Args<ListArgs>(c).return_status_items, (std::vector<std::string>{"MESSAGES", "UNSEEN"}));

  c = One("6 LIST \"\" (INBOX Sent/* \"Dra fts\")\r\n");
  EXPECT_EQ(Args<ListArgs>(c).patterns, (std::vector<std::string>{"INBOX", "Sent/*", "Dra fts"}));
  c = One("7 LIST \"\" \"\"\r\n");
  EXPECT_FALSE(Args<ListArgs>(c).extended);
  EXPECT_EQ(Args<ListArgs>(c).patterns, std::vector<std::string>{""});
  c = One("8 LSUB \"\" *\r\n");
  EXPECT_EQ(c.name, "LSUB");
  EXPECT_EQ(Bad("9 LIST \"\" * FOO (X)\r\n").tag, "9");
}

TEST(Parser, AppendMultiappend) {
  std::string wire = "A APPEND Drafts (\\Seen $Forwarded) {5+}\r\nhello (\\Draft) \"1-Feb-2026 10:00:00 +0100\" ~{4+}\r\n";
  wire += std::string("bi\0n", 4);
  wire += " \"05-Feb-2026 11:00:00 -0500\" {3}\r\nxyz\r\n";
  Command c = One(wire);
  const auto& a = Args<AppendArgs>(c);
  EXPECT_EQ(a.mailbox, "Drafts");
  ASSERT_EQ(a.messages.size(), 3u);
  EXPECT_EQ(a.messages[0].flags, (std::vector<std::string>{"\\Seen", "$Forwarded"}));
  EXPECT_EQ(a.messages[0].data, "hello");
  EXPECT_FALSE(a.messages[0].date_time);
  EXPECT_EQ(*a.messages[1].date_time, "1-Feb-2026 10:00:00 +0100");
  EXPECT_TRUE(a.messages[1].binary);
  EXPECT_EQ(a.messages[1].data, std::string("bi\0n", 4));
  EXPECT_TRUE(a.messages[2].flags.empty());
  EXPECT_EQ(a.messages[2].data, "xyz");
  // mbsync shape: empty flag list.
  c = One("7 APPEND \"INBOX\" () {2+}\r\nhi\r\n");
  EXPECT_TRUE(Args<AppendArgs>(c).messages.at(0).flags.empty());
  EXPECT_EQ(Bad("8 APPEND INBOX\r\n").tag, "8");
  EXPECT_EQ(Bad("8 APPEND INBOX (\\Seen)\r\n").tag, "8");
  // NUL only in literal8.
  static const char kNul[] = "9 APPEND INBOX {3+}\r\na\0b\r\n";
  EXPECT_EQ(Bad(std::string(kNul, sizeof(kNul) - 1)).tag, "9");
  // literal8 only in APPEND.
  EXPECT_EQ(Bad("10 LOGIN ~{1+}\r\na b\r\n").tag, "10");
}

TEST(Parser, LiteralMustEndTheLine) {
  EXPECT_EQ(Bad("a LOGIN {3}abc x\r\n").tag, "a");
}

TEST(Parser, Search) {
  using T = SearchKey::Type;
  Command c = One("JLLF3 SEARCH ALL\r\n");
  const auto& s = Args<SearchArgs>(c);
  EXPECT_EQ(s.key.type, T::kAnd);
  ASSERT_EQ(s.key.children.size(), 1u);
  EXPECT_EQ(s.key.children[0].type, T::kAll);

  c = One("a UID SEARCH OR (FROM \"alice\" SINCE 1-Feb-2026) SEEN NOT (SEEN OR DELETED FLAGGED) UID 1:*,4 "
          "HEADER X-Spam-Flag YES 2:4 LARGER 1000 keyword $Junk\r\n");
  EXPECT_TRUE(c.uid);
  const auto& k = Args<SearchArgs>(c).key;
  ASSERT_EQ(k.children.size(), 7u);
  const auto& orr = k.children[0];
  EXPECT_EQ(orr.type, T::kOr);
  ASSERT_EQ(orr.children.size(), 2u);
  EXPECT_EQ(orr.children[0].type, T::kAnd);
  EXPECT_EQ(orr.children[0].children[0].type, T::kFrom);
  EXPECT_EQ(orr.children[0].children[0].value, "alice");
  EXPECT_EQ(orr.children[0].children[1].type, T::kSince);
  EXPECT_EQ(orr.children[0].children[1].date, (SearchDate{2026, 2, 1}));
  EXPECT_EQ(orr.children[1].type, T::kSeen);
  const auto& nt = k.children[1];
  EXPECT_EQ(nt.type, T::kNot);
  EXPECT_EQ(nt.children[0].children[1].type, T::kOr);
  EXPECT_EQ(k.children[2].type, T::kUid);
  EXPECT_EQ(k.children[2].set.ToString(), "1:*,4");
  EXPECT_EQ(k.children[3].type, T::kHeader);
  EXPECT_EQ(k.children[3].field, "X-Spam-Flag");
  EXPECT_EQ(k.children[3].value, "YES");
  EXPECT_EQ(k.children[4].type, T::kSequenceSet);
  EXPECT_EQ(k.children[5].type, T::kLarger);
  EXPECT_EQ(k.children[5].number, 1000u);
  EXPECT_EQ(k.children[6].type, T::kKeyword);
  EXPECT_EQ(k.children[6].value, "$Junk");

  c = One("b SEARCH RETURN (MIN MAX COUNT save) CHARSET utf-8 TEXT {7}\r\nstra\xc3\x9f" "e\r\n");
  const auto& s2 = Args<SearchArgs>(c);
  EXPECT_TRUE(s2.has_return);
  EXPECT_EQ(s2.return_options, (std::vector<std::string>{"MIN", "MAX", "COUNT", "SAVE"}));
  EXPECT_EQ(*s2.charset, "UTF-8");
  EXPECT_EQ(s2.key.children[0].value, "stra\xc3\x9f" "e");

  c = One("c SEARCH $ SENTBEFORE \"01-Jan-2000\" MODSEQ \"/flags/\\\\draft\" all 620162338 NOT 3\r\n");
  const auto& k3 = Args<SearchArgs>(c).key;
  EXPECT_TRUE(k3.children[0].set.IsSaved());
  EXPECT_EQ(k3.children[1].date, (SearchDate{2000, 1, 1}));
  EXPECT_EQ(k3.children[2].type, T::kModSeq);
  EXPECT_EQ(k3.children[2].field, "/flags/\\draft");
  EXPECT_EQ(k3.children[2].value, "ALL");
  EXPECT_EQ(k3.children[2].number, 620162338u);
  EXPECT_EQ(Args<SearchArgs>(One("d SEARCH RETURN () UNSEEN\r\n")).return_options.size(), 0u);
  Args<SearchArgs>(One("e SEARCH OLDER 3600 YOUNGER 60 SMALLER 5 NEW OLD RECENT UNDRAFT\r\n"));

  for (const char* bad : {"x SEARCH\r\n", "x SEARCH FOO\r\n", "x SEARCH SINCE 32-Jan-2026\r\n",
                          "x SEARCH SINCE 29-Feb-2025\r\n", "x SEARCH SINCE 1-Foo-2026\r\n",
                          "x SEARCH OR SEEN\r\n", "x SEARCH (SEEN\r\n", "x SEARCH ()\r\n",
                          "x SEARCH RETURN (BOGUS) ALL\r\n", "x SEARCH 0\r\n", "x SEARCH HEADER X\r\n",
                          "x SEARCH NOT\r\n", "x SEARCH SEEN)\r\n"}) {
    EXPECT_EQ(Bad(bad).tag, "x") << bad;
  }
  EXPECT_EQ(Args<SearchArgs>(One("y SEARCH SINCE 29-Feb-2024\r\n")).key.children[0].date.day, 29);
}

TEST(Parser, SearchLimits) {
  std::string deep = "a SEARCH ";
  for (int i = 0; i < 40; ++i) deep += "(";
  deep += "SEEN";
  for (int i = 0; i < 40; ++i) deep += ")";
  EXPECT_EQ(Bad(deep + "\r\n").code, "LIMIT");
  std::string nots = "a SEARCH ";
  for (int i = 0; i < 40; ++i) nots += "NOT ";
  EXPECT_EQ(Bad(nots + "SEEN\r\n").code, "LIMIT");
  std::string ors = "a SEARCH ";
  for (int i = 0; i < 40; ++i) ors += "OR SEEN ";
  EXPECT_EQ(Bad(ors + "SEEN\r\n").code, "LIMIT");
  // 30 levels are fine.
  std::string ok = "a SEARCH ";
  for (int i = 0; i < 30; ++i) ok += "(";
  ok += "SEEN";
  for (int i = 0; i < 30; ++i) ok += ")";
  One(ok + "\r\n");
  std::string many = "a SEARCH";
  for (int i = 0; i < 1001; ++i) many += " SEEN";
  EXPECT_EQ(Bad(many + "\r\n").code, "LIMIT");
}

TEST(Parser, Fetch) {
  using T = FetchItem::Type;
  using X = FetchSection::Text;
  Command c = One(
      "10 UID fetch 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date "
      "Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n");
  const auto& f = Args<FetchArgs>(c);
  EXPECT_TRUE(c.uid);
  EXPECT_EQ(f.set.ToString(), "1:*");
  ASSERT_EQ(f.items.size(), 4u);
  EXPECT_EQ(f.items[0].type, T::kUid);
  EXPECT_EQ(f.items[3].type, T::kBodySection);
  EXPECT_TRUE(f.items[3].peek);
  EXPECT_EQ(f.items[3].section.text, X::kHeaderFields);
  EXPECT_EQ(f.items[3].section.header_fields.size(), 14u);
  EXPECT_EQ(f.items[3].section.header_fields[0], "FROM");

  c = One("11 UID fetch 3 (UID RFC822.SIZE BODY.PEEK[]<0.10240>)\r\n");
  const auto& f2 = Args<FetchArgs>(c);
  EXPECT_EQ(f2.items[2].section, FetchSection{});
  EXPECT_EQ(*f2.items[2].partial, std::make_pair(0u, 10240u));

  c = One("a FETCH 2:4 (BODY[1.2.MIME] body.peek[2.HEADER.FIELDS.NOT (Received \"X-Spam\")]<100.1024> "
          "BINARY.PEEK[1]<0.100> BINARY.SIZE[2] BODY[TEXT] BODY[3.TEXT] BODY[1] BODY BODYSTRUCTURE ENVELOPE "
          "INTERNALDATE RFC822 RFC822.HEADER RFC822.TEXT MODSEQ BINARY[])\r\n");
  const auto& f3 = Args<FetchArgs>(c).items;
  ASSERT_EQ(f3.size(), 16u);
  EXPECT_EQ(f3[0].section.part, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(f3[0].section.text, X::kMime);
  EXPECT_FALSE(f3[0].peek);
  EXPECT_EQ(f3[1].section.text, X::kHeaderFieldsNot);
  EXPECT_EQ(f3[1].section.header_fields, (std::vector<std::string>{"RECEIVED", "X-SPAM"}));
  EXPECT_EQ(*f3[1].partial, std::make_pair(100u, 1024u));
  EXPECT_EQ(f3[2].type, T::kBinary);
  EXPECT_TRUE(f3[2].peek);
  EXPECT_EQ(f3[3].type, T::kBinarySize);
  EXPECT_EQ(f3[4].section.text, X::kText);
  EXPECT_EQ(f3[5].section.part, std::vector<uint32_t>{3});
  EXPECT_EQ(f3[6].section.text, X::kAll);
  EXPECT_EQ(f3[7].type, T::kBody);
  EXPECT_EQ(f3[15].type, T::kBinary);

  EXPECT_EQ(Args<FetchArgs>(One("a FETCH 1 ALL\r\n")).items.size(), 4u);
  EXPECT_EQ(Args<FetchArgs>(One("a FETCH 1 FAST\r\n")).items.size(), 3u);
  EXPECT_EQ(Args<FetchArgs>(One("a FETCH 1 full\r\n")).items.size(), 5u);
  EXPECT_EQ(Args<FetchArgs>(One("JLLF4 FETCH 1 (RFC822)\r\n")).items[0].type, T::kRfc822);
  EXPECT_EQ(Args<FetchArgs>(One("a FETCH 1 BODY[HEADER]\r\n")).items[0].section.text, X::kHeader);

  c = One("6 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n");
  EXPECT_EQ(*Args<FetchArgs>(c).changed_since, 12345u);
  EXPECT_TRUE(Args<FetchArgs>(c).vanished);

  for (const char* bad : {"x FETCH 1 (BODY[MIME])\r\n", "x FETCH 1 BINARY[HEADER]\r\n",
                          "x FETCH 1 BODY[]<0.0>\r\n", "x FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
                          "x FETCH 1 (FLAGS\r\n", "x FETCH 1 ()\r\n", "x FETCH 1 BOGUS\r\n",
                          "x FETCH 1 (FLAGS) (VANISHED)\r\n", "x FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n",
                          "x FETCH 0 FLAGS\r\n", "x FETCH 1 BODY[0]\r\n", "x FETCH 1 BODY[1.]\r\n",
                          "x FETCH 1 BODY[TEXT\r\n"}) {
    EXPECT_EQ(Bad(bad).tag, "x") << bad;
  }
}

TEST(Parser, Store) {
  Command c = One("13 UID store 5 +FLAGS (\\Seen)\r\n");
  const auto& s = Args<StoreArgs>(c);
  EXPECT_EQ(s.mode, StoreArgs::Mode::kAdd);
  EXPECT_FALSE(s.silent);
  EXPECT_EQ(s.flags, std::vector<std::string>{"\\Seen"});
  c = One("a STORE 1:3 -FLAGS.SILENT (\\Deleted)\r\n");
  EXPECT_EQ(Args<StoreArgs>(c).mode, StoreArgs::Mode::kRemove);
  EXPECT_TRUE(Args<StoreArgs>(c).silent);
  c = One("a STORE 2 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n");
  EXPECT_EQ(*Args<StoreArgs>(c).unchanged_since, 320162338u);
  c = One("a STORE 1 FLAGS \\Seen \\Flagged $label1\r\n");
  EXPECT_EQ(Args<StoreArgs>(c).mode, StoreArgs::Mode::kReplace);
  EXPECT_EQ(Args<StoreArgs>(c).flags.size(), 3u);
  c = One("a STORE 1 FLAGS ()\r\n");
  EXPECT_TRUE(Args<StoreArgs>(c).flags.empty());
  EXPECT_EQ(Bad("a STORE 1 *FLAGS (\\Seen)\r\n").tag, "a");
  EXPECT_EQ(Bad("a STORE 1 +FLAGS\r\n").tag, "a");
}

TEST(Parser, CopyMoveExpunge) {
  Command c = One("15 UID MOVE 7 \"Trash\"\r\n");
  EXPECT_EQ(c.name, "MOVE");
  EXPECT_TRUE(c.uid);
  EXPECT_EQ(Args<CopyArgs>(c).mailbox, "Trash");
  c = One("a COPY 2:4 Archive\r\n");
  EXPECT_EQ(Args<CopyArgs>(c).set.ToString(), "2:4");
  c = One("a UID EXPUNGE 3000:3002\r\n");
  EXPECT_EQ(Args<SetArgs>(c).set.ToString(), "3000:3002");
  EXPECT_EQ(Bad("a UID NOOP\r\n").tag, "a");
  EXPECT_EQ(Bad("a UID EXPUNGE\r\n").tag, "a");
}

TEST(Parser, SortThread) {
  Command c = One("a UID SORT (REVERSE ARRIVAL subject) UTF-8 SINCE 1-Feb-2026 SEEN\r\n");
  const auto& s = Args<SortArgs>(c);
  ASSERT_EQ(s.criteria.size(), 2u);
  EXPECT_TRUE(s.criteria[0].reverse);
  EXPECT_EQ(s.criteria[0].key, "ARRIVAL");
  EXPECT_FALSE(s.criteria[1].reverse);
  EXPECT_EQ(s.charset, "UTF-8");
  EXPECT_EQ(s.key.children.size(), 2u);
  c = One("a THREAD REFERENCES US-ASCII ALL\r\n");
  EXPECT_EQ(Args<ThreadArgs>(c).algorithm, "REFERENCES");
  EXPECT_EQ(Bad("a SORT (REVERSE) UTF-8 ALL\r\n").tag, "a");
  EXPECT_EQ(Bad("a SORT (BOGUS) UTF-8 ALL\r\n").tag, "a");
}

TEST(Parser, Id) {
  Command c = One("5 ID (\"name\" \"Thunderbird\" \"version\" \"115.0\" \"os\" NIL)\r\n");
  const auto& p = *Args<IdArgs>(c).params;
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].first, "name");
  EXPECT_EQ(*p[1].second, "115.0");
  EXPECT_FALSE(p[2].second);
  EXPECT_FALSE(Args<IdArgs>(One("a ID NIL\r\n")).params);
  EXPECT_TRUE(Args<IdArgs>(One("a ID ()\r\n")).params->empty());
}

TEST(Parser, UnknownCommandAndBadTags) {
  Command c = One("a XYZZY foo bar\r\n");
  EXPECT_EQ(c.name, "XYZZY");
  EXPECT_EQ(Args<UnknownArgs>(c).rest, "foo bar");
  EXPECT_EQ(Bad("* NOOP\r\n").tag, "");
  EXPECT_EQ(Bad("a+b NOOP\r\n").tag, "");
  EXPECT_EQ(Bad("abc\r\n").tag, "abc");
  EXPECT_EQ(Bad("a NOOP extra\r\n").tag, "a");
}

TEST(Parser, EightBitQuotedNeedsUtf8Accept) {
  EXPECT_EQ(Bad("a SELECT \"Entw\xc3\xbcrfe\"\r\n").tag, "a");
  ParserOptions o;
  o.utf8_accept = true;
  EXPECT_EQ(Args<SelectArgs>(One("a SELECT \"Entw\xc3\xbcrfe\"\r\n", o)).mailbox, "Entw\xc3\xbcrfe");
  Parser p;
  p.SetUtf8Accept(true);
  auto ev = Drain(p, "b CREATE \"\xc3\xa4\"\r\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::kCommand);
}

TEST(Parser, LiberalFlagsWithBackslash) {
  Command c = One("a STORE 1 +FLAGS (\\Seen Foo\\Bar)\r\n");
  EXPECT_EQ(Args<StoreArgs>(c).flags, (std::vector<std::string>{"\\Seen", "Foo\\Bar"}));
}

TEST(Parser, CommandSizeLimit) {
  ParserLimits l;
  l.max_command_size = 1000;
  l.max_literal_size = 800;
  Parser p(l);
  p.SetAuthenticated(true);
  std::string wire = "a APPEND INBOX {600+}\r\n" + std::string(600, 'a') + " {600+}\r\n" +
                     std::string(600, 'b') + "\r\nb NOOP\r\n";
  auto ev = Drain(p, wire);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].error.code, "TOOBIG");
  EXPECT_EQ(ev[1].command.tag, "b");
}

TEST(Parser, LiteralCountLimit) {
  ParserLimits l;
  l.max_literals = 2;
  Parser p(l);
  p.SetAuthenticated(true);
  auto ev = Drain(p, "a APPEND INBOX {1+}\r\nx {1+}\r\ny {1+}\r\nz\r\nb NOOP\r\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].error.code, "LIMIT");
  EXPECT_EQ(ev[1].command.tag, "b");
}

TEST(Parser, ParseCommandDirect) {
  std::string text = "a LOGIN {3}joe pw";
  auto r = ParseCommand(text, {11});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Args<LoginArgs>(*r).user, "joe");
  EXPECT_FALSE(ParseCommand(text, {}).has_value());
}

}  // namespace
}  // namespace columba::imap
