// Tests of relay control and recipient validation (src/engine/policy.hpp): served domains with
// recipients = list / any / backend, postmaster@ and abuse@ always, "<postmaster>" without a
// domain, unknown users, relaying for trusted clients only, and the classic open-relay tricks
// (routing in the local part, subdomains, address literals).
#include "engine/policy.hpp"

#include <gtest/gtest.h>

namespace gatehouse {
namespace {

const char* kConfig = R"(
[server]
listen = ["127.0.0.1:2525"]
trusted_networks = ["10.0.0.0/8"]

[[domain]]
name = "example.test"
backend = "smtp:127.0.0.1:2626"
recipients = "list"
addresses = ["alice@example.test", "Bob@Example.Test"]

[[domain]]
name = "any.test"
backend = "maildir:var/maildir/any.test"
recipients = "any"

[[domain]]
name = "live.test"
backend = "lmtp:127.0.0.1:24"
recipients = "backend"

[[domain]]
name = "files.test"
backend = "maildir:var/maildir/files.test"
recipients = "backend"
)";

class Policy : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = parse_config(kConfig, "policy.toml");
    ASSERT_TRUE(config.ok()) << config.error().message;
    table_ = build_domain_table(*config, nullptr);
  }

  // Parses `address` like RCPT TO does and decides for an untrusted (or trusted) client.
  RecipientDecision decide(const std::string& address, bool trusted = false) {
    auto box = smtp::parse_mailbox(address, true);
    EXPECT_TRUE(box.ok()) << address;
    return decide_recipient(*table_, box.ok() ? *box : smtp::Mailbox{}, trusted);
  }

  std::shared_ptr<const DomainTable> table_;
};

TEST_F(Policy, TableFromConfig) {
  EXPECT_EQ(table_->primary_domain, "example.test");
  EXPECT_NE(table_->find("EXAMPLE.test"), nullptr);
  EXPECT_EQ(table_->find("other.test"), nullptr);
  EXPECT_TRUE(table_->trusted("10.1.2.3"));
  EXPECT_FALSE(table_->trusted("192.0.2.1"));
}

TEST_F(Policy, ListedRecipientsAreAccepted) {
  auto d = decide("alice@example.test");
  EXPECT_EQ(d.route, RecipientRoute::local);
  ASSERT_NE(d.domain, nullptr);
  EXPECT_EQ(d.domain->name, "example.test");
  EXPECT_EQ(d.address, "alice@example.test");
  // Addresses compare case-insensitively.
  EXPECT_EQ(decide("ALICE@EXAMPLE.TEST").route, RecipientRoute::local);
  EXPECT_EQ(decide("bob@example.test").route, RecipientRoute::local);
}

TEST_F(Policy, UnknownRecipientIs550) {
  auto d = decide("mallory@example.test");
  EXPECT_EQ(d.route, RecipientRoute::refused);
  EXPECT_EQ(d.reply.code, 550);
  EXPECT_EQ(d.reply.enhanced, "5.1.1");
  EXPECT_NE(d.reply.text.find("mallory@example.test"), std::string::npos);
}

TEST_F(Policy, AnyAcceptsEveryLocalPart) {
  auto d = decide("whoever@any.test");
  EXPECT_EQ(d.route, RecipientRoute::local);
  ASSERT_NE(d.domain, nullptr);
  EXPECT_EQ(d.domain->name, "any.test");
}

TEST_F(Policy, BackendValidationAsksLiveBackends) {
  auto d = decide("someone@live.test");
  EXPECT_EQ(d.route, RecipientRoute::ask_backend);
  ASSERT_NE(d.domain, nullptr);
  EXPECT_EQ(d.domain->name, "live.test");
  // A Maildir cannot be asked: it takes everyone.
  EXPECT_EQ(decide("someone@files.test").route, RecipientRoute::local);
}

TEST_F(Policy, PostmasterAndAbuseAlwaysInAnyCase) {
  for (const char* address : {"postmaster@example.test", "PostMaster@example.test", "abuse@example.test",
                              "ABUSE@Example.Test", "postmaster@live.test"}) {
    auto d = decide(address);
    EXPECT_EQ(d.route, RecipientRoute::local) << address;
    EXPECT_NE(d.domain, nullptr) << address;
  }
}

