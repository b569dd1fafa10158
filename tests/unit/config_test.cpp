// Tests of the configuration loader: the example file loads, defaults, every value format, the
// "FILE:LINE: key: problem" error messages, networks (CIDR, IPv4-mapped IPv6) and back-end forms.
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace gatehouse {
namespace {

using namespace std::chrono_literals;

const std::string minimal = "[server]\nlisten = [\"127.0.0.1:2525\"]\n";

Config parse_ok(const std::string& text) {
  auto config = parse_config(text, "test.toml");
  EXPECT_TRUE(config.ok()) << config.error().message;
  return config.ok() ? *config : Config{};
}

// The error message for `text`, which must not load.
std::string error_of(const std::string& text) {
  auto config = parse_config(text, "test.toml");
  EXPECT_FALSE(config.ok()) << "unexpectedly loaded:\n" << text;
  return config.ok() ? std::string() : config.error().message;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream stream(path);
  std::ostringstream contents;
  contents << stream.rdbuf();
  return contents.str();
}

const std::filesystem::path example_file = std::filesystem::path(GATEHOUSE_SOURCE_DIR) / "etc/gatehouse.toml";

// ---------------------------------------------------------------------------------------------
// The example configuration

TEST(ConfigExample, LoadsTheDemoSettings) {
  auto loaded = load_config(example_file);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const Config& config = *loaded;
  EXPECT_EQ(config.file, example_file);
  EXPECT_EQ(config.hostname, "gw.example.test");
  ASSERT_EQ(config.listeners.size(), 1u);
  EXPECT_EQ(config.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(config.listeners[0].port, 2525);
  EXPECT_EQ(config.listeners[0].text, "127.0.0.1:2525");
  EXPECT_EQ(config.listeners[0].starttls, TlsPolicy::optional);
  EXPECT_FALSE(config.tls_configured());
  EXPECT_EQ(config.state_dir, "var");
  EXPECT_EQ(config.nameservers, std::vector<std::string>{"127.0.0.1:2553"});
  EXPECT_TRUE(config.trusted_networks.empty());
  ASSERT_EQ(config.domains.size(), 1u);
  const DomainConfig& domain = config.domains[0];
  EXPECT_EQ(domain.name, "example.test");
  EXPECT_EQ(domain.backend.kind, BackendAddress::Kind::maildir);
  EXPECT_EQ(domain.backend.path, "var/maildir/example.test");
  EXPECT_EQ(domain.recipients, RecipientValidation::list);
  EXPECT_EQ(domain.addresses,
            (std::vector<std::string>{"alice@example.test", "bob@example.test", "carol@example.test"}));
  EXPECT_EQ(domain.tag_threshold, 5.0);
  EXPECT_EQ(domain.reject_threshold, 10.0);
}

// The commented-out [tls] and [[listener]] examples use real keys and valid values.
TEST(ConfigExample, CommentedOutSectionsAreValid) {
  std::istringstream lines(read_file(example_file));
  std::string text, line;
  bool in_example_block = false;
  while (std::getline(lines, line)) {
    if (line == "# [tls]" || line == "# [[listener]]" || line == "# [[dnsbl]]") in_example_block = true;
    if (line.empty()) in_example_block = false;
    if (in_example_block && line.rfind("# ", 0) == 0) line = line.substr(2);
    text += line + "\n";
  }
  ASSERT_NE(text.find("\n[tls]\n"), std::string::npos);
  ASSERT_NE(text.find("\n[[listener]]\n"), std::string::npos);
  const Config config = parse_ok(text);
  EXPECT_TRUE(config.tls_configured());
  EXPECT_EQ(config.tls_certificate, "etc/tls/cert.pem");
  EXPECT_EQ(config.tls_key, "etc/tls/key.pem");
  ASSERT_EQ(config.listeners.size(), 2u);
  EXPECT_EQ(config.listeners[1].text, "127.0.0.1:2526");
  EXPECT_EQ(config.listeners[1].starttls, TlsPolicy::required);
  ASSERT_EQ(config.dns_lists.size(), 2u);
  EXPECT_EQ(config.dns_lists[0].zone, "zen.spamhaus.org");
  EXPECT_EQ(config.dns_lists[0].meaning_of(0x7f000004), "XBL");
}

TEST(ConfigExample, MissingFileIsAnError) {
  auto config = load_config("/nonexistent/gatehouse.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("/nonexistent/gatehouse.toml: cannot open"), std::string::npos)
      << config.error().message;
}

// ---------------------------------------------------------------------------------------------
// Defaults and values

TEST(ConfigDefaults, EverySettingHasItsDocumentedDefault) {
  const Config config = parse_ok(minimal);
  EXPECT_EQ(config.file, "test.toml");
  EXPECT_EQ(config.hostname, "localhost");
  ASSERT_EQ(config.listeners.size(), 1u);
  EXPECT_EQ(config.listeners[0].starttls, TlsPolicy::optional);
  EXPECT_FALSE(config.listeners[0].proxy_protocol);
  EXPECT_EQ(config.state_dir, "var");
  EXPECT_TRUE(config.trusted_networks.empty());
  EXPECT_EQ(config.user, "");
  EXPECT_EQ(config.threads, 0u);
  EXPECT_EQ(config.max_connections, 2000u);
  EXPECT_EQ(config.max_connections_per_ip, 50u);
  EXPECT_EQ(config.max_message_size, 50u * 1024 * 1024);
  EXPECT_EQ(config.max_recipients, 100u);
  EXPECT_EQ(config.max_errors, 20u);
  EXPECT_EQ(config.command_timeout, 300s);
  EXPECT_EQ(config.data_timeout, 600s);
  EXPECT_EQ(config.bare_newline, BareNewlinePolicy::normalize);
  EXPECT_EQ(config.banner, "ESMTP gatehouse");
  EXPECT_TRUE(config.tls_certificate.empty());
  EXPECT_TRUE(config.tls_key.empty());
  EXPECT_FALSE(config.tls_configured());
  EXPECT_TRUE(config.nameservers.empty());
  EXPECT_EQ(config.dns_timeout, 3000ms);
  EXPECT_EQ(config.backend_timeout, 60s);
  EXPECT_EQ(config.connect_timeout, 10s);
  EXPECT_EQ(config.retry_schedule, (std::vector<std::chrono::seconds>{60s, 300s, 900s, 3600s}));
  EXPECT_EQ(config.max_queue_time, std::chrono::seconds(5 * 86400));
  EXPECT_EQ(config.backend_pool_size, 32u);
  EXPECT_EQ(config.retention_days, 14u);
  EXPECT_TRUE(config.domains.empty());
  EXPECT_EQ(config.spool_dir(), "var/spool");
  EXPECT_EQ(config.database_path(), "var/gatehouse.db");
}

TEST(ConfigDefaults, DomainDefaults) {
  const Config config = parse_ok(minimal + "[[domain]]\nname = \"example.test\"\nbackend = \"mx\"\n");
  ASSERT_EQ(config.domains.size(), 1u);
  EXPECT_EQ(config.domains[0].recipients, RecipientValidation::list);
  EXPECT_TRUE(config.domains[0].addresses.empty());
  EXPECT_EQ(config.domains[0].tag_threshold, 5.0);
  EXPECT_EQ(config.domains[0].reject_threshold, 10.0);
}

TEST(ConfigValues, EveryKeyIsRead) {
  const Config config = parse_ok(R"(
[server]
hostname = "mx.example.org"
listen = ["0.0.0.0:25", "[::1]:2525"]
state_dir = "/var/lib/gatehouse"
trusted_networks = ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"]
user = "gatehouse"
threads = 4
max_connections = 100
max_connections_per_ip = 5
max_message_size = "10M"
max_recipients = 50
max_errors = 3
command_timeout = "5m"
data_timeout = 120
bare_newline = "reject"
banner = "ESMTP ready"

[[listener]]
address = "127.0.0.1:2526"
starttls = "required"
proxy_protocol = true

[[listener]]
address = "[::]:587"
starttls = "off"

[tls]
certificate = "/etc/tls/cert.pem"
key = "/etc/tls/key.pem"
starttls = "off"

[dns]
nameservers = ["127.0.0.1:5353", "[::1]:53", "192.0.2.53", "::1"]
timeout = "500ms"

[delivery]
backend_timeout = "2m"
connect_timeout = 5
retry_schedule = ["30s", "1h30m", 7200]
max_queue_time = "2d"
backend_pool_size = 0

[store]
retention_days = 30

[[domain]]
name = "Example.ORG."
backend = "lmtp:/run/dovecot/lmtp"
recipients = "backend"
tag_threshold = 3
reject_threshold = 3

[[domain]]
name = "example.net"
backend = "smtp:[::1]:2626"
recipients = "any"
addresses = ["Alice@Example.NET", "alice@example.net", "alice@example.net."]
tag_threshold = 4.5
reject_threshold = 8.25
)");
  EXPECT_EQ(config.hostname, "mx.example.org");
  ASSERT_EQ(config.listeners.size(), 4u);
  EXPECT_EQ(config.listeners[0].address, "0.0.0.0");
  EXPECT_EQ(config.listeners[0].port, 25);
  EXPECT_EQ(config.listeners[0].starttls, TlsPolicy::off);  // [tls] starttls applies to listen
  EXPECT_EQ(config.listeners[1].address, "::1");
  EXPECT_EQ(config.listeners[1].port, 2525);
  EXPECT_EQ(config.listeners[1].text, "[::1]:2525");
  EXPECT_EQ(config.listeners[2].address, "127.0.0.1");
  EXPECT_EQ(config.listeners[2].port, 2526);
  EXPECT_EQ(config.listeners[2].starttls, TlsPolicy::required);
  EXPECT_TRUE(config.listeners[2].proxy_protocol);
  EXPECT_EQ(config.listeners[3].address, "::");
  EXPECT_EQ(config.listeners[3].port, 587);
  EXPECT_EQ(config.listeners[3].starttls, TlsPolicy::off);
  EXPECT_FALSE(config.listeners[3].proxy_protocol);
  EXPECT_EQ(config.state_dir, "/var/lib/gatehouse");
  ASSERT_EQ(config.trusted_networks.size(), 3u);
  EXPECT_TRUE(in_networks(config.trusted_networks, "10.20.30.40"));
  EXPECT_TRUE(in_networks(config.trusted_networks, "2001:db8:1::5"));
  EXPECT_TRUE(in_networks(config.trusted_networks, "127.0.0.1"));
  EXPECT_FALSE(in_networks(config.trusted_networks, "127.0.0.2"));
  EXPECT_EQ(config.user, "gatehouse");
  EXPECT_EQ(config.threads, 4u);
  EXPECT_EQ(config.max_connections, 100u);
  EXPECT_EQ(config.max_connections_per_ip, 5u);
  EXPECT_EQ(config.max_message_size, 10u * 1024 * 1024);
  EXPECT_EQ(config.max_recipients, 50u);
  EXPECT_EQ(config.max_errors, 3u);
  EXPECT_EQ(config.command_timeout, 300s);
  EXPECT_EQ(config.data_timeout, 120s);
  EXPECT_EQ(config.bare_newline, BareNewlinePolicy::reject);
  EXPECT_EQ(config.banner, "ESMTP ready");
  EXPECT_EQ(config.tls_certificate, "/etc/tls/cert.pem");
  EXPECT_EQ(config.tls_key, "/etc/tls/key.pem");
  EXPECT_EQ(config.nameservers, (std::vector<std::string>{"127.0.0.1:5353", "[::1]:53", "192.0.2.53", "::1"}));
  EXPECT_EQ(config.dns_timeout, 500ms);
  EXPECT_EQ(config.backend_timeout, 120s);
  EXPECT_EQ(config.connect_timeout, 5s);
  EXPECT_EQ(config.retry_schedule, (std::vector<std::chrono::seconds>{30s, 5400s, 7200s}));
  EXPECT_EQ(config.max_queue_time, 172800s);
  EXPECT_EQ(config.backend_pool_size, 0u);
  EXPECT_EQ(config.retention_days, 30u);
  ASSERT_EQ(config.domains.size(), 2u);
  EXPECT_EQ(config.domains[0].name, "example.org");
  EXPECT_EQ(config.domains[0].backend.kind, BackendAddress::Kind::lmtp_unix);
  EXPECT_EQ(config.domains[0].recipients, RecipientValidation::backend);
  EXPECT_EQ(config.domains[0].tag_threshold, 3.0);
  EXPECT_EQ(config.domains[0].reject_threshold, 3.0);
  EXPECT_EQ(config.domains[1].name, "example.net");
  EXPECT_EQ(config.domains[1].backend.host, "::1");
  EXPECT_EQ(config.domains[1].backend.port, 2626);
  EXPECT_EQ(config.domains[1].recipients, RecipientValidation::any);
  EXPECT_EQ(config.domains[1].addresses, std::vector<std::string>{"alice@example.net"});  // lower-cased, once
  EXPECT_EQ(config.domains[1].tag_threshold, 4.5);
  EXPECT_EQ(config.domains[1].reject_threshold, 8.25);
}

TEST(ConfigValues, SizeForms) {
  const auto size_of = [](const std::string& value) {
    return parse_ok(minimal + "max_message_size = " + value + "\n").max_message_size;
  };
  EXPECT_EQ(size_of("1000"), 1000u);
  EXPECT_EQ(size_of("\"1000\""), 1000u);
  EXPECT_EQ(size_of("\"512K\""), 512u * 1024);
  EXPECT_EQ(size_of("\"512k\""), 512u * 1024);
  EXPECT_EQ(size_of("\"10MB\""), 10u * 1024 * 1024);
  EXPECT_EQ(size_of("\"1G\""), 1024u * 1024 * 1024);
}

TEST(ConfigValues, DurationForms) {
  const auto timeout_of = [](const std::string& value) {
    return parse_ok(minimal + "command_timeout = " + value + "\n").command_timeout;
  };
  EXPECT_EQ(timeout_of("90"), 90s);
  EXPECT_EQ(timeout_of("\"90\""), 90s);
  EXPECT_EQ(timeout_of("\"45s\""), 45s);
  EXPECT_EQ(timeout_of("\"5m\""), 300s);
  EXPECT_EQ(timeout_of("\"2h\""), 7200s);
  EXPECT_EQ(timeout_of("\"1d\""), 86400s);
  EXPECT_EQ(timeout_of("\"1h30m\""), 5400s);
  EXPECT_EQ(parse_ok(minimal + "[dns]\ntimeout = \"1500ms\"\n").dns_timeout, 1500ms);
}

// "optional" without a certificate is allowed: STARTTLS is then simply not offered.
TEST(ConfigValues, OptionalTlsWithoutCertificateIsAllowed) {
  const Config config = parse_ok(minimal + "[[listener]]\naddress = \"127.0.0.1:2526\"\nstarttls = \"optional\"\n");
  ASSERT_EQ(config.listeners.size(), 2u);
  EXPECT_EQ(config.listeners[1].starttls, TlsPolicy::optional);
  EXPECT_FALSE(config.tls_configured());
}

TEST(ConfigValues, ListenerInheritsTheTlsDefaultPolicy) {
  const Config config = parse_ok(
      "[tls]\ncertificate = \"c.pem\"\nkey = \"k.pem\"\nstarttls = \"required\"\n"
      "[[listener]]\naddress = \"127.0.0.1:2526\"\n");
  ASSERT_EQ(config.listeners.size(), 1u);
  EXPECT_EQ(config.listeners[0].starttls, TlsPolicy::required);
}

TEST(ConfigValues, DomainWithListAndNoAddressesIsAllowed) {
  const Config config =
      parse_ok(minimal + "[[domain]]\nname = \"example.test\"\nbackend = \"smtp:mail.example.test\"\nrecipients = \"list\"\n");
  ASSERT_EQ(config.domains.size(), 1u);
  EXPECT_TRUE(config.domains[0].addresses.empty());
}

// ---------------------------------------------------------------------------------------------
// Errors: each names file, line and key

TEST(ConfigErrors, BadSizeHasTheDocumentedForm) {
  EXPECT_EQ(error_of(minimal + "max_message_size = \"lots\"\n"),
            "test.toml:3: server.max_message_size: expected a size like 50M, got \"lots\"");
  EXPECT_NE(error_of(minimal + "max_message_size = -5\n").find("test.toml:3: server.max_message_size: expected a size"),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "max_message_size = \"5T\"\n").find("test.toml:3: server.max_message_size:"),
            std::string::npos);
}

TEST(ConfigErrors, BadDuration) {
  const std::string message = error_of(minimal + "\n[delivery]\nconnect_timeout = \"soon\"\n");
  EXPECT_EQ(message, "test.toml:5: delivery.connect_timeout: expected a duration like 30s, 5m, 1h or 5d, got \"soon\"");
  EXPECT_NE(error_of(minimal + "data_timeout = \"5 m\"\n").find("test.toml:3: server.data_timeout:"), std::string::npos);
  EXPECT_NE(error_of(minimal + "command_timeout = 0\n").find("test.toml:3: server.command_timeout: must be at least 1s"),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "command_timeout = \"1500ms\"\n").find("server.command_timeout: must be a whole number"),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "[delivery]\nretry_schedule = [\"1m\", \"often\"]\n")
                .find("test.toml:4: delivery.retry_schedule: expected a duration"),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "[delivery]\nretry_schedule = []\n").find("test.toml:4: delivery.retry_schedule:"),
            std::string::npos);
}

