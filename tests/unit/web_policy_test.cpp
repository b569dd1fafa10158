// Tests of policy changed at run time: the lists and settings laid over the configuration file
// (engine/runtime_policy.hpp) and the API's domain, address, list and settings routes
// (src/web/api_domains.cpp, api_lists.cpp) — who may do what, bad input, what the gateway then has
// in force (the domain table and configuration the next transaction sees).
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "api_test_support.hpp"
#include "engine/policy.hpp"
#include "engine/runtime_policy.hpp"

namespace gatehouse::web {
namespace {

namespace json = boost::json;

class PolicyApiTest : public test_support::ApiTest {
 protected:
  std::string config_text() const override {
    return test_support::ApiTest::config_text() +
           "[lists]\nwhitelist = [\"partner.test\"]\n"
           "[[dnsbl]]\nzone = \"zen.example\"\n"
           "[[domain]]\nname = \"example.org\"\nbackend = \"smtp:127.0.0.1:2526\"\naddresses = [\"alice@example.org\"]\n"
           "reject_threshold = 12\n[domain.lists]\nblacklist = [\"file-bad.test\"]\n"
           "[[domain]]\nname = \"other.test\"\nbackend = \"smtp:127.0.0.1:2527\"\n";
  }

  // What the gateway would have in force now (it rebuilds this when the state generation moves).
  Config in_force() { return engine::with_runtime_policy(*config_, *store_); }
  std::shared_ptr<const DomainTable> table() {
    auto config = in_force();
    return build_domain_table(config, store_.get());
  }

  Response send(const Login& who, const std::string& method, const std::string& target, const json::value& body) {
    return api_->handle(as(who, request(method, target, json::serialize(body))));
  }
  Response get(const Login& who, const std::string& target) { return api_->handle(as(who, request("GET", target))); }
};

TEST(RuntimePolicy, ListEntriesAreCheckedLikeTheFilesAndRoundTrip) {
  EXPECT_TRUE(engine::validate_list_entry("whitelist", "partner.example").ok());
  EXPECT_TRUE(engine::validate_list_entry("whitelist", "192.0.2.0/24").ok());
  EXPECT_TRUE(engine::validate_list_entry("blacklist", "*@*.bad.example").ok());
  EXPECT_TRUE(engine::validate_list_entry("blacklist", "boss@supplier.example").ok());
  EXPECT_FALSE(engine::validate_list_entry("whitelist", "two words").ok());
  EXPECT_FALSE(engine::validate_list_entry("whitelist", "192.0.2.0/99").ok());
  EXPECT_FALSE(engine::validate_list_entry("whitelist", "").ok());
  EXPECT_TRUE(engine::validate_list_entry("trusted_networks", "10.0.0.0/8").ok());
  EXPECT_FALSE(engine::validate_list_entry("trusted_networks", "example.org").ok());
  EXPECT_TRUE(engine::validate_list_entry("spam_traps", "trap@example.org").ok());
  EXPECT_FALSE(engine::validate_list_entry("spam_traps", "example.org").ok());
  EXPECT_FALSE(engine::validate_list_entry("greylist", "x").ok());

  auto lists = engine::parse_lists(R"({"whitelist":["a.example","A.example","b@c.example"],"spam_traps":["t@x.example"]})", true);
  ASSERT_TRUE(lists.ok()) << lists.error().message;
  EXPECT_EQ(lists->entries["whitelist"].size(), 2u) << "a duplicate differing in case is dropped";
  auto again = engine::parse_lists(engine::to_json(*lists), true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->entries, lists->entries);
  EXPECT_FALSE(engine::parse_lists(R"({"spam_traps":["t@x.example"]})", false).ok()) << "no spam traps for a domain";
  EXPECT_FALSE(engine::parse_lists(R"({"whitelist":"a.example"})", true).ok());

  auto settings = engine::parse_settings(R"({"spf":false,"retention_days":30,"dns_lists":{"ZEN.example":false},)"
                                         R"("added_dns_lists":[{"zone":"bl.example","action":4.5}]})");
  ASSERT_TRUE(settings.ok()) << settings.error().message;
  EXPECT_EQ(settings->spf, false);
  EXPECT_EQ(settings->retention_days, 30u);
  EXPECT_EQ(settings->dns_lists.at("zen.example"), false);
  ASSERT_EQ(settings->added_dns_lists.size(), 1u);
  EXPECT_EQ(settings->added_dns_lists[0].action.score, 4.5);
  EXPECT_EQ(engine::to_json(*engine::parse_settings(engine::to_json(*settings))), engine::to_json(*settings));
  EXPECT_FALSE(engine::parse_settings(R"({"retention_days":0})").ok());
  EXPECT_FALSE(engine::parse_settings(R"({"spf":"yes"})").ok());
  EXPECT_FALSE(engine::parse_settings(R"({"colour":"blue"})").ok());
  EXPECT_FALSE(engine::parse_settings(R"({"added_dns_lists":[{"zone":"not a zone"}]})").ok());
}

TEST_F(PolicyApiTest, DomainsListTheFilesAndAreScopedForDomainAdministrators) {
  auto root = login("root", "root password!");
  auto eve = login("eve", "eve password!");
  auto all = json::parse(get(root, "/api/v1/domains").body).at("domains").as_array();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].at("name"), "example.org");
  EXPECT_EQ(all[0].at("source"), "file");
  EXPECT_EQ(all[0].at("reject_threshold").to_number<double>(), 12);
  EXPECT_EQ(all[0].at("addresses").to_number<int>(), 1);
  auto mine = json::parse(get(eve, "/api/v1/domains").body).at("domains").as_array();
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].at("name"), "example.org");
  // Another domain is not there for her, to read or to change.
  EXPECT_EQ(send(eve, "PUT", "/api/v1/domains/other.test", json::object{{"reject_threshold", 5}}).status, 404);
  EXPECT_EQ(get(eve, "/api/v1/domains/other.test/addresses").status, 404);
  EXPECT_EQ(send(eve, "POST", "/api/v1/domains", json::object{{"name", "new.test"}, {"backend", "smtp:127.0.0.1:25"}}).status, 403);
  EXPECT_EQ(api_->handle(as(eve, request("DELETE", "/api/v1/domains/example.org"))).status, 403);
}