TEST_F(Policy, PostmasterWithoutDomainGoesToThePrimaryDomain) {
  for (const char* address : {"postmaster", "Postmaster", "POSTMASTER"}) {
    auto d = decide(address);
    EXPECT_EQ(d.route, RecipientRoute::local) << address;
    ASSERT_NE(d.domain, nullptr);
    EXPECT_EQ(d.domain->name, "example.test");
    EXPECT_EQ(d.address, "postmaster@example.test");
  }
  // Any other local part without a domain is not ours.
  auto d = decide("alice");
  EXPECT_EQ(d.route, RecipientRoute::refused);
  EXPECT_EQ(d.reply.code, 554);
}

TEST_F(Policy, OtherDomainsAreRelayDenied) {
  auto d = decide("victim@elsewhere.test");
  EXPECT_EQ(d.route, RecipientRoute::refused);
  EXPECT_EQ(d.reply.code, 554);
  EXPECT_EQ(d.reply.enhanced, "5.7.1");
  EXPECT_NE(d.reply.text.find("Relay access denied"), std::string::npos);
  // postmaster@ of somebody else's domain is not ours either.
  EXPECT_EQ(decide("postmaster@elsewhere.test").route, RecipientRoute::refused);
}

TEST_F(Policy, TrustedClientsRelayOutbound) {
  auto d = decide("friend@elsewhere.test", /*trusted=*/true);
  EXPECT_EQ(d.route, RecipientRoute::outbound);
  EXPECT_EQ(d.address, "friend@elsewhere.test");
  // Trust does not create users in our own domains.
  EXPECT_EQ(decide("mallory@example.test", true).route, RecipientRoute::refused);
}

TEST_F(Policy, RoutingInTheLocalPartIsRefusedEvenForServedDomains) {
  for (const char* address : {"victim%elsewhere.test@example.test", "elsewhere.test!victim@example.test",
                              "\"victim@elsewhere.test\"@example.test", "alice%any.test@any.test",
                              "x!y@live.test"}) {
    for (bool trusted : {false, true}) {
      auto d = decide(address, trusted);
      EXPECT_EQ(d.route, RecipientRoute::refused) << address << " trusted=" << trusted;
      EXPECT_EQ(d.reply.code, 554) << address;
      EXPECT_EQ(d.reply.enhanced, "5.7.1") << address;
    }
  }
}

TEST_F(Policy, SubdomainOfAServedDomainIsNotServed) {
  auto d = decide("alice@sub.example.test");
  EXPECT_EQ(d.route, RecipientRoute::refused);
  EXPECT_EQ(d.reply.code, 554);
  EXPECT_EQ(decide("anyone@mail.any.test").route, RecipientRoute::refused);
  // Nor is a domain that merely ends with a served name.
  EXPECT_EQ(decide("anyone@notany.test").route, RecipientRoute::refused);
}

TEST_F(Policy, AddressLiteralIsRefused) {
  for (const char* address : {"alice@[127.0.0.1]", "postmaster@[192.0.2.1]", "user@[IPv6:::1]"}) {
    auto d = decide(address);
    EXPECT_EQ(d.route, RecipientRoute::refused) << address;
    EXPECT_EQ(d.reply.code, 554) << address;
  }
}

TEST_F(Policy, TrailingDotDomainIsTheSameDomain) {
  EXPECT_EQ(decide("alice@example.test.").route, RecipientRoute::local);
}

TEST(PolicyTable, NoDomainsMeansPostmasterIsRefused) {
  DomainTable empty;
  smtp::Mailbox postmaster;
  postmaster.local = "postmaster";
  auto d = decide_recipient(empty, postmaster, false);
  EXPECT_EQ(d.route, RecipientRoute::refused);
}

TEST(PolicyTable, FilledDirectly) {
  DomainTable table;
  DomainConfig domain;
  domain.name = "direct.test";
  domain.recipients = RecipientValidation::list;
  table.domains[domain.name] = domain;
  table.addresses.insert("carol@direct.test");
  table.primary_domain = "direct.test";
  smtp::Mailbox carol;
  carol.local = "Carol";
  carol.domain = "direct.test";
  EXPECT_EQ(decide_recipient(table, carol, false).route, RecipientRoute::local);
  smtp::Mailbox dave = carol;
  dave.local = "dave";
  EXPECT_EQ(decide_recipient(table, dave, false).reply.code, 550);
}

}  // namespace
}  // namespace gatehouse