TEST(ConfigErrors, UnknownKeys) {
  EXPECT_EQ(error_of(minimal + "max_mesage_size = \"10M\"\n"), "test.toml:3: server.max_mesage_size: unknown key");
  EXPECT_EQ(error_of(minimal + "[servr]\nhostname = \"x\"\n"), "test.toml:3: servr: unknown key");
  EXPECT_EQ(error_of("hostname = \"x\"\n" + minimal), "test.toml:1: hostname: unknown key");
  EXPECT_EQ(error_of(minimal + "[[domain]]\nname = \"example.test\"\nbackend = \"mx\"\ntag = 3\n"),
            "test.toml:6: domain[0].tag: unknown key");
  EXPECT_EQ(error_of(minimal + "[[listener]]\naddress = \"127.0.0.1:1\"\nproxy = true\n"),
            "test.toml:5: listener[0].proxy: unknown key");
}

TEST(ConfigErrors, WrongTypes) {
  EXPECT_EQ(error_of(minimal + "threads = \"four\"\n"), "test.toml:3: server.threads: expected an integer, got \"four\"");
  EXPECT_EQ(error_of(minimal + "threads = -1\n"), "test.toml:3: server.threads: must be between 0 and 1024, got -1");
  EXPECT_EQ(error_of(minimal + "hostname = 5\n"), "test.toml:3: server.hostname: expected a string, got 5");
  EXPECT_EQ(error_of(minimal + "bare_newline = \"fix\"\n"),
            "test.toml:3: server.bare_newline: expected one of \"normalize\", \"reject\", got \"fix\"");
  EXPECT_EQ(error_of("server = 1\n"), "test.toml:1: server: expected a table ([server]), got 1");
  EXPECT_EQ(error_of(minimal + "[domain]\nname = \"example.test\"\n"),
            "test.toml:3: domain: expected an array of tables ([[domain]]), got a table");
}

