// Tests of the link-check settings: [uribl] with its [[uribl.zone]] tables and local block list
// (inline and from a file), [phishing] protected_domains, their defaults, the "FILE:LINE: key:
// problem" errors, and the commented-out examples of etc/gatehouse.toml.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "config/config.hpp"

namespace gatehouse {
namespace {

const std::string minimal = "[server]\nlisten = [\"127.0.0.1:2525\"]\n";

Result<Config> parse(const std::string& text) { return parse_config(minimal + text, "test.toml"); }

TEST(UriblConfig, Defaults) {
  auto config = parse("");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_TRUE(config->uribl.zones.empty());
  EXPECT_EQ(config->uribl.max_domains, 20u);
  EXPECT_TRUE(config->uribl.local_block.empty());
  EXPECT_EQ(config->phishing.protected_domains.front(), "paypal.com");
  EXPECT_GE(config->phishing.protected_domains.size(), 10u);
  const auto& checks = config->policy.checks;
  EXPECT_EQ(checks.at("uribl").action("local_block").kind, Action::Kind::reject);
  EXPECT_EQ(checks.at("phishing").action("lookalike_own").score, 5.0);
  EXPECT_EQ(checks.at("phishing").action("link_text_brand").score, 4.0);
  // Scores, whose values bench/weights/fit.py fits (docs/weights.md).
  EXPECT_EQ(checks.at("phishing").action("link_text_mismatch").kind, Action::Kind::score);
  EXPECT_EQ(checks.at("phishing").action("form_to_remote").kind, Action::Kind::score);
  EXPECT_EQ(checks.at("html_obfuscation").action("hidden_text").score, 2.0);
  EXPECT_EQ(config->policy.reply_text("uribl", "ID1", "evil.test in dbl.test"),
            "Message contains a blocked link: evil.test in dbl.test (ID:ID1)");
}

TEST(UriblConfig, ZonesLocalListAndProtectedDomains) {
  auto config = parse(
      "[uribl]\nmax_domains = 5\nlocal_block = [\"Evil.Example.\", \"192.0.2.7\", \"::FFFF:198.51.100.1\"]\n"
      "[[uribl.zone]]\nzone = \"dbl.example\"\nother = 2\n"
      "result = [ { codes = \"127.0.1.2-127.0.1.99\", meaning = \"DBL\", action = \"reject\" } ]\n"
      "[[uribl.zone]]\nzone = \"ip.example\"\nkind = \"ip\"\n"
      "[phishing]\nprotected_domains = [\"bank.example\"]\n"
      "[filter.checks.phishing]\nlookalike_own = \"reject\"\n");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->uribl.max_domains, 5u);
  EXPECT_EQ(config->uribl.local_block, (std::vector<std::string>{"192.0.2.7", "198.51.100.1", "evil.example"}));
  ASSERT_EQ(config->uribl.zones.size(), 2u);
  EXPECT_EQ(config->uribl.zones[0].list.zone, "dbl.example");
  EXPECT_FALSE(config->uribl.zones[0].by_ip);
  EXPECT_EQ(config->uribl.zones[0].list.other.score, 2.0);
  EXPECT_EQ(config->uribl.zones[0].list.meaning_of(0x7f000105), "DBL");
  EXPECT_TRUE(config->uribl.zones[1].by_ip);
  EXPECT_EQ(config->phishing.protected_domains, std::vector<std::string>{"bank.example"});
  EXPECT_EQ(config->policy.checks.at("phishing").action("lookalike_own").kind, Action::Kind::reject);
}

TEST(UriblConfig, LocalBlockFileEntriesAndErrors) {
  const std::string path = ::testing::TempDir() + "/uribl_local_block.txt";
  {
    std::ofstream file(path);
    file << "# known bad\nmalware.example\n  198.51.100.9   # C2\n\nnot a domain\n";
  }
  auto config = parse("[uribl]\nlocal_block_file = \"" + path + "\"\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message, "test.toml:4: uribl.local_block_file: " + path +
                                        ":5: expected a domain or an IP address, got \"not a domain\"");
  {
    std::ofstream file(path);
    file << "# known bad\nmalware.example\n  198.51.100.9   # C2\n";
  }
  config = parse("[uribl]\nlocal_block = [\"other.example\"]\nlocal_block_file = \"" + path + "\"\n");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->uribl.local_block, (std::vector<std::string>{"198.51.100.9", "malware.example", "other.example"}));
  std::remove(path.c_str());
  config = parse("[uribl]\nlocal_block_file = \"/nonexistent/blocked.txt\"\n");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("test.toml:4: uribl.local_block_file: cannot open \"/nonexistent/blocked.txt\""),
            std::string::npos)
      << config.error().message;
}

TEST(UriblConfig, ErrorsNameLineAndKey) {
  auto config = parse("[uribl]\nmax_domains = 0\nlocal_block = [\"not valid!\"]\nsurprise = 1\n"
                      "[[uribl.zone]]\nkind = \"host\"\n"
                      "[[uribl.zone]]\nzone = \"dbl.example\"\nipv6 = true\n"
                      "[[uribl.zone]]\nzone = \"x.example\"\nresult = [ { codes = \"127.0.0.2\" } ]\n"
                      "[phishing]\nprotected_domains = [\"\"]\n");
  ASSERT_FALSE(config.ok());
  const std::string message = config.error().message;
  for (const char* expected :
       {"test.toml:4: uribl.max_domains: ", "test.toml:5: uribl.local_block: expected a domain or an IP address, got \"not valid!\"",
        "test.toml:6: uribl.surprise: unknown key", "test.toml:8: uribl.zone[0].kind: expected \"domain\" or \"ip\", got \"host\"",
        "test.toml:11: uribl.zone[1].ipv6: unknown key", "uribl.zone[2].result[0].action: missing",
        "test.toml:16: phishing.protected_domains: expected a domain like paypal.com, got \"\""})
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\n" << message;
}

// The commented-out [[uribl.zone]] examples of etc/gatehouse.toml use real keys and valid values.
TEST(UriblConfig, ExampleZonesAreValid) {
  std::ifstream stream(std::filesystem::path(GATEHOUSE_SOURCE_DIR) / "etc/gatehouse.toml");
  std::string text, line;
  bool in_example = false;
  while (std::getline(stream, line)) {
    if (line == "# [[uribl.zone]]" || line.starts_with("# local_block_file")) in_example = true;
    if (line.empty()) in_example = false;
    if (in_example && line.starts_with("# ")) line = line.substr(2);
    if (line.starts_with("local_block_file")) line = "";   // the file need not exist here
    text += line + "\n";
  }
  auto config = parse_config(text, "gatehouse.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_EQ(config->uribl.zones.size(), 2u);
  EXPECT_EQ(config->uribl.zones[0].list.zone, "dbl.spamhaus.org");
  EXPECT_EQ(config->uribl.zones[0].list.meaning_of(0x7f000102), "DBL spam domain");
  EXPECT_EQ(config->uribl.zones[1].list.zone, "multi.surbl.org");
  EXPECT_EQ(config->phishing.protected_domains.front(), "paypal.com");
}

}  // namespace
}  // namespace gatehouse