TEST_F(PolicyApiTest, ChangingAConfiguredDomainKeepsItsFileSettingsAndAppliesAtOnce) {
  auto eve = login("eve", "eve password!");
  auto response = send(eve, "PUT", "/api/v1/domains/example.org",
                       json::object{{"reject_threshold", 4}, {"tag_threshold", 2}, {"greylisting", true},
                                    {"reject_text", "Refused as spam, call +1 555 0100 (ID:{id})"}});
  ASSERT_EQ(response.status, 200) << response.body;
  auto now = table();
  const auto* domain = now->find("example.org");
  ASSERT_NE(domain, nullptr);
  EXPECT_EQ(domain->reject_threshold, 4);
  EXPECT_EQ(domain->policy.reject_threshold, 4);
  EXPECT_EQ(domain->policy.replies.at("score"), "Refused as spam, call +1 555 0100 (ID:{id})");
  EXPECT_FALSE(domain->policy.blacklist.match_sender("x@file-bad.test").empty()) << "the file's domain list stays";
  EXPECT_EQ(domain->addresses.size(), 1u) << "and its addresses";
  auto stored = store_->domains();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].greylisting, true);
  // A domain administrator may not move the domain's mail elsewhere.
  response = send(eve, "PUT", "/api/v1/domains/example.org", json::object{{"backend", "smtp:203.0.113.9:25"}});
  EXPECT_EQ(response.status, 403) << response.body;
  // Bad values are refused with the reason.
  response = send(eve, "PUT", "/api/v1/domains/example.org", json::object{{"tag_threshold", 20}});
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body.find("must not be greater"), std::string::npos) << response.body;
  EXPECT_EQ(send(eve, "PUT", "/api/v1/domains/example.org", json::object{{"reject_text", "two\r\nlines"}}).status, 400);
  EXPECT_EQ(send(eve, "PUT", "/api/v1/domains/example.org", json::object{{"recipients", "some"}}).status, 400);
  EXPECT_EQ(send(eve, "PUT", "/api/v1/domains/example.org", json::object{{"colour", "blue"}}).status, 400);
  // Without the CSRF token: refused, nothing changed.
  auto forged = as(eve, request("PUT", "/api/v1/domains/example.org", R"({"reject_threshold": 99})"), false);
  EXPECT_EQ(api_->handle(forged).status, 403);
  EXPECT_EQ(table()->find("example.org")->reject_threshold, 4);
  // The audit log says who changed what.
  auto audit = store_->audit_log(10);
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit[0].action, "domain.change");
  EXPECT_EQ(audit[0].username, "eve");
  EXPECT_NE(audit[0].detail.find("reject 4"), std::string::npos) << audit[0].detail;
  // Removing the change goes back to the file's.
  auto root = login("root", "root password!");
  EXPECT_EQ(api_->handle(as(root, request("DELETE", "/api/v1/domains/example.org"))).status, 204);
  EXPECT_EQ(table()->find("example.org")->reject_threshold, 12);
  EXPECT_EQ(api_->handle(as(root, request("DELETE", "/api/v1/domains/example.org"))).status, 409) << "the file's own";
}