TEST(ConfigErrors, BadBackend) {
  const std::string message = error_of(minimal + "[[domain]]\nname = \"example.test\"\nbackend = \"exchange.local\"\n");
  EXPECT_NE(message.find("test.toml:5: domain[0].backend: expected smtp:HOST[:PORT]"), std::string::npos) << message;
  EXPECT_NE(message.find("\"exchange.local\""), std::string::npos) << message;
}

TEST(ConfigErrors, AddressOutsideItsDomain) {
  const std::string message = error_of(minimal +
                                       "[[domain]]\nname = \"example.test\"\nbackend = \"mx\"\n"
                                       "addresses = [\"alice@example.test\",\n  \"bob@other.test\"]\n");
  EXPECT_EQ(message, "test.toml:7: domain[0].addresses: \"bob@other.test\" is not in domain example.test");
  EXPECT_NE(error_of(minimal + "[[domain]]\nname = \"example.test\"\nbackend = \"mx\"\naddresses = [\"alice\"]\n")
                .find("test.toml:6: domain[0].addresses: expected an address"),
            std::string::npos);
}

TEST(ConfigErrors, DuplicateDomain) {
  const std::string message = error_of(minimal +
                                       "[[domain]]\nname = \"example.test\"\nbackend = \"mx\"\n"
                                       "[[domain]]\nname = \"Example.TEST\"\nbackend = \"mx\"\n");
  EXPECT_EQ(message, "test.toml:7: domain[1].name: \"example.test\" is already configured at line 4");
}

