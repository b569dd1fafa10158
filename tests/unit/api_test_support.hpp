// The API test fixture (tests/unit/web_*_test.cpp): the API over a real SQLite store in a temporary
// directory, with an administrator "root" and a domain administrator "eve" of example.org (their
// passwords: the name + " password!"), three logged transactions (MSG1 for example.org, MSG2 and
// MSG3 for other.test), and helpers to log in and send requests as someone.
#pragma once
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <set>

#include "common/metrics.hpp"
#include "config/config.hpp"
#include "store/store.hpp"
#include "web/api.hpp"
#include "web/auth.hpp"
#include "web/http.hpp"

namespace gatehouse::web::test_support {

// An account whose password is its name + " password!".
inline void add_test_user(Store& store, const std::string& name, const std::string& role, std::vector<std::string> domains) {
  auto hash = hash_password(name + " password!");
  ASSERT_TRUE(hash.ok());
  ASSERT_TRUE(store.add_user(User{name, *hash, role, std::move(domains), {}}).ok());
}

// A request from 192.0.2.50; a body is JSON.
inline Request make_request(std::string method, std::string target, std::string body = {}) {
  Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  EXPECT_TRUE(parse_target(r.target, r.path, r.query));
  r.body = std::move(body);
  r.client_ip = "192.0.2.50";
  if (!r.body.empty()) r.headers["content-type"] = "application/json";
  return r;
}

// A session's cookie and CSRF token.
struct Login {
  std::string cookie, csrf;
};
inline Login log_in(Api& api, const std::string& user, const std::string& password) {
  auto response = api.handle(make_request("POST", "/api/v1/session",
                                          boost::json::serialize(boost::json::object{{"username", user}, {"password", password}})));
  EXPECT_EQ(response.status, 200) << response.body;
  Login result;
  for (auto& [name, value] : response.headers)
    if (name == "Set-Cookie") result.cookie = value.substr(0, value.find(';'));
  if (response.status == 200) result.csrf = std::string(boost::json::parse(response.body).at("csrf_token").as_string());
  return result;
}

// `r` sent by `who` (with the CSRF token unless told otherwise).
inline Request sent_by(const Login& who, Request r, bool with_csrf = true) {
  r.headers["cookie"] = who.cookie;
  if (with_csrf) r.headers["x-csrf-token"] = who.csrf;
  return r;
}

class ApiTest : public ::testing::Test {
 protected:
  // The configuration file's text (a test may add domains, lists, …).
  virtual std::string config_text() const {
    return "[server]\nlisten = [\"127.0.0.1:2525\"]\n[web]\nlogin_max_failures = 3\nmetrics_networks = [\"10.0.0.0/8\"]\n";
  }

  void SetUp() override {
    char pattern[] = "/tmp/gatehouse-web-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
    auto store = open_sqlite_store((directory_ / "store.db").string());
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    auto config = parse_config(config_text(), "test.toml");
    ASSERT_TRUE(config.ok()) << config.error().message;
    config_ = std::make_shared<const Config>(std::move(*config));
    api_ = std::make_unique<Api>(*store_, [this] { return config_; }, registry_);
    api_->set_clock([this] { return now_; });
    add_user("root", "admin", {});
    add_user("eve", "domain_admin", {"example.org"});
    record("MSG1", "bob@example.org", "for example.org", 3);
    record("MSG2", "carol@other.test", "for other.test <script>", 2);
    record("MSG3", "dave@other.test", "also other", 1);
    store_->flush();
  }
  void TearDown() override {
    api_.reset();
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  void add_user(const std::string& name, const std::string& role, std::vector<std::string> domains) {
    add_test_user(*store_, name, role, std::move(domains));
  }

  void record(const std::string& id, const std::string& recipient, const std::string& subject, int minutes_ago) {
    TransactionRecord r;
    r.id = id;
    r.time = Clock::now() - std::chrono::minutes(minutes_ago);
    r.client_ip = "192.0.2.7";
    r.mail_from = "sender@remote.test";
    r.recipients = {recipient};
    r.subject = subject;
    r.disposition = "accept";
    r.score = 1.5;
    r.checks = {{"helo", 1.5, "helo_not_fqdn"}};
    store_->record(r, "Subject: " + subject + "\r\nX-Test: yes\r\n\r\nbody\r\n");
  }

  using Login = test_support::Login;
  static Request request(std::string method, std::string target, std::string body = {}) {
    return make_request(std::move(method), std::move(target), std::move(body));
  }
  Login login(const std::string& user, const std::string& password) { return log_in(*api_, user, password); }
  static Request as(const Login& who, Request r, bool with_csrf = true) { return sent_by(who, std::move(r), with_csrf); }

  static std::string header(const Response& response, const std::string& name) {
    for (auto& [n, v] : response.headers)
      if (n == name) return v;
    return {};
  }

  std::set<std::string> ids(const Response& response) {
    std::set<std::string> out;
    auto parsed = boost::json::parse(response.body);
    for (auto& m : parsed.at("messages").as_array()) out.insert(std::string(m.at("id").as_string()));
    return out;
  }

  std::filesystem::path directory_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<const Config> config_;
  metrics::Registry registry_;
  std::unique_ptr<Api> api_;
  LoginLimiter::Clock::time_point now_ = LoginLimiter::Clock::now();
};

}  // namespace gatehouse::web::test_support
