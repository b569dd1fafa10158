// Tests of the web administration without sockets (src/web): the API's routing, authentication by
// session cookie, CSRF tokens, the login rate limit, domain administrators' view, the OpenAPI
// document against the route table; the auth helpers (cookies, tokens, passwords); the metrics
// registry and its Prometheus text format (src/common/metrics.*).
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <set>
#include <thread>

#include "common/metrics.hpp"
#include "config/config.hpp"
#include "store/store.hpp"
#include "web/api.hpp"
#include "web/auth.hpp"
#include "web/http.hpp"
#include "api_test_support.hpp"

namespace gatehouse::web {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Helpers

TEST(WebAuth, CookieValueFindsTheNamedPair) {
  EXPECT_EQ(cookie_value("a=1; gatehouse_session=xyz; b=2", "gatehouse_session"), "xyz");
  EXPECT_EQ(cookie_value("gatehouse_session=\"q\"", "gatehouse_session"), "q");
  EXPECT_EQ(cookie_value("xgatehouse_session=1", "gatehouse_session"), std::nullopt);
  EXPECT_EQ(cookie_value("", "gatehouse_session"), std::nullopt);
  EXPECT_EQ(cookie_value("a=1;gatehouse_session=z", "gatehouse_session"), "z");
}

TEST(WebAuth, SessionCookieAttributes) {
  auto plain = session_cookie("abc", 3600s, false);
  EXPECT_EQ(plain, "gatehouse_session=abc; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict");
  auto secure = session_cookie("abc", 3600s, true);
  EXPECT_NE(secure.find("; Secure"), std::string::npos);
  EXPECT_NE(session_cookie("", 3600s, false).find("Max-Age=0"), std::string::npos);
}

TEST(WebAuth, TokensAreRandomAndHashed) {
  auto a = random_token(), b = random_token();
  EXPECT_EQ(a.size(), 43u);   // 256 bits in base64url without padding
  EXPECT_NE(a, b);
  EXPECT_EQ(token_hash(a).size(), 64u);
  EXPECT_EQ(token_hash(a), token_hash(a));
  EXPECT_NE(token_hash(a), token_hash(b));
  EXPECT_TRUE(equal_secret(a, a));
  EXPECT_FALSE(equal_secret(a, b));
  EXPECT_FALSE(equal_secret("", ""));
}

TEST(WebAuth, PasswordsHashWithArgon2id) {
  auto hash = hash_password("correct horse battery");
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
  EXPECT_TRUE(verify_password(*hash, "correct horse battery"));
  EXPECT_FALSE(verify_password(*hash, "correct horse batterY"));
  EXPECT_FALSE(verify_password("not a hash", "x"));
  EXPECT_NE(password_problem("short"), "");
  EXPECT_NE(password_problem("with a\nline break"), "");
  EXPECT_EQ(password_problem("long enough password"), "");
  EXPECT_TRUE(valid_username("alice"));
  EXPECT_TRUE(valid_username("ops.team@example.org"));
  EXPECT_FALSE(valid_username(""));
  EXPECT_FALSE(valid_username("-rf"));
  EXPECT_FALSE(valid_username("a b"));
}

TEST(WebAuth, LimiterCountsPerIpAndPerUserInAWindow) {
  LoginLimiter limiter(3, 60s);
  auto t = LoginLimiter::Clock::now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(limiter.blocked("192.0.2.1", "root", t));
    limiter.failed("192.0.2.1", "root", t);
  }
  auto wait = limiter.blocked("192.0.2.1", "root", t);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 60s);
  // The same user from elsewhere is limited too (per user), and so is another user from here (per IP).
  EXPECT_TRUE(limiter.blocked("198.51.100.9", "root", t));
  EXPECT_TRUE(limiter.blocked("192.0.2.1", "alice", t));
  EXPECT_FALSE(limiter.blocked("198.51.100.9", "alice", t));
  // The window slides.
  EXPECT_FALSE(limiter.blocked("192.0.2.1", "root", t + 61s));
  limiter.failed("198.51.100.9", "bob", t);
  limiter.succeeded("bob");
  EXPECT_FALSE(limiter.blocked("203.0.113.1", "bob", t));
}

