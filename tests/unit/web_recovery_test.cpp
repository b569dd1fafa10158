// Tests of the web API's recovery routes without sockets (src/web/api_recovery.cpp, api_queue.cpp):
// release, resend, train, jobs, replay and the delivery queue — who may (administrators, domain
// administrators on their domains only, 404 for another domain's message), bad input (400/409/415),
// CSRF, the 503 without the daemon's services, and deliveries run to the end on an io_context of
// the test's own into a Maildir back-end, recorded in the log row and the audit log.
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <fmt/format.h>

#include "common/id.hpp"
#include "common/metrics.hpp"
#include "config/config.hpp"
#include "delivery/queue.hpp"
#include "delivery/spool.hpp"
#include "store/store.hpp"
#include "web/api.hpp"
#include "web/auth.hpp"
#include "web/http.hpp"
#include "api_test_support.hpp"

namespace gatehouse::web {
namespace {

namespace fs = std::filesystem;

class RecoveryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/gatehouse-web-recovery-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
    auto store = open_sqlite_store((directory_ / "store.db").string());
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    const std::string maildir = (directory_ / "maildir").string();
    auto config = parse_config(fmt::format("[server]\nlisten = [\"127.0.0.1:2525\"]\nstate_dir = \"{}\"\n"
                                           "[[domain]]\nname = \"example.org\"\nbackend = \"maildir:{}\"\n"
                                           "[[domain]]\nname = \"other.test\"\nbackend = \"maildir:{}\"\n",
                                           directory_.string(), maildir, maildir),
                               "test.toml");
    ASSERT_TRUE(config.ok()) << config.error().message;
    config_ = std::make_shared<const Config>(std::move(*config));
    spool_ = std::make_unique<delivery::Spool>(config_->spool_dir());
    ASSERT_TRUE(spool_->open().ok());
    queue_ = std::make_unique<delivery::DeliveryQueue>(io_, *spool_, *store_, [this] { return config_; }, nullptr);
    add_user("root", "admin", {});
    add_user("eve", "domain_admin", {"example.org"});
    record("REJ1", {"bob@example.org"}, "reject", "rejected for example.org", 5);
    record("ACC1", {"bob@example.org"}, "accept", "accepted for example.org", 4);
    record("OTH1", {"carol@other.test"}, "reject", "rejected for other.test", 3);
    record("MIX1", {"bob@example.org", "carol@other.test"}, "reject", "rejected for both", 2);
    store_->flush();
  }
  void TearDown() override {
    api_.reset();
    queue_.reset();
    spool_.reset();
    store_.reset();
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }

  // The API with the daemon's delivery queue (or without any service).
  Api& api(bool with_queue = true) {
    if (!api_) api_ = std::make_unique<Api>(*store_, [this] { return config_; }, registry_,
                                            with_queue ? ApiServices{queue_.get(), nullptr, nullptr} : ApiServices{});
    return *api_;
  }

  void add_user(const std::string& name, const std::string& role, std::vector<std::string> domains) {
    test_support::add_test_user(*store_, name, role, std::move(domains));
  }

  void record(const std::string& id, std::vector<std::string> recipients, const std::string& disposition,
              const std::string& subject, int minutes_ago) {
    TransactionRecord r;
    r.id = id;
    r.time = Clock::now() - std::chrono::minutes(minutes_ago);
    r.client_ip = "192.0.2.7";
    r.mail_from = "sender@remote.test";
    r.recipients = std::move(recipients);
    r.subject = subject;
    r.disposition = disposition;
    r.domain = domain_of(r.recipients.front());
    store_->record(r, "Subject: " + subject + "\r\nMessage-ID: <" + id + "@remote.test>\r\n\r\nbody of " + id + "\r\n");
  }
  static std::string domain_of(const std::string& address) { return address.substr(address.find('@') + 1); }

  static Request request(std::string method, std::string target, std::string body = {}) {
    return test_support::make_request(std::move(method), std::move(target), std::move(body));
  }

