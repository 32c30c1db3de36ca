// relay_policy_test.cc - every way a recipient is accepted and every refusal,
// from real RCPT TO lines through the parser (lib/smtp/command.h).
#include "lib/smtp/relay_policy.h"

#include <gtest/gtest.h>

namespace columba::smtp {
namespace {

Path Rcpt(std::string_view path) {
  auto c = ParseCommand("RCPT TO:" + std::string(path));
  EXPECT_TRUE(c.has_value()) << path;
  return c ? c->path : Path{};
}

const RelayClient kStranger{};
RelayClient With(bool trusted, bool auth, bool pop, bool cert) { return RelayClient{trusted, auth, pop, cert}; }

TEST(RelayPolicy, LocalAndRelayDomainsAreAcceptedFromAnyone) {
  auto local = DecideRelay(kStranger, Rcpt("<alice@example.test>"), DomainClass::kLocal);
  EXPECT_EQ(local.verdict, RelayVerdict::kLocal);
  EXPECT_FALSE(local.relayed());
  EXPECT_EQ(local.reason(), "local");
  EXPECT_EQ(FormatReply(local.reply()), "250 2.1.5 Ok\r\n");
  auto postmaster = DecideRelay(kStranger, Rcpt("<Postmaster>"), DomainClass::kLocal);
  EXPECT_EQ(postmaster.verdict, RelayVerdict::kLocal);
  auto backup = DecideRelay(kStranger, Rcpt("<bob@backup.example>"), DomainClass::kRelay);
  EXPECT_EQ(backup.verdict, RelayVerdict::kRelayDomain);
  EXPECT_TRUE(backup.relayed());
  EXPECT_EQ(backup.reason(), "relay_domain");
}

TEST(RelayPolicy, RemoteRecipientsNeedOneOfTheFourGrants) {
  const Path remote = Rcpt("<carol@elsewhere.example>");
  auto refused = DecideRelay(kStranger, remote, DomainClass::kOther);
  EXPECT_FALSE(refused.accepted());
  EXPECT_EQ(refused.reason(), "refused");
  EXPECT_EQ(FormatReply(refused.reply()), "554 5.7.1 Relay access denied\r\n");

  struct Case {
    RelayClient client;
    RelayVerdict want;
    std::string_view reason;
  };
  for (const auto& c : {Case{With(true, false, false, false), RelayVerdict::kTrustedNetwork, "trusted_network"},
                        Case{With(false, true, false, false), RelayVerdict::kAuthenticated, "authenticated"},
                        Case{With(false, false, true, false), RelayVerdict::kPopBeforeSmtp, "pop_before_smtp"},
                        Case{With(false, false, false, true), RelayVerdict::kClientCertificate, "client_certificate"}}) {
    auto d = DecideRelay(c.client, remote, DomainClass::kOther);
    EXPECT_EQ(d.verdict, c.want) << c.reason;
    EXPECT_TRUE(d.relayed()) << c.reason;
    EXPECT_EQ(d.reason(), c.reason);
    EXPECT_EQ(d.reply().code, 250) << c.reason;
  }
  // Several grants: one verdict, the first in the documented order.
  EXPECT_EQ(DecideRelay(With(true, true, true, true), remote, DomainClass::kOther).verdict,
            RelayVerdict::kTrustedNetwork);
  EXPECT_EQ(DecideRelay(With(false, true, true, true), remote, DomainClass::kOther).verdict,
            RelayVerdict::kAuthenticated);
}

TEST(RelayPolicy, RoutedAddressesAtALocalDomainAreRelayAttempts) {
  // The classic open-relay tests (e.g. nmap smtp-open-relay): each names a remote
  // mailbox behind a local domain.
  for (std::string_view trick : {"<victim%elsewhere.example@example.test>",   // percent hack
                                 "<elsewhere.example!victim@example.test>",   // bang path
                                 "<\"victim@elsewhere.example\"@example.test>",  // quoted @
                                 "<@example.test:victim@elsewhere.example>",  // source route
                                 "<@example.test,@other.test:victim@elsewhere.example>"}) {
    const Path p = Rcpt(trick);
    EXPECT_TRUE(RoutesElsewhere(p)) << trick;
    auto d = DecideRelay(kStranger, p, DomainClass::kLocal);
    EXPECT_FALSE(d.accepted()) << trick;
    EXPECT_EQ(d.reply().code, 554) << trick;
    EXPECT_EQ(DecideRelay(kStranger, p, DomainClass::kRelay).verdict, RelayVerdict::kRefused) << trick;
    // A client allowed to relay may send them on.
    EXPECT_EQ(DecideRelay(With(false, true, false, false), p, DomainClass::kLocal).verdict,
              RelayVerdict::kAuthenticated) << trick;
  }
  // A trailing dot ("example.test.") names the same domain as a DNS root-relative
  // name; it never reaches the policy: the parser refuses it as a bad forward-path.
  for (std::string_view dotted : {"RCPT TO:<victim@example.test.>", "RCPT TO:<victim@elsewhere.example.>",
                                  "RCPT TO:<victim%elsewhere.example.@example.test>"}) {
    auto c = ParseCommand(dotted);
    if (c) {
      // Only the %-hack form parses (its dot is inside the local part): still a route.
      EXPECT_TRUE(RoutesElsewhere(c->path)) << dotted;
      EXPECT_FALSE(DecideRelay(kStranger, c->path, DomainClass::kLocal).accepted()) << dotted;
    } else {
      EXPECT_EQ(ReplyForSyntaxError(c.error()).code, 501) << dotted;
    }
  }
  EXPECT_FALSE(ParseCommand("RCPT TO:<victim@example.test.>"));
  // Ordinary local parts, quoted ones included, are not routes.
  for (std::string_view plain : {"<alice@example.test>", "<alice+tag@example.test>", "<\"john doe\"@example.test>",
                                 "<a.b-c_d=e@example.test>"}) {
    EXPECT_FALSE(RoutesElsewhere(Rcpt(plain))) << plain;
    EXPECT_EQ(DecideRelay(kStranger, Rcpt(plain), DomainClass::kLocal).verdict, RelayVerdict::kLocal) << plain;
  }
}

}  // namespace
}  // namespace columba::smtp