TEST(ConfigErrors, DomainNeedsNameAndBackend) {
  EXPECT_EQ(error_of(minimal + "[[domain]]\nbackend = \"mx\"\n"),
            "test.toml:3: domain[0].name: missing (every [[domain]] needs name and backend)");
  EXPECT_EQ(error_of(minimal + "[[domain]]\nname = \"example.test\"\n"),
            "test.toml:3: domain[0].backend: missing (every [[domain]] needs name and backend)");
  EXPECT_NE(error_of(minimal + "[[domain]]\nname = \"not a domain\"\nbackend = \"mx\"\n")
                .find("test.toml:4: domain[0].name: expected a domain name"),
            std::string::npos);
}

TEST(ConfigErrors, TagAboveReject) {
  EXPECT_EQ(error_of(minimal + "[[domain]]\nname = \"example.test\"\nbackend = \"mx\"\ntag_threshold = 12\n"),
            "test.toml:6: domain[0].tag_threshold: tag_threshold (12) must not be greater than reject_threshold (10)");
  EXPECT_NE(error_of(minimal + "[[domain]]\nname = \"example.test\"\nbackend = \"mx\"\nreject_threshold = nan\n")
                .find("test.toml:6: domain[0].reject_threshold: expected a finite number"),
            std::string::npos);
}