  using Login = test_support::Login;
  Login login(const std::string& user) { return test_support::log_in(api(), user, user + " password!"); }

  Login login_without_queue() {
    api(false);
    return login("root");
  }

  Response call(const Login& who, std::string method, std::string target, std::string body = {}, bool with_csrf = true) {
    return api().handle(test_support::sent_by(who, request(std::move(method), std::move(target), std::move(body)), with_csrf));
  }

  static boost::json::object body(const Response& response) { return boost::json::parse(response.body).as_object(); }
  static std::string error(const Response& response) { return std::string(body(response).at("error").as_string()); }

  // Runs the event loop until the job has finished; its last state.
  boost::json::object finish(const Login& who, const std::string& job) {
    for (int i = 0; i < 200; ++i) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(10));
      auto response = call(who, "GET", "/api/v1/jobs/" + job);
      EXPECT_EQ(response.status, 200) << response.body;
      auto state = body(response);
      if (state.at("state") != "running") return state;
    }
    ADD_FAILURE() << "job " << job << " did not finish";
    return {};
  }

  std::size_t delivered_to(const std::string& recipient) {
    std::error_code ec;
    std::size_t count = 0;
    for (auto it = fs::directory_iterator(directory_ / "maildir" / recipient / "new", ec); !ec && it != fs::directory_iterator(); ++it) ++count;
    return count;
  }

  std::vector<std::string> audit_actions() {
    std::vector<std::string> out;
    for (const auto& entry : store_->audit_log(100)) out.push_back(entry.action + " " + entry.detail);
    return out;
  }

  fs::path directory_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<const Config> config_;
  boost::asio::io_context io_;
  std::unique_ptr<delivery::Spool> spool_;
  std::unique_ptr<delivery::DeliveryQueue> queue_;
  metrics::Registry registry_;
  std::unique_ptr<Api> api_;
};

TEST_F(RecoveryApiTest, EveryRecoveryRouteNeedsASessionAndEveryChangeTheCsrfToken) {
  for (const auto& route : api().routes()) {
    const bool mine = route.path.find("/release") != std::string::npos || route.path.find("/resend") != std::string::npos ||
                      route.path.find("/train") != std::string::npos || route.path.find("/jobs") != std::string::npos ||
                      route.path.find("/replay") != std::string::npos || route.path.find("/queue") != std::string::npos;
    if (!mine) continue;
    std::string path = route.path;
    if (auto at = path.find("{id}"); at != std::string::npos) path.replace(at, 4, "REJ1");
    EXPECT_TRUE(route.needs_session) << route.path;
    EXPECT_EQ(api().handle(request(route.method, path)).status, 401) << route.method << " " << route.path;
  }
  auto root = login("root");
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/api/v1/messages/REJ1/release"}, {"POST", "/api/v1/messages/ACC1/resend"},
           {"POST", "/api/v1/messages/ACC1/train"}, {"POST", "/api/v1/replay/preview"}, {"POST", "/api/v1/replay"},
           {"POST", "/api/v1/queue/retry"}, {"POST", "/api/v1/queue/X/retry"}, {"DELETE", "/api/v1/queue/X"}}) {
    auto response = call(root, method, path, R"({"as":"ham","since":"-1h"})", false);
    EXPECT_EQ(response.status, 403) << method << " " << path;
    EXPECT_EQ(error(response), "missing or wrong X-CSRF-Token header");
  }
  // Nothing was done.
  EXPECT_EQ(delivered_to("bob@example.org"), 0u);
  for (const auto& action : audit_actions())
    EXPECT_TRUE(action.rfind("message.", 0) != 0 && action.rfind("queue.", 0) != 0 && action.rfind("replay", 0) != 0) << action;
}