TEST(WebHttp, TargetsDecode) {
  std::string path;
  std::map<std::string, std::string> query;
  ASSERT_TRUE(parse_target("/api/v1/messages?subject=a+b%26c&limit=5&flag", path, query));
  EXPECT_EQ(path, "/api/v1/messages");
  EXPECT_EQ(query["subject"], "a b&c");
  EXPECT_EQ(query["limit"], "5");
  EXPECT_EQ(query.count("flag"), 1u);
  ASSERT_TRUE(parse_target("/api/v1/messages/AB%43", path, query));
  EXPECT_EQ(path, "/api/v1/messages/ABC");
  EXPECT_FALSE(parse_target("http://example.org/", path, query));
  EXPECT_FALSE(parse_target("/a%zz", path, query));
  EXPECT_FALSE(parse_target("/a%00b", path, query));
  EXPECT_FALSE(parse_target("/a%4", path, query));
}

TEST(WebHttp, JsonIsValidUtf8AndEscaped) {
  auto response = Response::json(200, boost::json::object{{"subject", "<script>alert(1)</script> \xff\xfe ok \xc3\xa9"}});
  auto parsed = boost::json::parse(response.body);
  EXPECT_EQ(std::string(parsed.at("subject").as_string()), "<script>alert(1)</script> \xef\xbf\xbd\xef\xbf\xbd ok \xc3\xa9");
  EXPECT_EQ(to_valid_utf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") << "a surrogate is not UTF-8";
  EXPECT_EQ(to_valid_utf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd") << "nor an overlong form";
}

// ---------------------------------------------------------------------------------------------
// The API against a real SQLite store in a temporary directory

using test_support::ApiTest;

TEST_F(ApiTest, EveryRouteButThePublicOnesNeedsASession) {
  for (const auto& route : api_->routes()) {
    std::string path = route.path;
    if (auto at = path.find("{id}"); at != std::string::npos) path.replace(at, 4, "MSG1");
    auto response = api_->handle(request(route.method, path));
    if (route.needs_session) {
      EXPECT_EQ(response.status, 401) << route.method << " " << route.path;
      EXPECT_EQ(std::string(boost::json::parse(response.body).at("error").as_string()), "not logged in");
    } else if (route.path != "/metrics") {   // /metrics: see MetricsAreOpenToMetricsNetworksOnly
      EXPECT_NE(response.status, 401) << route.method << " " << route.path;
    }
  }
  EXPECT_EQ(api_->handle(request("GET", "/api/v1/nothing")).status, 404);
  auto wrong_method = api_->handle(request("PUT", "/api/v1/messages"));
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(header(wrong_method, "Allow"), "GET");
  // A made-up cookie is no session.
  auto forged = request("GET", "/api/v1/session");
  forged.headers["cookie"] = "gatehouse_session=" + random_token();
  EXPECT_EQ(api_->handle(forged).status, 401);
}

TEST_F(ApiTest, LoginSetsAHardenedCookieAndTheSessionAnswers) {
  auto response = api_->handle(request("POST", "/api/v1/session", R"({"username":"root","password":"root password!"})"));
  ASSERT_EQ(response.status, 200) << response.body;
  auto cookie = header(response, "Set-Cookie");
  EXPECT_EQ(cookie.rfind("gatehouse_session=", 0), 0u);
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "not over plain HTTP";
  auto body = boost::json::parse(response.body);
  EXPECT_EQ(body.at("username"), "root");
  EXPECT_EQ(body.at("role"), "admin");
  // The cookie's value is not what the store keeps.
  std::string token = cookie.substr(18, cookie.find(';') - 18);
  EXPECT_FALSE(store_->find_session(token));
  EXPECT_TRUE(store_->find_session(token_hash(token)));

  Login root{cookie.substr(0, cookie.find(';')), std::string(body.at("csrf_token").as_string())};
  auto who = api_->handle(as(root, request("GET", "/api/v1/session"), false));
  ASSERT_EQ(who.status, 200);
  EXPECT_EQ(boost::json::parse(who.body).at("csrf_token"), body.at("csrf_token"));

  auto secure = request("POST", "/api/v1/session", R"({"username":"root","password":"root password!"})");
  secure.secure = true;
  EXPECT_NE(header(api_->handle(secure), "Set-Cookie").find("; Secure"), std::string::npos);
}

TEST_F(ApiTest, BadLoginsAreRefusedThenRateLimited) {
  auto attempt = [&](const std::string& user, const std::string& password, const std::string& ip = "192.0.2.50") {
    auto r = request("POST", "/api/v1/session",
                     boost::json::serialize(boost::json::object{{"username", user}, {"password", password}}));
    r.client_ip = ip;
    return api_->handle(r);
  };
  // Per user name: three failures from three addresses.
  EXPECT_EQ(attempt("root", "wrong", "192.0.2.1").status, 401);
  EXPECT_EQ(attempt("root", "wrong", "192.0.2.2").status, 401);
  EXPECT_EQ(attempt("ROOT", "wrong", "192.0.2.3").status, 401) << "user names are counted without case";
  auto limited = attempt("root", "root password!", "192.0.2.4");
  EXPECT_EQ(limited.status, 429) << "even the right password waits";
  EXPECT_GE(std::stoi(header(limited, "Retry-After")), 1);
  // Per client IP: three failures for names that do not exist.
  for (const char* name : {"nobody", "admin", "postmaster"}) EXPECT_EQ(attempt(name, "x", "192.0.2.9").status, 401);
  EXPECT_EQ(attempt("eve", "eve password!", "192.0.2.9").status, 429);
  EXPECT_EQ(attempt("eve", "eve password!", "192.0.2.10").status, 200) << "others from elsewhere are not limited";
  now_ += 301s;
  EXPECT_EQ(attempt("root", "root password!", "192.0.2.4").status, 200);

  auto not_json = request("POST", "/api/v1/session", R"({"username":"root","password":"x"})");
  not_json.headers["content-type"] = "text/plain";
  EXPECT_EQ(api_->handle(not_json).status, 415);
  EXPECT_EQ(api_->handle(request("POST", "/api/v1/session", R"({"username":"root"})")).status, 400);
  EXPECT_EQ(api_->handle(request("POST", "/api/v1/session", "not json")).status, 400);
}

TEST_F(ApiTest, ChangesNeedTheCsrfToken) {
  auto root = login("root", "root password!");
  auto without = api_->handle(as(root, request("DELETE", "/api/v1/session"), false));
  EXPECT_EQ(without.status, 403);
  auto wrong = as(root, request("DELETE", "/api/v1/session"), false);
  wrong.headers["x-csrf-token"] = random_token();
  EXPECT_EQ(api_->handle(wrong).status, 403);
  EXPECT_EQ(api_->handle(as(root, request("GET", "/api/v1/session"), false)).status, 200) << "still logged in";
  auto logout = api_->handle(as(root, request("DELETE", "/api/v1/session")));
  EXPECT_EQ(logout.status, 204);
  EXPECT_NE(header(logout, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(api_->handle(as(root, request("GET", "/api/v1/session"), false)).status, 401);
  // Both are in the audit log.
  auto entries = store_->audit_log(10);
  ASSERT_GE(entries.size(), 2u);
  EXPECT_EQ(entries[0].action, "logout");
  EXPECT_EQ(entries[1].action, "login");
  EXPECT_EQ(entries[0].client_ip, "192.0.2.50");
}

TEST_F(ApiTest, SearchPagesWithACursor) {
  auto root = login("root", "root password!");
  auto first = api_->handle(as(root, request("GET", "/api/v1/messages?limit=2")));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(ids(first), (std::set<std::string>{"MSG3", "MSG2"}));
  auto next = boost::json::parse(first.body).at("next");
  ASSERT_TRUE(next.is_string());
  auto second = api_->handle(as(root, request("GET", "/api/v1/messages?limit=2&before=" + std::string(next.as_string()))));
  EXPECT_EQ(ids(second), (std::set<std::string>{"MSG1"}));
  EXPECT_TRUE(boost::json::parse(second.body).at("next").is_null());

  EXPECT_EQ(ids(api_->handle(as(root, request("GET", "/api/v1/messages?recipient=other.test")))),
            (std::set<std::string>{"MSG2", "MSG3"}));
  EXPECT_EQ(ids(api_->handle(as(root, request("GET", "/api/v1/messages?subject=%3Cscript%3E")))),
            (std::set<std::string>{"MSG2"}));
  EXPECT_EQ(api_->handle(as(root, request("GET", "/api/v1/messages?from=-2m30s"))).status, 400)
      << "a time it cannot read is refused, not ignored";
  EXPECT_EQ(ids(api_->handle(as(root, request("GET", "/api/v1/messages?from=-150s")))),
            (std::set<std::string>{"MSG2", "MSG3"}));
  EXPECT_EQ(api_->handle(as(root, request("GET", "/api/v1/messages?limit=0"))).status, 400);
  EXPECT_EQ(api_->handle(as(root, request("GET", "/api/v1/messages?disposition=maybe"))).status, 400);
  EXPECT_EQ(api_->handle(as(root, request("GET", "/api/v1/messages?colour=red"))).status, 400);
  EXPECT_EQ(api_->handle(as(root, request("GET", "/api/v1/messages?before=junk"))).status, 400);
}

TEST_F(ApiTest, DomainAdministratorsSeeOnlyTheirDomains) {
  auto eve = login("eve", "eve password!");
  EXPECT_EQ(ids(api_->handle(as(eve, request("GET", "/api/v1/messages")))), (std::set<std::string>{"MSG1"}));
  EXPECT_EQ(ids(api_->handle(as(eve, request("GET", "/api/v1/messages?recipient=other.test")))), (std::set<std::string>{}));
  EXPECT_EQ(api_->handle(as(eve, request("GET", "/api/v1/messages/MSG2"))).status, 404);
  EXPECT_EQ(api_->handle(as(eve, request("GET", "/api/v1/messages/MSG2/raw"))).status, 404);
  EXPECT_EQ(api_->handle(as(eve, request("GET", "/api/v1/messages/MSG1"))).status, 200);
  EXPECT_EQ(api_->handle(as(eve, request("GET", "/api/v1/audit"))).status, 403);
  auto root = login("root", "root password!");
  EXPECT_EQ(api_->handle(as(root, request("GET", "/api/v1/audit"))).status, 200);
  EXPECT_EQ(ids(api_->handle(as(root, request("GET", "/api/v1/messages")))).size(), 3u);
}

TEST_F(ApiTest, DetailAndRawSource) {
  auto root = login("root", "root password!");
  auto detail = api_->handle(as(root, request("GET", "/api/v1/messages/MSG2")));
  ASSERT_EQ(detail.status, 200) << detail.body;
  auto json = boost::json::parse(detail.body);
  EXPECT_EQ(json.at("subject"), "for other.test <script>");
  EXPECT_EQ(json.at("checks").as_array().at(0).at("detail"), "helo_not_fqdn");
  EXPECT_EQ(json.at("headers").as_array().at(1).at("name"), "X-Test");
  EXPECT_EQ(header(detail, "X-Content-Type-Options"), "nosniff");
  auto raw = api_->handle(as(root, request("GET", "/api/v1/messages/MSG2/raw")));
  ASSERT_EQ(raw.status, 200);
  EXPECT_EQ(raw.content_type, "message/rfc822");
  EXPECT_EQ(raw.body, "Subject: for other.test <script>\r\nX-Test: yes\r\n\r\nbody\r\n");
  EXPECT_NE(header(raw, "Content-Disposition").find("MSG2.eml"), std::string::npos);
  EXPECT_EQ(api_->handle(as(root, request("GET", "/api/v1/messages/NOPE"))).status, 404);
}

TEST_F(ApiTest, MetricsAreOpenToMetricsNetworksOnly) {
  registry_.counter("test_total", "a test counter").with({}).inc(7);
  auto outside = request("GET", "/metrics");
  EXPECT_EQ(api_->handle(outside).status, 401);
  auto inside = request("GET", "/metrics");
  inside.client_ip = "10.1.2.3";
  auto response = api_->handle(inside);
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_NE(response.body.find("test_total 7\n"), std::string::npos) << response.body;
  auto root = login("root", "root password!");
  EXPECT_EQ(api_->handle(as(root, request("GET", "/metrics"))).status, 200);
  auto eve = login("eve", "eve password!");
  EXPECT_EQ(api_->handle(as(eve, request("GET", "/metrics"))).status, 403) << "the figures cover every domain";
}

TEST_F(ApiTest, AdministratorsManageAccounts) {
  auto root = login("root", "root password!");
  auto eve = login("eve", "eve password!");
  auto body = [](std::string name, std::string password, std::vector<std::string> domains = {}) {
    boost::json::object o{{"username", name}, {"password", password}};
    if (!domains.empty()) o["domains"] = boost::json::value_from(domains);
    return boost::json::serialize(o);
  };
  // A domain administrator may neither list nor add nor remove.
  EXPECT_EQ(api_->handle(as(eve, request("GET", "/api/v1/users"))).status, 403);
  EXPECT_EQ(api_->handle(as(eve, request("POST", "/api/v1/users", body("mallory", "long enough password")))).status, 403);
  EXPECT_EQ(api_->handle(as(eve, request("DELETE", "/api/v1/users/root"))).status, 403);
  EXPECT_TRUE(store_->find_user("root"));
  // Without the CSRF token nothing changes.
  EXPECT_EQ(api_->handle(as(root, request("POST", "/api/v1/users", body("frank", "long enough password")), false)).status, 403);
  EXPECT_FALSE(store_->find_user("frank"));

  // Bad input: clear 400s, nothing added.
  auto refused = [&](std::string text, std::string expected) {
    auto response = api_->handle(as(root, request("POST", "/api/v1/users", text)));
    EXPECT_EQ(response.status, 400) << text;
    EXPECT_NE(response.body.find(expected), std::string::npos) << response.body;
  };
  refused(body("-frank", "long enough password"), "username");
  refused(body("frank", "short"), "password");
  refused(body("frank", "long enough password", {"not a domain"}), "not a domain");
  refused("{\"username\": 5}", "expected");
  EXPECT_FALSE(store_->find_user("frank"));

  auto added = api_->handle(as(root, request("POST", "/api/v1/users", body("frank", "long enough password", {"Example.ORG"}))));
  ASSERT_EQ(added.status, 201) << added.body;
  auto account = boost::json::parse(added.body);
  EXPECT_EQ(account.at("role").as_string(), "domain_admin");
  EXPECT_EQ(account.at("domains").as_array().at(0).as_string(), "example.org");
  EXPECT_EQ(added.body.find("argon2"), std::string::npos);
  EXPECT_EQ(api_->handle(as(root, request("POST", "/api/v1/users", body("frank", "another long password")))).status, 409);
  // The new account logs in and sees its domain only.
  auto frank = login("frank", "long enough password");
  EXPECT_EQ(ids(api_->handle(as(frank, request("GET", "/api/v1/messages")))), std::set<std::string>{"MSG1"});

  auto listed = api_->handle(as(root, request("GET", "/api/v1/users")));
  ASSERT_EQ(listed.status, 200);
  std::set<std::string> names;
  auto accounts = boost::json::parse(listed.body);
  for (auto& u : accounts.at("users").as_array()) names.insert(std::string(u.at("username").as_string()));
  EXPECT_EQ(names, (std::set<std::string>{"root", "eve", "frank"}));
  EXPECT_EQ(listed.body.find("argon2"), std::string::npos) << "never the hashes";

  // One's own account stays; another's goes, with its sessions.
  EXPECT_EQ(api_->handle(as(root, request("DELETE", "/api/v1/users/root"))).status, 409);
  EXPECT_EQ(api_->handle(as(root, request("DELETE", "/api/v1/users/nobody"))).status, 404);
  EXPECT_EQ(api_->handle(as(root, request("DELETE", "/api/v1/users/frank"))).status, 204);
  EXPECT_FALSE(store_->find_user("frank"));
  EXPECT_EQ(api_->handle(as(frank, request("GET", "/api/v1/messages"))).status, 401);

  std::vector<std::string> actions;
  for (auto& entry : store_->audit_log(10))
    if (entry.username == "root") actions.push_back(entry.action + " " + entry.detail);
  ASSERT_GE(actions.size(), 2u);
  EXPECT_EQ(actions[0], "user.remove frank");
  EXPECT_EQ(actions[1], "user.add frank (domain administrator of example.org)");
}

TEST_F(ApiTest, TheOpenApiDocumentListsExactlyTheRoutes) {
  auto response = api_->handle(request("GET", "/api/v1/openapi.json"));
  ASSERT_EQ(response.status, 200);
  auto document = boost::json::parse(response.body).as_object();
  EXPECT_EQ(std::string(document.at("openapi").as_string()).rfind("3.0", 0), 0u);
  std::set<std::string> documented, routed;
  for (auto& [path, operations] : document.at("paths").as_object()) {
    for (auto& [method, operation] : operations.as_object()) {
      std::string upper(method);
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(upper + " " + std::string(path));
      // Public exactly where the document says "security": [].
      const auto* security = operation.as_object().if_contains("security");
      const bool open = security && security->as_array().empty();
      for (const auto& route : api_->routes()) {
        if (route.method == upper && route.path == std::string(path)) {
          EXPECT_EQ(open, !route.needs_session) << upper << " " << path;
        }
      }
    }
  }
  for (const auto& route : api_->routes()) routed.insert(route.method + " " + route.path);
  EXPECT_EQ(documented, routed);
}

// ---------------------------------------------------------------------------------------------
// [web] in the configuration

TEST(WebConfig, DefaultsAndErrorsNamingFileLineAndKey) {
  auto defaults = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n", "d.toml");
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  EXPECT_TRUE(defaults->web.enabled);
  ASSERT_EQ(defaults->web.listeners.size(), 1u);
  EXPECT_EQ(defaults->web.listeners[0].text, "127.0.0.1:8080");
  EXPECT_EQ(defaults->web.session_lifetime, std::chrono::hours(12));
  EXPECT_EQ(defaults->web.max_body_size, 1024u * 1024u);
  EXPECT_TRUE(in_networks(defaults->web.metrics_networks, "127.0.0.1"));
  EXPECT_FALSE(in_networks(defaults->web.metrics_networks, "192.0.2.1"));

  auto bad = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n[web]\n"
                          "listen = [\"localhost:80\"]\n"        // line 4
                          "max_body_size = \"lots\"\n"            // line 5
                          "tls_certificate = \"/etc/web.crt\"\n"  // line 6
                          "session_lifetime = \"1s\"\n"           // line 7
                          "colour = \"blue\"\n",                   // line 8
                          "bad.toml");
  ASSERT_FALSE(bad.ok());
  const std::string& message = bad.error().message;
  EXPECT_NE(message.find("bad.toml:4: web.listen"), std::string::npos) << message;
  EXPECT_NE(message.find("bad.toml:5: web.max_body_size"), std::string::npos) << message;
  EXPECT_NE(message.find("bad.toml:6: web.tls_certificate"), std::string::npos) << message;
  EXPECT_NE(message.find("bad.toml:7: web.session_lifetime"), std::string::npos) << message;
  EXPECT_NE(message.find("bad.toml:8: web.colour: unknown key"), std::string::npos) << message;

  auto clash = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n[web]\nlisten = [\"127.0.0.1:2525\"]\n", "c.toml");
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.error().message.find("c.toml:4: web.listen"), std::string::npos) << clash.error().message;
  auto off = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n[web]\nenabled = false\n", "o.toml");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->web.enabled);
}

// ---------------------------------------------------------------------------------------------
// Metrics

TEST(Metrics, TextFormat) {
  metrics::Registry registry;
  auto& messages = registry.counter("m_total", "Messages\nby outcome", {"disposition", "reason"});
  messages.with({"reject", "dnsbl"}).inc();
  messages.with({"reject", "dnsbl"}).inc(2);
  messages.with({"accept", "say \"hi\"\\"}).inc();
  auto& gauge = registry.gauge("g", "A gauge");
  gauge.with({}).set(2.5);
  auto& latency = registry.histogram("t_seconds", "Latency", {}, {0.1, 1});
  latency.with({}).observe(0.05);
  latency.with({}).observe(0.5);
  latency.with({}).observe(5);
  double depth = 4;
  auto handle = registry.gauge_callback("q", "Queue", [&] { return depth; });
  std::string text = registry.render();
  EXPECT_NE(text.find("# HELP m_total Messages\\nby outcome\n# TYPE m_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("m_total{disposition=\"reject\",reason=\"dnsbl\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("m_total{disposition=\"accept\",reason=\"say \\\"hi\\\"\\\\\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE g gauge\ng 2.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE t_seconds histogram\n"
                      "t_seconds_bucket{le=\"0.1\"} 1\n"
                      "t_seconds_bucket{le=\"1\"} 2\n"
                      "t_seconds_bucket{le=\"+Inf\"} 3\n"
                      "t_seconds_sum 5.55\n"
                      "t_seconds_count 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE q gauge\nq 4\n"), std::string::npos) << text;
  {
    auto gone = std::move(handle);
  }
  EXPECT_EQ(registry.render().find("\nq "), std::string::npos) << "the callback ends with its handle";
}

TEST(Metrics, LabelsBeyondCapacityAreOther) {
  metrics::CounterFamily family("f_total", "help", {"reason"}, nullptr, 4);
  for (int i = 0; i < 10; ++i) family.with({std::to_string(i)}).inc();
  std::map<std::string, std::uint64_t> seen;
  family.for_each([&](const std::vector<std::string>& values, const metrics::Counter& counter) {
    seen[values.at(0)] = counter.value();
  });
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen["other"], 6u);
  EXPECT_EQ(seen["0"], 1u);
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  metrics::CounterFamily family("c_total", "help", {"k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) family.with({std::to_string(i % 7)}).inc();
    });
  for (auto& thread : threads) thread.join();
  std::uint64_t total = 0;
  std::size_t series = 0;
  family.for_each([&](const std::vector<std::string>&, const metrics::Counter& counter) {
    total += counter.value();
    ++series;
  });
  EXPECT_EQ(total, 40000u);
  EXPECT_EQ(series, 7u) << "no label set created twice";
}

}  // namespace
}  // namespace gatehouse::web
