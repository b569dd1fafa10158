// Tests of the dashboard's figures: the SQLite store's rollup (Store::statistics,
// store/sqlite_stats.cpp) — counts per bucket, disposition and reason from known records, top
// lists, domain scoping, a transaction written twice, prune, a store filled before the rollup
// existed — and the API route GET /api/v1/stats (src/web/api_stats.cpp) with its domain
// administrator's view.
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <map>

#include "common/metrics.hpp"
#include "config/config.hpp"
#include "store/store.hpp"
#include "web/api.hpp"
#include "web/auth.hpp"
#include "web/http.hpp"

namespace gatehouse {
namespace {

using namespace std::chrono_literals;

Clock::time_point hour_start(Clock::time_point t) {
  return Clock::time_point(std::chrono::duration_cast<std::chrono::hours>(t.time_since_epoch()));
}

class StatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/gatehouse-stats-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
    open();
    // Start of the hour now running: records go at whole hours before it, plus a minute.
    base_ = hour_start(Clock::now());
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  void open() {
    auto store = open_sqlite_store((directory_ / "store.db").string());
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
  }

  // A transaction `hours_ago` whole hours before the current hour (+1 minute).
  void record(const std::string& id, int hours_ago, const std::string& disposition, const std::string& reason,
              std::vector<std::string> recipients, const std::string& ip = "192.0.2.1",
              const std::string& sender = "news@sender.test", std::vector<std::string> refused = {}) {
    TransactionRecord r;
    r.id = id;
    r.time = base_ - std::chrono::hours(hours_ago) + 1min;
    r.client_ip = ip;
    r.mail_from = sender;
    r.recipients = std::move(recipients);
    r.rejected_recipients = std::move(refused);
    r.subject = "s";
    r.disposition = disposition;
    r.reason = reason;
    store_->record(r);
  }

  StatsQuery last(std::chrono::hours span, std::vector<std::string> domains = {}) {
    StatsQuery q;
    q.until = base_ + 1h;
    q.since = q.until - span;
    q.domains = std::move(domains);
    return q;
  }

  // counts[hours_ago][disposition]
  std::map<int, std::map<std::string, std::uint64_t>> by_hour(const Statistics& s) {
    std::map<int, std::map<std::string, std::uint64_t>> out;
    for (const auto& c : s.series)
      out[static_cast<int>(std::chrono::duration_cast<std::chrono::hours>(base_ - c.start).count())][c.disposition] += c.count;
    return out;
  }