TEST(ConfigErrors, RequiredTlsWithoutCertificate) {
  EXPECT_EQ(error_of(minimal + "[[listener]]\naddress = \"127.0.0.1:2526\"\nstarttls = \"required\"\n"),
            "test.toml:5: listener[0].starttls: \"required\" needs tls.certificate and tls.key to be set");
  EXPECT_EQ(error_of(minimal + "[tls]\nstarttls = \"required\"\n"),
            "test.toml:4: tls.starttls: \"required\" needs tls.certificate and tls.key to be set");
  EXPECT_EQ(error_of(minimal + "[tls]\ncertificate = \"cert.pem\"\n"),
            "test.toml:4: tls.certificate: is set but tls.key is not; both are needed");
}

TEST(ConfigErrors, TomlSyntaxErrorHasLineAndColumn) {
  const std::string message = error_of(minimal + "max_errors = = 3\n");
  EXPECT_EQ(message.rfind("test.toml:3:", 0), 0u) << message;
  EXPECT_NE(message.find("test.toml:3:14: "), std::string::npos) << message;
  EXPECT_GT(message.size(), std::string("test.toml:3:14: ").size());
}

TEST(ConfigErrors, Listeners) {
  EXPECT_EQ(error_of("[server]\nhostname = \"gw.example.test\"\n"),
            "test.toml:1: server.listen: no listener: set server.listen or add a [[listener]]");
  EXPECT_EQ(error_of("[server]\nlisten = []\n"),
            "test.toml:1: server.listen: no listener: set server.listen or add a [[listener]]");
  EXPECT_EQ(error_of("[server]\nlisten = [\"127.0.0.1\"]\n"),
            "test.toml:2: server.listen: missing port in \"127.0.0.1\" (like 127.0.0.1:2525)");
  EXPECT_NE(error_of("[server]\nlisten = [\"127.0.0.1:99999\"]\n").find("test.toml:2: server.listen: \"127.0.0.1:99999\": invalid port"),
            std::string::npos);
  EXPECT_NE(error_of("[server]\nlisten = [\"127.0.0.1:\"]\n").find("test.toml:2: server.listen:"), std::string::npos);
  EXPECT_NE(error_of("[server]\nlisten = [\"localhost:25\"]\n").find("test.toml:2: server.listen: expected an IP address"),
            std::string::npos);
  EXPECT_NE(error_of("[server]\nlisten = [\"::1:25\"]\n").find("test.toml:2: server.listen:"), std::string::npos);
  EXPECT_EQ(error_of("[[listener]]\nstarttls = \"off\"\n"),
            "test.toml:1: listener[0].address: missing (every [[listener]] needs an address)");
  EXPECT_EQ(error_of("[server]\nlisten = [\"127.0.0.1:25\"]\n[[listener]]\naddress = \"127.0.0.1:25\"\n"),
            "test.toml:4: listener[0].address: \"127.0.0.1:25\" is already configured at line 2");
}

TEST(ConfigErrors, BadNetworksAndNameservers) {
  EXPECT_NE(error_of(minimal + "trusted_networks = [\"10.0.0.0/33\"]\n").find("test.toml:3: server.trusted_networks: invalid prefix"),
            std::string::npos);
  EXPECT_NE(error_of(minimal + "[dns]\nnameservers = [\"resolver.example\"]\n").find("test.toml:4: dns.nameservers: expected an IP"),
            std::string::npos);
}

TEST(ConfigErrors, AllProblemsAreReportedInFileOrder) {
  const std::string message = error_of(minimal + "threads = \"x\"\n[store]\nretention_days = 0\nbogus = 1\n");
  EXPECT_EQ(message,
            "test.toml:3: server.threads: expected an integer, got \"x\"\n"
            "test.toml:5: store.retention_days: must be between 1 and 36500, got 0\n"
            "test.toml:6: store.bogus: unknown key");
}

// ---------------------------------------------------------------------------------------------
// Networks

TEST(ConfigNetwork, Ipv4) {
  auto network = Network::parse("192.0.2.0/24");
  ASSERT_TRUE(network.ok()) << network.error().message;
  EXPECT_EQ(network->family, 4);
  EXPECT_EQ(network->prefix, 24);
  EXPECT_EQ(network->text, "192.0.2.0/24");
  EXPECT_TRUE(network->contains("192.0.2.0"));
  EXPECT_TRUE(network->contains("192.0.2.255"));
  EXPECT_FALSE(network->contains("192.0.3.0"));
  EXPECT_FALSE(network->contains("2001:db8::1"));
  EXPECT_FALSE(network->contains("not an address"));

  auto odd_prefix = Network::parse("10.64.0.0/10");
  ASSERT_TRUE(odd_prefix.ok());
  EXPECT_TRUE(odd_prefix->contains("10.127.255.255"));
  EXPECT_FALSE(odd_prefix->contains("10.128.0.0"));

  auto host = Network::parse("127.0.0.1");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->prefix, 32);
  EXPECT_TRUE(host->contains("127.0.0.1"));
  EXPECT_FALSE(host->contains("127.0.0.2"));

  auto everything = Network::parse("0.0.0.0/0");
  ASSERT_TRUE(everything.ok());
  EXPECT_TRUE(everything->contains("203.0.113.7"));
}

TEST(ConfigNetwork, Ipv6) {
  auto network = Network::parse("2001:db8::/32");
  ASSERT_TRUE(network.ok()) << network.error().message;
  EXPECT_EQ(network->family, 6);
  EXPECT_EQ(network->prefix, 32);
  EXPECT_TRUE(network->contains("2001:db8::1"));
  EXPECT_TRUE(network->contains("2001:DB8:ffff::1"));
  EXPECT_TRUE(network->contains("[2001:db8::1]"));
  EXPECT_FALSE(network->contains("2001:db9::1"));
  EXPECT_FALSE(network->contains("192.0.2.1"));

  auto host = Network::parse("::1");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->prefix, 128);
  EXPECT_TRUE(host->contains("::1"));
  EXPECT_FALSE(host->contains("::2"));
}