TEST_F(RecoveryApiTest, ReleaseDeliversTheStoredCopyAndRecordsTheOutcome) {
  auto root = login("root");
  auto started = call(root, "POST", "/api/v1/messages/REJ1/release");
  ASSERT_EQ(started.status, 202) << started.body;
  auto job = body(started);
  EXPECT_EQ(job.at("kind"), "release");
  EXPECT_EQ(job.at("state"), "running") << "the answer does not wait for the back-end";
  EXPECT_EQ(delivered_to("bob@example.org"), 0u);
  auto done = finish(root, std::string(job.at("id").as_string()));
  EXPECT_EQ(done.at("state"), "done") << boost::json::serialize(done);
  EXPECT_EQ(done.at("delivered"), true);
  EXPECT_EQ(done.at("delivery_status"), "released");
  EXPECT_NE(std::string(done.at("backend").as_string()).find("maildir:"), std::string::npos);
  EXPECT_EQ(delivered_to("bob@example.org"), 1u);
  auto row = store_->find("REJ1");
  ASSERT_TRUE(row);
  EXPECT_EQ(row->delivery_status, "released");
  EXPECT_EQ(row->delivery_attempts, 1);
  EXPECT_EQ(row->disposition, "reject") << "the original decision stays on record";
  auto audit = audit_actions();
  EXPECT_TRUE(std::any_of(audit.begin(), audit.end(), [](auto& a) { return a.rfind("message.release REJ1", 0) == 0; }));

  // An accepted message is resent, not released.
  auto refused = call(root, "POST", "/api/v1/messages/ACC1/release");
  EXPECT_EQ(refused.status, 409);
  EXPECT_NE(error(refused).find("resend"), std::string::npos) << refused.body;
  auto resent = call(root, "POST", "/api/v1/messages/ACC1/resend");
  ASSERT_EQ(resent.status, 202) << resent.body;
  EXPECT_EQ(finish(root, std::string(body(resent).at("id").as_string())).at("delivery_status"), "resent");
  EXPECT_EQ(delivered_to("bob@example.org"), 2u);
  EXPECT_EQ(call(root, "POST", "/api/v1/messages/NOPE/resend").status, 404);
}

TEST_F(RecoveryApiTest, ADomainAdministratorActsOnlyOnTheirDomains) {
  auto eve = login("eve");
  // Another domain's message does not exist for her; one shared with another domain is refused.
  EXPECT_EQ(call(eve, "POST", "/api/v1/messages/OTH1/release").status, 404);
  EXPECT_EQ(call(eve, "POST", "/api/v1/messages/OTH1/resend").status, 404);
  EXPECT_EQ(call(eve, "POST", "/api/v1/messages/OTH1/train", R"({"as":"spam"})").status, 404);
  EXPECT_EQ(call(eve, "POST", "/api/v1/messages/MIX1/release").status, 403);
  EXPECT_EQ(delivered_to("carol@other.test"), 0u);
  // Her own message she releases, and follows her job; root sees it too, she not root's.
  auto started = call(eve, "POST", "/api/v1/messages/REJ1/release");
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string job(body(started).at("id").as_string());
  EXPECT_EQ(finish(eve, job).at("state"), "done");
  auto root = login("root");
  EXPECT_EQ(call(root, "GET", "/api/v1/jobs/" + job).status, 200);
  auto roots = call(root, "POST", "/api/v1/messages/OTH1/release");
  ASSERT_EQ(roots.status, 202);
  EXPECT_EQ(call(eve, "GET", "/api/v1/jobs/" + std::string(body(roots).at("id").as_string())).status, 404);
  EXPECT_EQ(call(eve, "GET", "/api/v1/jobs/nothing").status, 404);
  // Replays: only her domains, and she has to name one.
  EXPECT_EQ(call(eve, "POST", "/api/v1/replay/preview", R"({"since":"-1h","domain":"other.test"})").status, 403);
  auto unnamed = call(eve, "POST", "/api/v1/replay/preview", R"({"since":"-1h"})");
  EXPECT_EQ(unnamed.status, 400);
  EXPECT_NE(error(unnamed).find("example.org"), std::string::npos);
  auto preview = call(eve, "POST", "/api/v1/replay/preview", R"({"since":"-1h","domain":"Example.ORG"})");
  ASSERT_EQ(preview.status, 200) << preview.body;
  EXPECT_EQ(body(preview).at("count"), 1) << "ACC1 only: rejected messages are not replayed";
  EXPECT_EQ(body(preview).at("domain"), "example.org");
}