  std::filesystem::path directory_;
  std::unique_ptr<Store> store_;
  Clock::time_point base_;
};

TEST_F(StatsTest, CountsPerHourDispositionAndReason) {
  record("A1", 0, "accept", "", {"a@example.org"});
  record("A2", 0, "accept", "", {"b@example.org"});
  record("T1", 0, "tag", "score above tag threshold", {"a@example.org"});
  record("R1", 1, "reject", "dnsbl: zen", {"a@example.org"}, "198.51.100.9", "x@spam.test");
  record("R2", 1, "reject", "dnsbl: zen", {"a@other.test"}, "198.51.100.9", "y@spam.test");
  record("R3", 1, "reject", "unknown recipient", {}, "198.51.100.7", "y@spam.test", {"nobody@example.org: 550 5.1.1 no"});
  record("G1", 3, "tempfail", "greylisted", {"a@example.org"}, "203.0.113.5");
  record("OLD", 30, "accept", "", {"a@example.org"});   // outside 24 hours
  store_->flush();

  auto stats = store_->statistics(last(24h));
  auto hours = by_hour(stats);
  EXPECT_EQ(hours[0]["accept"], 2u);
  EXPECT_EQ(hours[0]["tag"], 1u);
  EXPECT_EQ(hours[1]["reject"], 3u);
  EXPECT_EQ(hours[3]["tempfail"], 1u);
  EXPECT_EQ(hours.count(30), 0u) << "the range ends 24 hours back";
  EXPECT_EQ(hours.size(), 3u);

  ASSERT_EQ(stats.reasons.size(), 3u);
  EXPECT_EQ(stats.reasons[0].reason, "dnsbl: zen");
  EXPECT_EQ(stats.reasons[0].count, 2u);
  EXPECT_EQ(stats.reasons[1].count, 1u);
  bool greylisted = false;
  for (const auto& r : stats.reasons) greylisted |= r.disposition == "tempfail" && r.reason == "greylisted";
  EXPECT_TRUE(greylisted) << "a new disposition/reason shows up without being known in advance";

  ASSERT_FALSE(stats.top_ips.empty());
  EXPECT_EQ(stats.top_ips[0].key, "192.0.2.1");
  EXPECT_EQ(stats.top_ips[0].total, 3u);
  EXPECT_EQ(stats.top_ips[0].rejected, 0u);
  ASSERT_FALSE(stats.top_rejected_ips.empty());
  EXPECT_EQ(stats.top_rejected_ips[0].key, "198.51.100.9");
  EXPECT_EQ(stats.top_rejected_ips[0].rejected, 2u);
  ASSERT_FALSE(stats.top_rejected_sender_domains.empty());
  EXPECT_EQ(stats.top_rejected_sender_domains[0].key, "spam.test");
  EXPECT_EQ(stats.top_rejected_sender_domains[0].rejected, 3u);

  // Seven days, and six-hour buckets: the old one is in, everything of the last six hours in one bucket.
  auto week = last(7 * 24h);
  week.step = 6h;
  week.since = Clock::time_point(std::chrono::duration_cast<std::chrono::hours>((week.until - 7 * 24h).time_since_epoch()));
  std::uint64_t all = 0;
  for (const auto& c : store_->statistics(week).series) all += c.count;
  EXPECT_EQ(all, 8u);
}

TEST_F(StatsTest, DomainScopeCountsOnlyThatDomainsTransactions) {
  record("A1", 0, "accept", "", {"a@example.org", "b@other.test"});
  record("A2", 0, "accept", "", {"b@other.test"});
  record("R1", 2, "reject", "unknown recipient", {}, "198.51.100.9", "x@spam.test", {"<nobody@Example.ORG>: 550 no"});
  store_->flush();
  auto mine = store_->statistics(last(24h, {"example.org"}));
  auto hours = by_hour(mine);
  EXPECT_EQ(hours[0]["accept"], 1u) << "A2 has no recipient in example.org";
  EXPECT_EQ(hours[2]["reject"], 1u) << "a refused recipient counts for its domain";
  auto other = by_hour(store_->statistics(last(24h, {"other.test"})));
  EXPECT_EQ(other[0]["accept"], 2u);
  EXPECT_EQ(other.count(2), 0u);
  auto none = store_->statistics(last(24h, {"nowhere.test"}));
  EXPECT_TRUE(none.series.empty());
  EXPECT_TRUE(none.top_ips.empty());
}

TEST_F(StatsTest, ATransactionWrittenAgainCountsOnce) {
  record("Q1", 0, "accept", "", {"a@example.org"});
  store_->flush();
  record("Q1", 0, "tempfail", "backend 451", {"a@example.org"});   // the queue re-records its outcome
  store_->flush();
  auto hours = by_hour(store_->statistics(last(24h)));
  EXPECT_EQ(hours[0].count("accept"), 0u);
  EXPECT_EQ(hours[0]["tempfail"], 1u);
}

TEST_F(StatsTest, PruneDropsTheCountsOfRemovedHours) {
  record("OLD", 10, "accept", "", {"a@example.org"});
  record("NEW", 1, "accept", "", {"a@example.org"});
  store_->flush();
  EXPECT_EQ(store_->prune(base_ - 5h), 1u);
  auto hours = by_hour(store_->statistics(last(24h)));
  EXPECT_EQ(hours.count(10), 0u);
  EXPECT_EQ(hours[1]["accept"], 1u);
}

TEST_F(StatsTest, AStoreWrittenBeforeTheRollupIsCountedWhenOpened) {
  record("A1", 0, "accept", "", {"a@example.org"}, "192.0.2.1", "n@Mail.Sender.TEST");
  record("R1", 5, "reject", "dnsbl: zen", {"a@example.org", "b@example.org"});
  store_->flush();
  auto before = store_->statistics(last(24h, {"example.org"}));
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((directory_ / "store.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE stat_counts", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  open();
  auto after = store_->statistics(last(24h, {"example.org"}));
  EXPECT_EQ(by_hour(after), by_hour(before));
  ASSERT_EQ(after.top_sender_domains.size(), 2u);   // mail.sender.test and sender.test, once each
  ASSERT_EQ(before.top_sender_domains.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after.top_sender_domains[i].key, before.top_sender_domains[i].key);
    EXPECT_EQ(after.top_sender_domains[i].total, 1u);
    EXPECT_EQ(after.top_sender_domains[i].rejected, before.top_sender_domains[i].rejected);
  }
  EXPECT_EQ(after.top_rejected_ips.size(), 1u);
  EXPECT_EQ(after.reasons.size(), 1u);
  bool lowered = false;
  for (const auto& entry : after.top_sender_domains) lowered |= entry.key == "mail.sender.test";
  EXPECT_TRUE(lowered);
}

// ---------------------------------------------------------------------------------------------
// GET /api/v1/stats

class StatsApiTest : public StatsTest {
 protected:
  void SetUp() override {
    StatsTest::SetUp();
    auto config = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n", "test.toml");
    ASSERT_TRUE(config.ok()) << config.error().message;
    config_ = std::make_shared<const Config>(std::move(*config));
    api_ = std::make_unique<web::Api>(*store_, [this] { return config_; }, registry_);
    for (auto [name, role, domains] : {std::tuple{"root", "admin", std::vector<std::string>{}},
                                       std::tuple{"eve", "domain_admin", std::vector<std::string>{"example.org"}}}) {
      auto hash = web::hash_password(std::string(name) + " password!");
      ASSERT_TRUE(hash.ok());
      ASSERT_TRUE(store_->add_user(User{name, *hash, role, domains, {}}).ok());
    }
  }
  void TearDown() override {
    api_.reset();
    StatsTest::TearDown();
  }

  web::Request request(const std::string& target, const std::string& cookie = {}) {
    web::Request r;
    r.method = "GET";
    r.target = target;
    EXPECT_TRUE(web::parse_target(r.target, r.path, r.query));
    r.client_ip = "192.0.2.50";
    if (!cookie.empty()) r.headers["cookie"] = cookie;
    return r;
  }
  std::string login(const std::string& user) {
    web::Request r;
    r.method = "POST";
    r.target = r.path = "/api/v1/session";
    r.client_ip = "192.0.2.50";
    r.headers["content-type"] = "application/json";
    r.body = boost::json::serialize(boost::json::object{{"username", user}, {"password", user + " password!"}});
    auto response = api_->handle(r);
    EXPECT_EQ(response.status, 200) << response.body;
    for (auto& [name, value] : response.headers)
      if (name == "Set-Cookie") return value.substr(0, value.find(';'));
    return {};
  }
  boost::json::object get(const std::string& target, const std::string& cookie, int status = 200) {
    auto response = api_->handle(request(target, cookie));
    EXPECT_EQ(response.status, status) << target << ": " << response.body;
    return boost::json::parse(response.body).as_object();
  }

  std::shared_ptr<const Config> config_;
  metrics::Registry registry_;
  std::unique_ptr<web::Api> api_;
};

TEST_F(StatsApiTest, FiguresForAnAdministratorAndADomainAdministrator) {
  record("A1", 0, "accept", "", {"a@example.org"});
  record("A2", 0, "accept", "", {"b@other.test"});
  record("R1", 2, "reject", "relay denied", {"x@other.test"}, "198.51.100.9", "s@spam.test");
  record("G1", 2, "tempfail", "greylisted", {"a@example.org"}, "203.0.113.5");
  store_->flush();

  EXPECT_EQ(api_->handle(request("/api/v1/stats")).status, 401) << "not without a session";

  auto root = login("root");
  auto all = get("/api/v1/stats", root);
  EXPECT_EQ(all.at("range").as_string(), "24h");
  EXPECT_EQ(all.at("bucket_seconds").as_int64(), 3600);
  auto& buckets = all.at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 24u);
  // The last bucket is the hour now running: A1 and A2.
  auto& now_bucket = buckets[23].as_object();
  EXPECT_EQ(now_bucket.at("start").as_int64(), std::chrono::duration_cast<std::chrono::milliseconds>(base_.time_since_epoch()).count());
  EXPECT_EQ(now_bucket.at("counts").at("accept").as_int64(), 2);
  auto& two_ago = buckets[21].as_object();
  EXPECT_EQ(two_ago.at("counts").at("reject").as_int64(), 1);
  EXPECT_EQ(two_ago.at("counts").at("tempfail").as_int64(), 1);
  EXPECT_EQ(two_ago.at("reasons").as_array().size(), 2u);
  EXPECT_EQ(all.at("totals").at("all").as_int64(), 4);
  EXPECT_EQ(all.at("totals").at("reject").as_int64(), 1);
  EXPECT_TRUE(all.at("queue").is_null()) << "no queue in this test";
  EXPECT_EQ(all.at("top_reasons").as_array().size(), 2u);
  EXPECT_EQ(all.at("top_rejected_ips").as_array()[0].at("ip").as_string(), "198.51.100.9");

  auto eve = login("eve");
  auto mine = get("/api/v1/stats", eve);
  EXPECT_EQ(mine.at("totals").at("all").as_int64(), 2) << "A1 and G1 only";
  EXPECT_EQ(mine.at("totals").at("reject").as_int64(), 0);
  EXPECT_EQ(mine.at("domains").as_array().size(), 1u);
  for (auto& entry : mine.at("top_ips").as_array()) EXPECT_NE(entry.at("ip").as_string(), "198.51.100.9");
  get("/api/v1/stats?domain=other.test", eve, 403);
  auto theirs = get("/api/v1/stats?domain=other.test", root);
  EXPECT_EQ(theirs.at("totals").at("all").as_int64(), 2) << "A2 and R1";

  auto month = get("/api/v1/stats?range=30d", root);
  EXPECT_EQ(month.at("buckets").as_array().size(), 120u);
  EXPECT_EQ(month.at("bucket_seconds").as_int64(), 6 * 3600);
  EXPECT_EQ(month.at("totals").at("all").as_int64(), 4);
  EXPECT_EQ(get("/api/v1/stats?range=7d", root).at("buckets").as_array().size(), 168u);
  get("/api/v1/stats?range=1y", root, 400);
  get("/api/v1/stats?colour=blue", root, 400);
}

}  // namespace
}  // namespace gatehouse