TEST(ConfigNetwork, Ipv4MappedIpv6) {
  auto network = Network::parse("10.0.0.0/8");
  ASSERT_TRUE(network.ok());
  EXPECT_TRUE(network->contains("::ffff:10.1.2.3"));
  EXPECT_TRUE(network->contains("::FFFF:10.1.2.3"));
  EXPECT_FALSE(network->contains("::ffff:11.1.2.3"));
  EXPECT_FALSE(network->contains("::10.1.2.3"));  // IPv4-compatible, not mapped

  // A network written in mapped form is the IPv4 network it maps.
  auto mapped = Network::parse("::ffff:192.0.2.0/120");
  ASSERT_TRUE(mapped.ok()) << mapped.error().message;
  EXPECT_EQ(mapped->family, 4);
  EXPECT_EQ(mapped->prefix, 24);
  EXPECT_TRUE(mapped->contains("192.0.2.9"));
  EXPECT_TRUE(mapped->contains("::ffff:192.0.2.9"));

  EXPECT_TRUE(in_networks({*network, *mapped}, "::ffff:192.0.2.200"));
  EXPECT_FALSE(in_networks({*network, *mapped}, "192.0.3.1"));
  EXPECT_FALSE(in_networks({}, "10.0.0.1"));
}

TEST(ConfigNetwork, Invalid) {
  for (const char* text : {"", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8",
                           "10.0.0/8", "example.test", "10.0.0.0 /8", "fe80::1%eth0"}) {
    auto network = Network::parse(text);
    EXPECT_FALSE(network.ok()) << text;
  }
  // Host bits after the prefix are most likely a typo, and the message says which network it would be.
  auto typo = Network::parse("192.168.1.0/2");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.error().message.find("192.0.0.0/2"), std::string::npos) << typo.error().message;
}

// ---------------------------------------------------------------------------------------------
// Back-end addresses

TEST(ConfigBackend, Smtp) {
  auto with_port = BackendAddress::parse("smtp:mail.example.test:2626");
  ASSERT_TRUE(with_port.ok()) << with_port.error().message;
  EXPECT_EQ(with_port->kind, BackendAddress::Kind::smtp);
  EXPECT_EQ(with_port->host, "mail.example.test");
  EXPECT_EQ(with_port->port, 2626);
  EXPECT_EQ(with_port->text, "smtp:mail.example.test:2626");
  EXPECT_TRUE(with_port->live());
  EXPECT_FALSE(with_port->lmtp());

  auto default_port = BackendAddress::parse("smtp:192.0.2.25");
  ASSERT_TRUE(default_port.ok());
  EXPECT_EQ(default_port->host, "192.0.2.25");
  EXPECT_EQ(default_port->port, 25);

  auto ipv6 = BackendAddress::parse("smtp:[::1]:2626");
  ASSERT_TRUE(ipv6.ok()) << ipv6.error().message;
  EXPECT_EQ(ipv6->host, "::1");
  EXPECT_EQ(ipv6->port, 2626);

  auto ipv6_default_port = BackendAddress::parse("smtp:[2001:db8::25]");
  ASSERT_TRUE(ipv6_default_port.ok());
  EXPECT_EQ(ipv6_default_port->host, "2001:db8::25");
  EXPECT_EQ(ipv6_default_port->port, 25);
}

TEST(ConfigBackend, Lmtp) {
  auto tcp = BackendAddress::parse("lmtp:127.0.0.1:2424");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->kind, BackendAddress::Kind::lmtp_tcp);
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 2424);
  EXPECT_TRUE(tcp->lmtp());

  auto default_port = BackendAddress::parse("lmtp:dovecot.example.test");
  ASSERT_TRUE(default_port.ok());
  EXPECT_EQ(default_port->kind, BackendAddress::Kind::lmtp_tcp);
  EXPECT_EQ(default_port->port, 24);

  auto unix_socket = BackendAddress::parse("lmtp:/run/dovecot/lmtp");
  ASSERT_TRUE(unix_socket.ok());
  EXPECT_EQ(unix_socket->kind, BackendAddress::Kind::lmtp_unix);
  EXPECT_EQ(unix_socket->path, "/run/dovecot/lmtp");
  EXPECT_TRUE(unix_socket->live());
  EXPECT_TRUE(unix_socket->lmtp());

  auto relative_socket = BackendAddress::parse("lmtp:./var/lmtp.sock");
  ASSERT_TRUE(relative_socket.ok());
  EXPECT_EQ(relative_socket->kind, BackendAddress::Kind::lmtp_unix);
  EXPECT_EQ(relative_socket->path, "./var/lmtp.sock");
}

TEST(ConfigBackend, MaildirAndMx) {
  auto absolute = BackendAddress::parse("maildir:/srv/mail/example.test");
  ASSERT_TRUE(absolute.ok());
  EXPECT_EQ(absolute->kind, BackendAddress::Kind::maildir);
  EXPECT_EQ(absolute->path, "/srv/mail/example.test");
  EXPECT_FALSE(absolute->live());

  auto relative = BackendAddress::parse("maildir:var/maildir/example.test");
  ASSERT_TRUE(relative.ok());
  EXPECT_EQ(relative->path, "var/maildir/example.test");

  auto mx = BackendAddress::parse("mx");
  ASSERT_TRUE(mx.ok());
  EXPECT_EQ(mx->kind, BackendAddress::Kind::mx);
  EXPECT_FALSE(mx->live());
  EXPECT_EQ(mx->text, "mx");
}