TEST_F(RecoveryApiTest, TrainRefusesBadInputAndNeedsTheClassifier) {
  auto root = login("root");
  for (const char* bad : {R"({"as":"maybe"})", R"({})", R"({"as":1})", R"([])", R"({"as":"ham","x":1})", "not json"}) {
    auto response = call(root, "POST", "/api/v1/messages/ACC1/train", bad);
    EXPECT_EQ(response.status, 400) << bad << " " << response.body;
  }
  auto r = request("POST", "/api/v1/messages/ACC1/train", R"({"as":"ham"})");
  r.headers["content-type"] = "text/plain";
  r.headers["cookie"] = root.cookie;
  r.headers["x-csrf-token"] = root.csrf;
  EXPECT_EQ(api().handle(r).status, 415);
  auto disabled = call(root, "POST", "/api/v1/messages/ACC1/train", R"({"as":"ham"})");
  EXPECT_EQ(disabled.status, 503);
  EXPECT_NE(error(disabled).find("classifier"), std::string::npos);
}

TEST_F(RecoveryApiTest, ReplayValidatesTheWindowRunsOneAtATimeAndReportsProgress) {
  auto root = login("root");
  for (const char* bad : {R"({})", R"({"since":"yesterday-ish"})", R"({"since":"-1h","until":"-2h"})",
                          R"({"since":"-1h","colour":"blue"})", R"({"since":true})"}) {
    auto response = call(root, "POST", "/api/v1/replay/preview", bad);
    EXPECT_EQ(response.status, 400) << bad << " " << response.body;
  }
  auto all = call(root, "POST", "/api/v1/replay/preview", R"({"since":"-1h"})");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(body(all).at("count"), 1);
  record("ACC2", {"dan@example.org"}, "tag", "tagged", 1);
  record("ACC3", {"carol@other.test"}, "accept", "accepted for other.test", 1);
  store_->flush();
  EXPECT_EQ(body(call(root, "POST", "/api/v1/replay/preview", R"({"since":"-1h"})")).at("count"), 3);
  auto started = call(root, "POST", "/api/v1/replay", R"({"since":"-1h","domain":"example.org"})");
  ASSERT_EQ(started.status, 202) << started.body;
  auto job = body(started);
  EXPECT_EQ(job.at("total"), 2);
  EXPECT_EQ(job.at("done"), 0);
  auto busy = call(root, "POST", "/api/v1/replay", R"({"since":"-1h"})");
  EXPECT_EQ(busy.status, 409) << "one replay at a time";
  auto last = body(call(root, "GET", "/api/v1/replay"));
  EXPECT_EQ(last.at("running"), true);
  auto done = finish(root, std::string(job.at("id").as_string()));
  EXPECT_EQ(done.at("state"), "done") << boost::json::serialize(done);
  EXPECT_EQ(done.at("done"), 2);
  EXPECT_EQ(done.at("failed"), 0);
  EXPECT_EQ(delivered_to("bob@example.org"), 1u);
  EXPECT_EQ(delivered_to("dan@example.org"), 1u);
  EXPECT_EQ(delivered_to("carol@other.test"), 0u) << "another domain's messages are not replayed";
  EXPECT_EQ(store_->find("ACC2")->delivery_status, "replayed");
  EXPECT_EQ(call(root, "POST", "/api/v1/replay", R"({"since":"-1h","domain":"other.test"})").status, 202)
      << "the next replay may start once the first has finished";
}

