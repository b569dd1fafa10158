// Tests of greylisting (checks/greylisting.cpp) with a clock of the test's own: first sight, a retry
// too early, in the window and too late, a passed triplet remembered (and forgotten after
// pass_lifetime), the auto-whitelist of a client network, /24 and /64 grouping, the exemptions, the
// [greylisting] configuration, and the state kept in the SQLite store across a restart.
#include "checks/greylisting.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "store/store.hpp"

namespace gatehouse::checks {
namespace {

using namespace std::chrono_literals;
using Kind = GreylistDecision::Kind;

const Clock::time_point t0 = Clock::time_point(std::chrono::milliseconds(1'700'000'000'000));   // 2023-11-14 22:13:20 UTC

GreylistingConfig settings() {
  GreylistingConfig config;
  config.enabled = true;   // the defaults otherwise: delay 5 min, window 24 h, lifetime 36 d, whitelist after 5
  return config;
}

GreylistKey key(std::string ip = "192.0.2.10", std::string sender = "Alice@Sender.test",
                std::string recipient = "Bob@Example.test") {
  return GreylistKey::of(ip, sender, recipient);
}

TEST(GreylistingNetwork, IPv4IsGroupedBy24AndIPv6By64) {
  EXPECT_EQ(greylist_network("192.0.2.10"), "192.0.2.0/24");
  EXPECT_EQ(greylist_network("192.0.2.250"), "192.0.2.0/24");
  EXPECT_EQ(greylist_network("192.0.3.10"), "192.0.3.0/24");
  EXPECT_EQ(greylist_network("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(greylist_network("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
  EXPECT_EQ(greylist_network("2001:db8:1:3::1"), "2001:db8:1:3::/64");
  EXPECT_EQ(greylist_network("::ffff:192.0.2.77"), "192.0.2.0/24");
}

TEST(GreylistingKey, AddressesAreLowerCased) {
  auto k = key();
  EXPECT_EQ(k.network, "192.0.2.0/24");
  EXPECT_EQ(k.sender, "alice@sender.test");
  EXPECT_EQ(k.recipient, "bob@example.test");
  EXPECT_EQ(GreylistKey::of("192.0.2.1", "", "bob@example.test").sender, "");
}

TEST(GreylistingDecision, FirstSightIsDeferredWithTheRetryTime) {
  Greylist greylist(nullptr);
  auto first = greylist.check(key(), settings(), t0);
  EXPECT_TRUE(first.defer);
  EXPECT_EQ(first.kind, Kind::first_seen);
  EXPECT_EQ(first.retry_after, t0 + 5min);
  EXPECT_EQ(first.detail, "first seen, retry after 22:18:20 UTC");
  EXPECT_EQ(first.reason, "please try again in 5m");
}

TEST(GreylistingDecision, TooEarlyInWindowAndTooLate) {
  Greylist greylist(nullptr);
  ASSERT_TRUE(greylist.check(key(), settings(), t0).defer);
  // Too early: deferred again, the retry time still counted from the first sight.
  auto early = greylist.check(key(), settings(), t0 + 4min);
  EXPECT_TRUE(early.defer);
  EXPECT_EQ(early.kind, Kind::too_early);
  EXPECT_EQ(early.retry_after, t0 + 5min);
  EXPECT_EQ(early.reason, "please try again in 1m");
  // In the window: passes.
  auto retry = greylist.check(key(), settings(), t0 + 6min);
  EXPECT_FALSE(retry.defer);
  EXPECT_EQ(retry.kind, Kind::retry_passed);
  EXPECT_EQ(retry.detail, "passed: retried 6m after first sight");

  // Another triplet retried after the window: starts over.
  Greylist other(nullptr);
  ASSERT_TRUE(other.check(key(), settings(), t0).defer);
  auto late = other.check(key(), settings(), t0 + 25h);
  EXPECT_TRUE(late.defer);
  EXPECT_EQ(late.kind, Kind::restarted);
  EXPECT_EQ(late.retry_after, t0 + 25h + 5min);
  EXPECT_FALSE(other.check(key(), settings(), t0 + 25h + 5min).defer);
}

TEST(GreylistingDecision, EveryPartOfTheTripletCounts) {
  Greylist greylist(nullptr);
  ASSERT_TRUE(greylist.check(key(), settings(), t0).defer);
  ASSERT_FALSE(greylist.check(key(), settings(), t0 + 10min).defer);
  // Same network (another host of the /24), same addresses in another case: known.
  EXPECT_FALSE(greylist.check(key("192.0.2.99", "ALICE@sender.test", "bob@EXAMPLE.test"), settings(), t0 + 11min).defer);
  // Another network, sender or recipient: first sight.
  EXPECT_EQ(greylist.check(key("192.0.3.10"), settings(), t0 + 11min).kind, Kind::first_seen);
  EXPECT_EQ(greylist.check(key("192.0.2.10", "carol@sender.test"), settings(), t0 + 11min).kind, Kind::first_seen);
  EXPECT_EQ(greylist.check(key("192.0.2.10", "alice@sender.test", "dave@example.test"), settings(), t0 + 11min).kind,
            Kind::first_seen);
}

TEST(GreylistingDecision, IPv6ClientsShareTheir64) {
  Greylist greylist(nullptr);
  ASSERT_TRUE(greylist.check(key("2001:db8:1:2::10"), settings(), t0).defer);
  // The retry comes from another address of the same /64: passes.
  EXPECT_FALSE(greylist.check(key("2001:db8:1:2:ffff::20"), settings(), t0 + 6min).defer);
  // Another /64: first sight.
  EXPECT_TRUE(greylist.check(key("2001:db8:1:3::10"), settings(), t0 + 6min).defer);
}

TEST(GreylistingDecision, PassedTripletIsRememberedAndRenewedOnUse) {
  Greylist greylist(nullptr);
  auto config = settings();
  ASSERT_TRUE(greylist.check(key(), config, t0).defer);
  ASSERT_FALSE(greylist.check(key(), config, t0 + 5min).defer);
  // Known 30 days later, and (renewed) again 30 days after that: 60 days after the pass.
  auto known = greylist.check(key(), config, t0 + 24h * 30);
  EXPECT_FALSE(known.defer);
  EXPECT_EQ(known.kind, Kind::known);
  EXPECT_FALSE(greylist.check(key(), config, t0 + 24h * 60).defer);
  // Unused for more than pass_lifetime (36 days): first sight again.
  auto forgotten = greylist.check(key(), config, t0 + 24h * 97);
  EXPECT_TRUE(forgotten.defer);
  EXPECT_EQ(forgotten.kind, Kind::restarted);
}

TEST(GreylistingDecision, NetworkIsWhitelistedAfterEnoughPassedTriplets) {
  Greylist greylist(nullptr);
  auto config = settings();
  config.auto_whitelist_after = 3;
  for (int i = 0; i < 3; ++i) {
    auto k = key("192.0.2.10", fmt::format("sender{}@sender.test", i));
    ASSERT_TRUE(greylist.check(k, config, t0).defer);
    ASSERT_FALSE(greylist.check(k, config, t0 + 10min).defer);
    // A passed triplet used again does not count twice.
    ASSERT_FALSE(greylist.check(k, config, t0 + 11min).defer);
    if (i < 2) {
      EXPECT_TRUE(greylist.check(key("192.0.2.50", "new@else.test"), config, t0 + 12min).defer) << i;
    }
  }
  // Any triplet from the network now passes at once; another network does not.
  auto whitelisted = greylist.check(key("192.0.2.200", "someone@new.test", "carol@example.test"), config, t0 + 20min);
  EXPECT_FALSE(whitelisted.defer);
  EXPECT_EQ(whitelisted.kind, Kind::network_whitelisted);
  EXPECT_EQ(whitelisted.detail, "passed: network 192.0.2.0/24 auto-whitelisted (3 triplets passed)");
  EXPECT_TRUE(greylist.check(key("198.51.100.7", "someone@new.test"), config, t0 + 20min).defer);

  // 0 turns the auto-whitelist off.
  Greylist never(nullptr);
  config.auto_whitelist_after = 0;
  for (int i = 0; i < 6; ++i) {
    auto k = key("192.0.2.10", fmt::format("sender{}@sender.test", i));
    never.check(k, config, t0);
    ASSERT_FALSE(never.check(k, config, t0 + 10min).defer);
  }
  EXPECT_TRUE(never.check(key("192.0.2.10", "another@sender.test"), config, t0 + 20min).defer);
}

TEST(GreylistingDecision, EvaluateAloneRecordsNothing) {
  Greylist greylist(nullptr);
  EXPECT_EQ(greylist.evaluate(key(), settings(), t0).kind, Kind::first_seen);
  // Not committed (the recipient turned out to be refused): still a first sight later.
  EXPECT_EQ(greylist.evaluate(key(), settings(), t0 + 10min).kind, Kind::first_seen);
}

TEST(GreylistingDecision, ShortDelayAsInTests) {
  Greylist greylist(nullptr);
  auto config = settings();
  config.delay = 2s;
  ASSERT_TRUE(greylist.check(key(), config, t0).defer);
  EXPECT_TRUE(greylist.check(key(), config, t0 + 1s).defer);
  EXPECT_FALSE(greylist.check(key(), config, t0 + 2s).defer);
}

TEST(GreylistingExemptions, WhoIsNeverGreylisted) {
  auto config = parse_config(R"(
[server]
listen = ["127.0.0.1:2525"]
[greylisting]
enabled = true
[lists]
whitelist = ["friend@partner.test", "203.0.113.0/24"]
no_host_checks = ["198.51.100.0/24"]
)",
                             "test.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const FilterPolicy& policy = config->policy;
  ASSERT_TRUE(policy.greylisting);
  auto subject = [&](std::string_view ip, std::string_view sender) {
    return GreylistSubject{&policy, false, false, false, ip, sender};
  };
  EXPECT_EQ(greylisting_exemption(subject("192.0.2.1", "someone@else.test")), "");
  EXPECT_EQ(greylisting_exemption(subject("192.0.2.1", "friend@partner.test")), "whitelist: friend@partner.test");
  EXPECT_EQ(greylisting_exemption(subject("203.0.113.9", "someone@else.test")), "whitelist: 203.0.113.0/24");
  EXPECT_EQ(greylisting_exemption(subject("198.51.100.3", "someone@else.test")), "No Host Checks: 198.51.100.0/24");
  auto trusted = subject("192.0.2.1", "someone@else.test");
  trusted.trusted_client = true;
  EXPECT_EQ(greylisting_exemption(trusted), "trusted network");
  auto outbound = subject("192.0.2.1", "someone@else.test");
  outbound.outbound = true;
  EXPECT_EQ(greylisting_exemption(outbound), "outbound");
  auto accepted = subject("192.0.2.1", "someone@else.test");
  accepted.whitelisted = true;   // a check decided "accept" (a DNS allow list, …)
  EXPECT_EQ(greylisting_exemption(accepted), "whitelisted");
  FilterPolicy off = policy;
  off.greylisting = false;
  EXPECT_EQ(greylisting_exemption(GreylistSubject{&off, false, false, false, "192.0.2.1", "someone@else.test"}),
            "not enabled");
}

TEST(GreylistingConfig, DefaultsSectionAndDomainOverride) {
  auto defaults = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n", "test.toml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->greylisting.enabled);
  EXPECT_FALSE(defaults->policy.greylisting);
  EXPECT_EQ(defaults->greylisting.delay, 300s);
  EXPECT_EQ(defaults->greylisting.retry_window, 24h);
  EXPECT_EQ(defaults->greylisting.pass_lifetime, 24h * 36);
  EXPECT_EQ(defaults->greylisting.auto_whitelist_after, 5u);

  auto config = parse_config(R"(
[server]
listen = ["127.0.0.1:2525"]
[greylisting]
enabled = true
delay = "2s"
retry_window = "4h"
pass_lifetime = "10d"
auto_whitelist_after = 0
[[domain]]
name = "on.test"
backend = "smtp:127.0.0.1:2526"
[[domain]]
name = "off.test"
backend = "smtp:127.0.0.1:2526"
greylisting = false
)",
                             "test.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->greylisting.delay, 2s);
  EXPECT_EQ(config->greylisting.retry_window, 4h);
  EXPECT_EQ(config->greylisting.pass_lifetime, 24h * 10);
  EXPECT_EQ(config->greylisting.auto_whitelist_after, 0u);
  EXPECT_TRUE(config->policy.greylisting);
  ASSERT_EQ(config->domains.size(), 2u);
  EXPECT_TRUE(config->domains[0].policy.greylisting);
  EXPECT_FALSE(config->domains[1].policy.greylisting);
  // On/off does not split transactions: same fingerprint.
  EXPECT_EQ(config->domains[0].policy.fingerprint, config->domains[1].policy.fingerprint);

  // A domain can turn it on while it is off globally.
  auto one = parse_config(R"(
[server]
listen = ["127.0.0.1:2525"]
[[domain]]
name = "on.test"
backend = "smtp:127.0.0.1:2526"
greylisting = true
)",
                          "test.toml");
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_FALSE(one->policy.greylisting);
  EXPECT_TRUE(one->domains[0].policy.greylisting);
}

TEST(GreylistingConfig, ErrorsNameFileLineAndKey) {
  auto error_of = [](const std::string& text) {
    auto config = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n" + text, "test.toml");
    EXPECT_FALSE(config.ok()) << text;
    return config.ok() ? std::string() : config.error().message;
  };
  EXPECT_EQ(error_of("[greylisting]\nenabled = \"yes\"\n"),
            "test.toml:4: greylisting.enabled: expected true or false, got \"yes\"");
  EXPECT_NE(error_of("[greylisting]\ndelay = \"soon\"\n").find("test.toml:4: greylisting.delay: expected a duration"),
            std::string::npos);
  EXPECT_EQ(error_of("[greylisting]\ndelay = \"1h\"\nretry_window = \"30m\"\n"),
            "test.toml:5: greylisting.retry_window: retry_window (1800s) must be longer than delay (3600s): no retry "
            "could pass");
  EXPECT_NE(error_of("[greylisting]\nauto_whitelist_after = -1\n").find("test.toml:4: greylisting.auto_whitelist_after"),
            std::string::npos);
  EXPECT_EQ(error_of("[greylisting]\ndelays = 5\n"), "test.toml:4: greylisting.delays: unknown key");
  EXPECT_NE(error_of("[[domain]]\nname = \"a.test\"\nbackend = \"smtp:127.0.0.1:25\"\ngreylisting = 1\n")
                .find("test.toml:6: domain[0].greylisting: expected true or false"),
            std::string::npos);
}

TEST(GreylistingReply, ConfigurableTextCarriesTheId) {
  auto config = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n", "test.toml");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->policy.reply_text("greylisting", "ABC123", "please try again in 5m"),
            "Greylisted: please try again in 5m (ID:ABC123)");
  auto custom = parse_config(
      "[server]\nlisten = [\"127.0.0.1:2525\"]\n[filter.replies]\ngreylisting = \"Try later ({reason}), ref {id}\"\n",
      "test.toml");
  ASSERT_TRUE(custom.ok()) << custom.error().message;
  EXPECT_EQ(custom->policy.reply_text("greylisting", "ABC123", "in 5m"), "Try later (in 5m), ref ABC123");
}

// The state lives in the store: a new Greylist over a reopened store (a restart) knows it.
class GreylistingStore : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/gatehouse-greylist-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
    path_ = directory_ + "/gatehouse.db";
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }
  std::string directory_, path_;
};