TEST(ConfigBackend, Invalid) {
  for (const char* text : {"", "mail.example.test", "smtp:", "smtp:host:0", "smtp:host:65536", "smtp:host:port",
                           "smtp:::1", "smtp:[::1", "smtp:[::1]x", "smtp://host:25", "lmtp:", "maildir:",
                           "http:host:80", "smtp:bad_host"}) {
    auto backend = BackendAddress::parse(text);
    ASSERT_FALSE(backend.ok()) << text;
    EXPECT_NE(backend.error().message.find("smtp:HOST[:PORT], lmtp:HOST[:PORT], lmtp:/PATH/TO/SOCKET, maildir:PATH or mx"),
              std::string::npos)
        << backend.error().message;
  }
}

// ---------------------------------------------------------------------------------------------
// Filtering: [filter], [lists], [[dnsbl]], [traps] and per-domain overlays

const std::string domain_block = "[[domain]]\nname = \"example.test\"\nbackend = \"smtp:127.0.0.1:2626\"\n";

TEST(ConfigFilter, DefaultsForEveryKnownCheck) {
  Config config = parse_ok(minimal);
  EXPECT_EQ(config.policy.check("spf").action("fail").kind, Action::Kind::reject);
  EXPECT_EQ(config.policy.check("spf").action("temperror").kind, Action::Kind::tempfail);
  // A score (fitted on the corpus, docs/weights.md), never a refusal: RFC 5321 §4.1.4.
  EXPECT_EQ(config.policy.check("helo").action("not_fqdn").kind, Action::Kind::score);
  EXPECT_GT(config.policy.check("helo").action("not_fqdn").score, 0.0);
  EXPECT_FALSE(config.policy.check("sender_verify").enabled);
  EXPECT_EQ(config.policy.subject_tag, "[SPAM?] ");
  EXPECT_NE(config.policy.reply_text("rbl", "X", "zen.example 192.0.2.7").find("RBL Block: zen.example 192.0.2.7 (ID:X)"), std::string::npos);
}

TEST(ConfigFilter, ActionsScoresAndDecisions) {
  Config config = parse_ok(minimal + "[filter.checks.spf]\nfail = 7\nsoftfail = \"tempfail\"\nmandatory = true\n"
                                     "[filter.checks.helo]\nenabled = false\n");
  EXPECT_DOUBLE_EQ(config.policy.check("spf").action("fail").score, 7);
  EXPECT_EQ(config.policy.check("spf").action("softfail").kind, Action::Kind::tempfail);
  EXPECT_TRUE(config.policy.check("spf").mandatory);
  EXPECT_FALSE(config.policy.check("helo").enabled);
}

TEST(ConfigFilter, ErrorsNameLineAndKey) {
  EXPECT_EQ(error_of(minimal + "[filter.checks.spf]\nfial = \"reject\"\n"), "test.toml:4: filter.checks.spf.fial: unknown key");
  EXPECT_EQ(error_of(minimal + "[filter.checks.spf]\nfail = \"drop\"\n"),
            "test.toml:4: filter.checks.spf.fail: expected a score (number) or \"reject\", \"tempfail\" or \"accept\", got \"drop\"");
  EXPECT_EQ(error_of(minimal + "[filter.checks.nosuch]\n"), "test.toml:3: filter.checks.nosuch: unknown key");
  EXPECT_EQ(error_of(minimal + "[filter.replies]\nrbl = \"Blocked {why}\"\n"),
            "test.toml:4: filter.replies.rbl: unknown placeholder in \"Blocked {why}\": use {id}, {reason} or {contact}");
  EXPECT_EQ(error_of(minimal + "[lists]\nwhitelist = [\"192.0.2.1/33\"]\n"),
            "test.toml:4: lists.whitelist: invalid prefix length in \"192.0.2.1/33\" (0-32 for IPv4)");
  EXPECT_EQ(error_of(minimal + "[[dnsbl]]\nzone = \"zen.example\"\nresult = [{codes = \"127.0.0.9-127.0.0.2\", action = 1}]\n"),
            "test.toml:5: dnsbl[0].result[0].codes: expected an answer like 127.0.0.2 or a range 127.0.0.4-127.0.0.7, got \"127.0.0.9-127.0.0.2\"");
  EXPECT_EQ(error_of(minimal + "[traps]\naddresses = [\"nobody\"]\n"),
            "test.toml:4: traps.addresses: expected an address like trap@example.test, got \"nobody\"");
}

TEST(ConfigFilter, ListEntriesByKind) {
  Config config = parse_ok(minimal + "[lists]\nwhitelist = [\"192.0.2.0/24\", \"2001:db8::/32\", \"Partner.Example\", "
                                     "\"ceo@partner.example\", \"*@*.friends.example\"]\n");
  const auto& list = config.policy.whitelist;
  EXPECT_EQ(list.networks.size(), 2u);
  EXPECT_EQ(list.domains, std::vector<std::string>{"partner.example"});
  EXPECT_EQ(list.match("192.0.2.9", ""), "192.0.2.0/24");
  EXPECT_EQ(list.match("2001:db8::1", ""), "2001:db8::/32");
  EXPECT_EQ(list.match("198.51.100.1", "x@mail.partner.example"), "partner.example");
  EXPECT_EQ(list.match("198.51.100.1", "x@notpartner.example"), "");
  EXPECT_EQ(list.match("198.51.100.1", "CEO@partner.example"), "ceo@partner.example");
  EXPECT_EQ(list.match("198.51.100.1", "bob@mx.friends.example"), "*@*.friends.example");
  EXPECT_EQ(list.match("198.51.100.1", ""), "");
}