TEST_F(RecoveryApiTest, WithoutTheDaemonsQueueDeliveriesAnswer503AfterTheChecks) {
  auto root = login_without_queue();
  EXPECT_EQ(call(root, "POST", "/api/v1/messages/NOPE/release").status, 404);
  EXPECT_EQ(call(root, "POST", "/api/v1/messages/ACC1/release").status, 409);
  EXPECT_EQ(call(root, "POST", "/api/v1/messages/REJ1/release").status, 503);
  EXPECT_EQ(call(root, "POST", "/api/v1/replay", R"({"since":"-1h"})").status, 503);
  EXPECT_EQ(call(root, "GET", "/api/v1/queue").status, 503);
}

TEST_F(RecoveryApiTest, QueueListsRetriesAndDeletesWithinTheCallersDomains) {
  auto root = login("root");
  auto empty = call(root, "GET", "/api/v1/queue");
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(body(empty).at("messages").as_array().size(), 0u);
  const std::string q1 = new_transaction_id(), q2 = new_transaction_id();
  for (auto [id, recipient] : std::vector<std::pair<std::string, std::string>>{{q1, "bob@example.org"}, {q2, "carol@other.test"}}) {
    delivery::SpoolEnvelope envelope;
    envelope.id = id;
    envelope.mail_from = "sender@remote.test";
    envelope.recipients = {recipient};
    envelope.backend = "smtp:127.0.0.1:9";
    envelope.attempts = 3;
    ASSERT_TRUE(spool_->store_blocking(envelope, "Subject: queued\r\n\r\nbody\r\n").ok());
    queue_->schedule(id, std::chrono::hours(1));
  }
  auto listing = body(call(root, "GET", "/api/v1/queue"));
  ASSERT_EQ(listing.at("messages").as_array().size(), 2u);
  auto first = listing.at("messages").as_array()[0].as_object();
  EXPECT_EQ(first.at("attempts"), 3);
  EXPECT_TRUE(first.at("next_attempt").is_int64());
  EXPECT_GT(first.at("next_attempt").as_int64(), std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count() + 3000 * 1000);

  auto eve = login("eve");
  auto hers = body(call(eve, "GET", "/api/v1/queue"));
  ASSERT_EQ(hers.at("messages").as_array().size(), 1u);
  EXPECT_EQ(std::string(hers.at("messages").as_array()[0].at("id").as_string()), q1);
  EXPECT_EQ(call(eve, "DELETE", "/api/v1/queue/" + q2).status, 404);
  EXPECT_EQ(call(eve, "POST", "/api/v1/queue/" + q2 + "/retry").status, 404);
  EXPECT_EQ(call(root, "DELETE", "/api/v1/queue/a.b").status, 404) << "not an ID";
  EXPECT_EQ(call(root, "DELETE", "/api/v1/queue/NOTQUEUED").status, 404);
  EXPECT_TRUE(fs::exists(config_->spool_dir()));

  ASSERT_EQ(call(eve, "POST", "/api/v1/queue/" + q1 + "/retry").status, 202);
  auto due = body(call(eve, "GET", "/api/v1/queue")).at("messages").as_array()[0].at("next_attempt").as_int64();
  EXPECT_LE(due, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count() + 1000);
  EXPECT_EQ(body(call(eve, "POST", "/api/v1/queue/retry")).at("retrying"), 1) << "hers only";

  auto deleted = call(eve, "DELETE", "/api/v1/queue/" + q1);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_NE(std::string(body(deleted).at("note").as_string()).find("stays stored"), std::string::npos);
  EXPECT_EQ(body(call(root, "GET", "/api/v1/queue")).at("messages").as_array().size(), 1u);
  EXPECT_FALSE(spool_->contains(q1));
  auto audit = audit_actions();
  for (const std::string action : {"queue.retry " + q1, std::string("queue.retry_all"), "queue.delete " + q1})
    EXPECT_TRUE(std::any_of(audit.begin(), audit.end(), [&](auto& a) { return a.rfind(action, 0) == 0; })) << action;
}

}  // namespace
}  // namespace gatehouse::web