TEST_F(PolicyApiTest, AdministratorsAddAndRemoveDomains) {
  auto root = login("root", "root password!");
  auto response = send(root, "POST", "/api/v1/domains",
                       json::object{{"name", "New.Test"}, {"backend", "smtp:127.0.0.1:2528"}, {"recipients", "any"}});
  ASSERT_EQ(response.status, 201) << response.body;
  ASSERT_NE(table()->find("new.test"), nullptr);
  EXPECT_EQ(table()->find("new.test")->recipients, RecipientValidation::any);
  EXPECT_EQ(send(root, "POST", "/api/v1/domains", json::object{{"name", "new.test"}, {"backend", "smtp:127.0.0.1:2528"}}).status, 409);
  EXPECT_EQ(send(root, "POST", "/api/v1/domains", json::object{{"name", "not a domain"}, {"backend", "smtp:127.0.0.1:25"}}).status, 400);
  response = send(root, "POST", "/api/v1/domains", json::object{{"name", "x.test"}, {"backend", "carrier-pigeon"}});
  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_EQ(api_->handle(as(root, request("DELETE", "/api/v1/domains/new.test"))).status, 204);
  EXPECT_EQ(table()->find("new.test"), nullptr);
  EXPECT_EQ(api_->handle(as(root, request("DELETE", "/api/v1/domains/new.test"))).status, 404);
}

TEST_F(PolicyApiTest, AddressesImportAndExportAsCsv) {
  auto eve = login("eve", "eve password!");
  auto csv = as(eve, request("POST", "/api/v1/domains/example.org/addresses"));
  csv.headers["content-type"] = "text/csv";
  csv.body = "address,name\r\nBob@Example.org,Bob\r\n\"carol@example.org\",Carol\r\nalice@example.org,dup\r\nmallory@other.test,x\r\nnot an address\r\n";
  auto response = api_->handle(csv);
  ASSERT_EQ(response.status, 200) << response.body;
  auto result = json::parse(response.body);
  EXPECT_EQ(result.at("added").to_number<int>(), 2);
  EXPECT_EQ(result.at("present").to_number<int>(), 1) << "alice is in the file";
  ASSERT_EQ(result.at("refused").as_array().size(), 2u);
  EXPECT_EQ(result.at("refused").as_array()[0].at("line").to_number<int>(), 5);
  EXPECT_TRUE(table()->addresses.count("bob@example.org"));
  EXPECT_FALSE(table()->addresses.count("mallory@other.test")) << "not another domain's address";

  auto exported = get(eve, "/api/v1/domains/example.org/addresses?format=csv");
  ASSERT_EQ(exported.status, 200);
  EXPECT_EQ(exported.content_type.rfind("text/csv", 0), 0u);
  EXPECT_EQ(exported.body, "address,source\r\nalice@example.org,file\r\nbob@example.org,web\r\ncarol@example.org,web\r\n");

  EXPECT_EQ(api_->handle(as(eve, request("DELETE", "/api/v1/addresses/bob@example.org"))).status, 204);
  EXPECT_FALSE(table()->addresses.count("bob@example.org"));
  EXPECT_EQ(api_->handle(as(eve, request("DELETE", "/api/v1/addresses/alice@example.org"))).status, 409) << "the file's";
  EXPECT_EQ(api_->handle(as(eve, request("DELETE", "/api/v1/addresses/x@other.test"))).status, 404);
  EXPECT_EQ(send(eve, "POST", "/api/v1/domains/example.org/addresses", json::object{{"address", "dave@other.test"}}).status, 400);
}