TEST(ConfigFilter, DnsListResults) {
  Config config = parse_ok(minimal + "[[dnsbl]]\nzone = \"zen.example\"\nother = 2\nresult = [\n"
                                     "  { codes = \"127.0.0.2\", meaning = \"SBL\", action = \"reject\" },\n"
                                     "  { codes = \"127.0.0.10-127.0.0.11\", meaning = \"PBL\", action = 3 }]\n");
  ASSERT_EQ(config.dns_lists.size(), 1u);
  const auto& list = config.dns_lists[0];
  EXPECT_EQ(list.meaning_of(0x7f000002), "SBL");
  EXPECT_EQ(list.meaning_of(0x7f00000b), "PBL");
  EXPECT_EQ(list.result_for(0x7f000005), nullptr);
  EXPECT_DOUBLE_EQ(list.other.score, 2);
}

TEST(ConfigFilter, DomainOverlaysTheGlobalPolicy) {
  Config config = parse_ok(minimal + "[filter]\ntag_threshold = 4\ncontact = \"pm@example.test\"\n" + domain_block +
                           "reject_threshold = 8\nfilter = { subject_tag = \"[JUNK] \" }\nlists = { whitelist = [\"192.0.2.1\"] }\n"
                           "[[domain]]\nname = \"other.test\"\nbackend = \"smtp:127.0.0.1:2626\"\n"
                           "[[domain]]\nname = \"third.test\"\nbackend = \"smtp:127.0.0.1:2626\"\n");
  ASSERT_EQ(config.domains.size(), 3u);
  const auto& first = config.domains[0].policy;
  EXPECT_DOUBLE_EQ(first.tag_threshold, 4);
  EXPECT_DOUBLE_EQ(first.reject_threshold, 8);
  EXPECT_EQ(first.subject_tag, "[JUNK] ");
  EXPECT_EQ(first.contact, "pm@example.test");
  EXPECT_EQ(first.whitelist.match("192.0.2.1", ""), "192.0.2.1");
  EXPECT_EQ(config.policy.whitelist.match("192.0.2.1", ""), "");
  EXPECT_NE(first.fingerprint, config.domains[1].policy.fingerprint);
  EXPECT_EQ(config.domains[1].policy.fingerprint, config.domains[2].policy.fingerprint);
}

}  // namespace
}  // namespace gatehouse

// ---------------------------------------------------------------------------------------------
// [ocr]

namespace gatehouse {
namespace {

TEST(ConfigOcr, DefaultsAndSettings) {
  Config defaults = parse_ok(minimal);
  EXPECT_TRUE(defaults.ocr.enabled);
  EXPECT_EQ(defaults.ocr.languages, "eng");
  EXPECT_EQ(defaults.ocr.workers, 1u);
  EXPECT_EQ(defaults.ocr.timeout, 10s);
  EXPECT_EQ(defaults.ocr.max_images, 5u);
  EXPECT_EQ(defaults.ocr.max_image_size, 5u * 1024 * 1024);
  EXPECT_EQ(defaults.ocr.max_pixels, 20000000u);
  EXPECT_EQ(defaults.ocr.min_side, 32u);
  EXPECT_TRUE(defaults.policy.check("ocr").enabled);
  Config set = parse_ok(minimal + "[ocr]\nworkers = 3\ntimeout = \"2500ms\"\nmax_images = 2\nmax_image_size = \"1M\"\n"
                                  "max_pixels = 4000000\nmin_side = 20\n");
  EXPECT_EQ(set.ocr.workers, 3u);
  EXPECT_EQ(set.ocr.timeout, 2500ms);
  EXPECT_EQ(set.ocr.max_image_size, 1024u * 1024);
  EXPECT_EQ(set.ocr.min_side, 20u);
}

TEST(ConfigOcr, MissingLanguageDataIsAnErrorAtItsKey) {
  const std::string error = error_of(minimal + "[ocr]\nlanguages = \"eng+zzz\"\n");
  EXPECT_NE(error.find("test.toml:4: ocr.languages: no zzz.traineddata in "), std::string::npos) << error;
  EXPECT_NE(error.find("tesseract-ocr-zzz"), std::string::npos) << error;
  const std::string elsewhere = error_of(minimal + "[ocr]\ntessdata = \"/nonexistent/tessdata\"\n");
  EXPECT_NE(elsewhere.find("test.toml:4: ocr.tessdata: no eng.traineddata in /nonexistent/tessdata"), std::string::npos)
      << elsewhere;
  EXPECT_NE(error_of(minimal + "[ocr]\nlanguages = \"../../etc/passwd\"\n").find("ocr.languages"), std::string::npos);
  // Off: nothing is looked for.
  EXPECT_FALSE(parse_ok(minimal + "[ocr]\nenabled = false\ntessdata = \"/nonexistent\"\n").ocr.enabled);
}

TEST(ConfigOcr, ValuesOutOfRangeAreErrors) {
  const std::string error = error_of(minimal + "[ocr]\nworkers = 0\nmax_images = 0\ntimeout = \"1ms\"\nbogus = 1\n");
  EXPECT_NE(error.find("test.toml:4: ocr.workers"), std::string::npos) << error;
  EXPECT_NE(error.find("test.toml:5: ocr.max_images"), std::string::npos) << error;
  EXPECT_NE(error.find("test.toml:6: ocr.timeout"), std::string::npos) << error;
  EXPECT_NE(error.find("test.toml:7: ocr.bogus: unknown key"), std::string::npos) << error;
}

}  // namespace
}  // namespace gatehouse