TEST_F(GreylistingStore, StateSurvivesARestart) {
  auto config = settings();
  config.auto_whitelist_after = 2;
  {
    auto store = open_sqlite_store(path_);
    ASSERT_TRUE(store.ok()) << store.error().message;
    Greylist greylist(store->get());
    ASSERT_TRUE(greylist.check(key(), config, t0).defer);
    ASSERT_TRUE(greylist.check(key("192.0.2.10", "waiting@sender.test"), config, t0).defer);
    ASSERT_FALSE(greylist.check(key(), config, t0 + 6min).defer);
    (*store)->flush();
  }
  auto store = open_sqlite_store(path_);
  ASSERT_TRUE(store.ok());
  auto stored = (*store)->find_greylist_triplet("192.0.2.0/24", "alice@sender.test", "bob@example.test");
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->passed);
  EXPECT_EQ(stored->first_seen, t0);
  EXPECT_EQ(stored->last_seen, t0 + 6min);
  auto network = (*store)->find_greylist_network("192.0.2.0/24");
  ASSERT_TRUE(network.has_value());
  EXPECT_EQ(network->passed_triplets, 1);

  Greylist restarted(store->get());
  EXPECT_EQ(restarted.check(key(), config, t0 + 1h).kind, Kind::known);
  // The waiting triplet's first sight was kept too: its retry passes (the second for the network).
  EXPECT_EQ(restarted.check(key("192.0.2.10", "waiting@sender.test"), config, t0 + 1h).kind, Kind::retry_passed);
  (*store)->flush();
  restarted.clear_cache();
  EXPECT_EQ(restarted.check(key("192.0.2.10", "new@sender.test"), config, t0 + 2h).kind, Kind::network_whitelisted);
}

