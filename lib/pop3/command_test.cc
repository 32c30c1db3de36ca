// command_test.cc - ParseCommand (command.h): every verb's argument rules, case,
// spacing, message-number bounds and the characters a line may not hold.
// Never depends on a socket.
#include "lib/pop3/command.h"

#include <gtest/gtest.h>

using namespace columba;
using namespace columba::pop3;

namespace {

Command Ok(std::string_view line) {
  auto r = ParseCommand(line);
  EXPECT_TRUE(r.has_value()) << "line: " << line << " error: " << (r ? "" : r.error().message);
  return r ? *r : Command{};
}

bool Bad(std::string_view line) {
  auto r = ParseCommand(line);
  if (r) return false;
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);
  return true;
}

TEST(Pop3Command, KeywordsAreCaseInsensitive) {
  EXPECT_EQ(Ok("stat").verb, Verb::kStat);
  EXPECT_EQ(Ok("StAt").verb, Verb::kStat);
  EXPECT_EQ(Ok("capa").verb, Verb::kCapa);
  EXPECT_EQ(Ok("stls").verb, Verb::kStls);
  EXPECT_EQ(Ok("quit").keyword, "QUIT");
}

TEST(Pop3Command, UnknownVerbsAreNotSyntaxErrors) {
  EXPECT_EQ(Ok("XTND foo").verb, Verb::kUnknown);
  EXPECT_EQ(Ok("LAST").verb, Verb::kUnknown);  // RFC 1460, removed by RFC 1725
  EXPECT_TRUE(Bad("LONGVERB"));
  EXPECT_TRUE(Bad(""));
  EXPECT_TRUE(Bad(" STAT"));
}

TEST(Pop3Command, NoArgumentVerbsRefuseArguments) {
  for (const char* v : {"STAT x", "NOOP 1", "RSET now", "QUIT please", "CAPA x", "STLS x"}) EXPECT_TRUE(Bad(v)) << v;
  EXPECT_EQ(Ok("NOOP ").verb, Verb::kNoop);  // a trailing space is tolerated
}

TEST(Pop3Command, MessageNumbers) {
  EXPECT_EQ(*Ok("RETR 1").msg, 1u);
  EXPECT_EQ(*Ok("DELE 2147483647").msg, 2147483647u);
  EXPECT_EQ(*Ok("retr  7").msg, 7u);  // two spaces tolerated
  EXPECT_TRUE(Bad("RETR 0"));
  EXPECT_TRUE(Bad("RETR -1"));
  EXPECT_TRUE(Bad("RETR +1"));
  EXPECT_TRUE(Bad("RETR 2147483648"));
  EXPECT_TRUE(Bad("RETR 99999999999"));
  EXPECT_TRUE(Bad("RETR 1x"));
  EXPECT_TRUE(Bad("RETR"));
  EXPECT_TRUE(Bad("RETR 1 2"));
  EXPECT_TRUE(Bad("DELE"));
  EXPECT_FALSE(Ok("LIST").msg.has_value());
  EXPECT_EQ(*Ok("LIST 3").msg, 3u);
  EXPECT_FALSE(Ok("UIDL").msg.has_value());
  EXPECT_EQ(*Ok("UIDL 12").msg, 12u);
  EXPECT_TRUE(Bad("LIST 1 2"));
  EXPECT_TRUE(Bad("UIDL abc"));
}

TEST(Pop3Command, Top) {
  Command c = Ok("TOP 4 0");
  EXPECT_EQ(*c.msg, 4u);
  EXPECT_EQ(c.lines, 0u);
  EXPECT_EQ(Ok("top 1 25").lines, 25u);
  EXPECT_TRUE(Bad("TOP 1"));
  EXPECT_TRUE(Bad("TOP 1 -1"));
  EXPECT_TRUE(Bad("TOP 0 1"));
  EXPECT_TRUE(Bad("TOP 1 2 3"));
}

TEST(Pop3Command, UserPassKeepPasswordSpaces) {
  EXPECT_EQ(Ok("USER alice@example.org").name, "alice@example.org");
  EXPECT_TRUE(Bad("USER"));
  EXPECT_TRUE(Bad("USER a b"));
  EXPECT_TRUE(Bad("USER " + std::string(256, 'a')));
  EXPECT_EQ(Ok("PASS secret with  spaces ").secret, "secret with  spaces ");
  EXPECT_TRUE(Bad("PASS"));
  EXPECT_TRUE(Bad("PASS "));
}

TEST(Pop3Command, Apop) {
  Command c = Ok("APOP mrose C4C9334BAC560ECC979E58001B3E22FB");
  EXPECT_EQ(c.name, "mrose");
  EXPECT_EQ(c.secret, "c4c9334bac560ecc979e58001b3e22fb");
  EXPECT_TRUE(Bad("APOP mrose"));
  EXPECT_TRUE(Bad("APOP mrose c4c9334bac560ecc979e58001b3e22f"));
  EXPECT_TRUE(Bad("APOP mrose c4c9334bac560ecc979e58001b3e22fg"));
}

TEST(Pop3Command, Auth) {
  EXPECT_TRUE(Ok("AUTH").name.empty());
  Command c = Ok("auth plain");
  EXPECT_EQ(c.name, "PLAIN");
  EXPECT_FALSE(c.initial.has_value());
  c = Ok("AUTH PLAIN AGJvYgBwdw==");
  EXPECT_EQ(*c.initial, "AGJvYgBwdw==");
  EXPECT_EQ(*Ok("AUTH PLAIN =").initial, "=");
  EXPECT_TRUE(Bad("AUTH PLAIN a b"));
  EXPECT_TRUE(Bad("AUTH " + std::string(21, 'X')));
}

TEST(Pop3Command, ControlCharactersAreRefused) {
  EXPECT_TRUE(Bad(std::string_view("STAT\r", 5)));
  EXPECT_TRUE(Bad(std::string_view("PASS a\nb", 8)));
  EXPECT_TRUE(Bad(std::string_view("USER a\0b", 8)));
}

}  // namespace