TEST_F(PolicyApiTest, ListsAddToTheFilesAndReachTheNextTransaction) {
  auto root = login("root", "root password!");
  auto eve = login("eve", "eve password!");
  auto response = send(root, "PUT", "/api/v1/lists/blacklist", json::object{{"entries", json::array{"spammer.test", "198.51.100.0/24"}}});
  ASSERT_EQ(response.status, 200) << response.body;
  response = send(root, "PUT", "/api/v1/lists/trusted_networks", json::object{{"entries", json::array{"10.1.0.0/16"}}});
  ASSERT_EQ(response.status, 200) << response.body;
  response = send(root, "PUT", "/api/v1/lists/spam_traps", json::object{{"entries", json::array{"trap@example.org"}}});
  ASSERT_EQ(response.status, 200) << response.body;
  auto config = in_force();
  EXPECT_EQ(config.policy.blacklist.match("192.0.2.1", "x@spammer.test"), "spammer.test");
  EXPECT_EQ(config.policy.whitelist.match_sender("a@partner.test"), "partner.test") << "the file's entry stays";
  EXPECT_TRUE(in_networks(config.trusted_networks, "10.1.2.3"));
  EXPECT_EQ(config.traps.addresses.back(), "trap@example.org");
  // Every domain's policy has the global lists (configured domains copied the global policy).
  EXPECT_EQ(table()->find("other.test")->policy.blacklist.match_ip("198.51.100.7"), "198.51.100.0/24");

  // A domain administrator: her domain's lists, not the global ones.
  EXPECT_EQ(send(eve, "PUT", "/api/v1/lists/whitelist", json::object{{"entries", json::array{"friend.test"}}}).status, 403);
  response = send(eve, "PUT", "/api/v1/lists/whitelist", json::object{{"domain", "example.org"}, {"entries", json::array{"friend.test"}}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(send(eve, "PUT", "/api/v1/lists/whitelist", json::object{{"domain", "other.test"}, {"entries", json::array{"x.test"}}}).status, 404);
  EXPECT_EQ(send(eve, "PUT", "/api/v1/lists/trusted_networks", json::object{{"domain", "example.org"}, {"entries", json::array{"10.0.0.0/8"}}}).status, 404);
  EXPECT_EQ(table()->find("example.org")->policy.whitelist.match_sender("a@friend.test"), "friend.test");
  EXPECT_EQ(table()->find("other.test")->policy.whitelist.match_sender("a@friend.test"), "") << "only her domain";

  // What the page shows: the file's and the web's apart.
  auto shown = json::parse(get(eve, "/api/v1/lists?domain=example.org").body);
  EXPECT_EQ(shown.at("lists").at("blacklist").at("file"), (json::array{"file-bad.test"}));
  EXPECT_EQ(shown.at("lists").at("whitelist").at("web"), (json::array{"friend.test"}));
  EXPECT_EQ(get(eve, "/api/v1/lists").status, 403);

  // A bad entry is refused by name, and nothing is saved.
  response = send(root, "PUT", "/api/v1/lists/blacklist", json::object{{"entries", json::array{"ok.test", "not valid!"}}});
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body.find("not valid!"), std::string::npos) << response.body;
  EXPECT_EQ(in_force().policy.blacklist.match_sender("x@spammer.test"), "spammer.test");
  EXPECT_EQ(send(root, "PUT", "/api/v1/lists/greylist", json::object{{"entries", json::array{}}}).status, 404);
}

TEST_F(PolicyApiTest, ASendersAddressIsListedFromItsMessage) {
  auto root = login("root", "root password!");
  auto eve = login("eve", "eve password!");
  auto response = send(eve, "POST", "/api/v1/messages/MSG1/sender-list", json::object{{"list", "blacklist"}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json::parse(response.body).at("domain"), "example.org");
  EXPECT_EQ(table()->find("example.org")->policy.blacklist.match_sender("sender@remote.test"), "sender@remote.test");
  EXPECT_EQ(table()->find("other.test")->policy.blacklist.match_sender("sender@remote.test"), "");
  EXPECT_EQ(send(eve, "POST", "/api/v1/messages/MSG2/sender-list", json::object{{"list", "blacklist"}}).status, 404)
      << "another domain's message";
  // An administrator lists globally; white-listing takes the sender off the black list.
  response = send(root, "POST", "/api/v1/messages/MSG2/sender-list", json::object{{"list", "whitelist"}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(in_force().policy.whitelist.match_sender("sender@remote.test"), "sender@remote.test");
  EXPECT_EQ(send(root, "POST", "/api/v1/messages/MSG2/sender-list", json::object{{"list", "greylist"}}).status, 400);
  EXPECT_EQ(store_->audit_log(1)[0].action, "list.sender");
}

TEST_F(PolicyApiTest, SettingsOverrideTheFileAndAreForAdministrators) {
  auto root = login("root", "root password!");
  auto eve = login("eve", "eve password!");
  EXPECT_EQ(get(eve, "/api/v1/settings").status, 403);
  EXPECT_EQ(send(eve, "PUT", "/api/v1/settings", json::object{{"spf", false}}).status, 403);
  auto shown = json::parse(get(root, "/api/v1/settings").body);
  EXPECT_EQ(shown.at("file").at("spf"), true);
  EXPECT_EQ(shown.at("dns_lists").as_array().size(), 1u);

  auto response = send(root, "PUT", "/api/v1/settings",
                       json::object{{"spf", false}, {"antivirus", true}, {"retention_days", 30},
                                    {"dns_lists", json::object{{"zen.example", false}}},
                                    {"added_dns_lists", json::array{json::object{{"zone", "bl.example"}, {"action", "reject"}}}}});
  ASSERT_EQ(response.status, 200) << response.body;
  auto config = in_force();
  EXPECT_FALSE(config.policy.check("spf").enabled);
  EXPECT_FALSE(table()->find("example.org")->policy.check("spf").enabled) << "every domain's policy";
  EXPECT_TRUE(config.antivirus.enabled);
  EXPECT_EQ(config.retention_days, 30u);
  ASSERT_EQ(config.dns_lists.size(), 1u);
  EXPECT_EQ(config.dns_lists[0].zone, "bl.example");
  EXPECT_EQ(config.dns_lists[0].other.kind, Action::Kind::reject);
  EXPECT_EQ(json::parse(response.body).at("in_force").at("spf"), false);

  EXPECT_EQ(send(root, "PUT", "/api/v1/settings", json::object{{"dns_lists", json::object{{"unknown.example", false}}}}).status, 400);
  EXPECT_EQ(send(root, "PUT", "/api/v1/settings", json::object{{"added_dns_lists", json::array{json::object{{"zone", "zen.example"}}}}}).status, 409);
  EXPECT_EQ(send(root, "PUT", "/api/v1/settings", json::object{{"retention_days", -1}}).status, 400);
  // An empty document: the file's values again.
  ASSERT_EQ(send(root, "PUT", "/api/v1/settings", json::object{}).status, 200);
  EXPECT_TRUE(in_force().policy.check("spf").enabled);
  EXPECT_EQ(in_force().dns_lists.size(), 1u);
  EXPECT_EQ(store_->audit_log(1)[0].action, "settings.change");
}

}  // namespace
}  // namespace gatehouse::web