TEST_F(GreylistingStore, PruneForgetsExpiredState) {
  auto store = open_sqlite_store(path_);
  ASSERT_TRUE(store.ok());
  auto config = settings();
  Greylist greylist(store->get());
  greylist.check(key("192.0.2.1", "never@retries.test"), config, t0);          // never retried
  greylist.check(key("192.0.2.1", "passed@sender.test"), config, t0);
  greylist.check(key("192.0.2.1", "passed@sender.test"), config, t0 + 10min);   // passed
  (*store)->flush();
  // After the retry window: only the unretried triplet goes.
  EXPECT_EQ(greylist.prune(config, t0 + 25h), 1u);
  EXPECT_FALSE((*store)->find_greylist_triplet("192.0.2.0/24", "never@retries.test", "bob@example.test").has_value());
  EXPECT_TRUE((*store)->find_greylist_triplet("192.0.2.0/24", "passed@sender.test", "bob@example.test").has_value());
  EXPECT_EQ(greylist.check(key("192.0.2.1", "never@retries.test"), config, t0 + 25h).kind, Kind::first_seen);
  // After pass_lifetime: the passed triplet and its network go too.
  (*store)->flush();
  EXPECT_EQ(greylist.prune(config, t0 + 24h * 40), 3u);   // passed triplet, network, the new first sight
  EXPECT_FALSE((*store)->find_greylist_network("192.0.2.0/24").has_value());
  EXPECT_EQ(greylist.check(key("192.0.2.1", "passed@sender.test"), config, t0 + 24h * 40).kind, Kind::first_seen);
}

// The daemon's threads share one Greylist: concurrent first sights of a triplet keep one first
// sight, and every retry after the delay passes.
TEST_F(GreylistingStore, SharedByThreads) {
  auto store = open_sqlite_store(path_);
  ASSERT_TRUE(store.ok());
  auto config = settings();
  config.auto_whitelist_after = 0;
  Greylist greylist(store->get(), 64);   // a small cache: evictions and store reads under contention
  constexpr int kThreads = 4, kTriplets = 200;
  auto run = [&](Clock::time_point now, std::vector<int>& deferred) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kTriplets; ++i)
          if (greylist.check(key("192.0.2.1", fmt::format("s{}@sender.test", i)), config, now).defer)
            ++deferred[t];
      });
    for (auto& thread : threads) thread.join();
  };
  std::vector<int> first(kThreads), retry(kThreads);
  run(t0, first);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(first[t], kTriplets);
  (*store)->flush();
  for (int i = 0; i < kTriplets; ++i) {
    auto stored = (*store)->find_greylist_triplet("192.0.2.0/24", fmt::format("s{}@sender.test", i), "bob@example.test");
    ASSERT_TRUE(stored.has_value()) << i;
    EXPECT_EQ(stored->first_seen, t0);
  }
  run(t0 + 10min, retry);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(retry[t], 0);
}

TEST(GreylistingWait, Descriptions) {
  EXPECT_EQ(describe_wait(0s), "0s");
  EXPECT_EQ(describe_wait(2s), "2s");
  EXPECT_EQ(describe_wait(280s), "4m 40s");
  EXPECT_EQ(describe_wait(300s), "5m");
  EXPECT_EQ(describe_wait(3900s), "1h 5m");
  EXPECT_EQ(describe_wait(24h + 3h + 5min), "1d 3h");
}

}  // namespace
}  // namespace gatehouse::checks
