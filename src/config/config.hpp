// The typed configuration: one place for every setting read from the TOML file
// (etc/gatehouse.toml documents each key). load_config() validates everything at start and reports
// errors as "FILE:LINE: key: problem".
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace gatehouse {

enum class TlsPolicy { off, optional, required };
enum class RecipientValidation { list, backend, any };
enum class BareNewlinePolicy { normalize, reject };

// An IPv4 or IPv6 network in CIDR form ("192.0.2.0/24", "2001:db8::/32", "127.0.0.1").
struct Network {
  std::string text;
  std::uint8_t family = 4;          // 4 or 6
  std::uint8_t bytes[16] = {};
  int prefix = 0;
  static Result<Network> parse(std::string_view text);
  bool contains(std::string_view ip) const;
};
bool in_networks(const std::vector<Network>& networks, std::string_view ip);

// Where a domain's mail goes.
struct BackendAddress {
  enum class Kind { smtp, lmtp_tcp, lmtp_unix, maildir, mx };
  Kind kind = Kind::smtp;
  std::string host;                 // smtp / lmtp_tcp
  std::uint16_t port = 25;
  std::string path;                 // lmtp_unix socket or maildir directory
  std::string text;                 // as configured, for logs
  static Result<BackendAddress> parse(std::string_view text);
  bool live() const { return kind == Kind::smtp || kind == Kind::lmtp_tcp || kind == Kind::lmtp_unix; }
  bool lmtp() const { return kind == Kind::lmtp_tcp || kind == Kind::lmtp_unix; }
};

struct DomainConfig {
  std::string name;                 // lower case
  BackendAddress backend;
  RecipientValidation recipients = RecipientValidation::list;
  std::vector<std::string> addresses;  // lower case, for recipients = list
  double tag_threshold = 5.0;
  double reject_threshold = 10.0;
};

struct ListenerConfig {
  std::string address;              // "127.0.0.1" or "::1"
  std::uint16_t port = 25;
  TlsPolicy starttls = TlsPolicy::optional;   // "optional" without a [tls] certificate: not offered
  bool proxy_protocol = false;
  std::string text;                 // "127.0.0.1:2525" as configured
};

struct Config {
  std::filesystem::path file;       // the file it was read from

  // [server]
  std::string hostname = "localhost";
  std::vector<ListenerConfig> listeners;
  std::filesystem::path state_dir = "var";
  std::vector<Network> trusted_networks;
  std::string user;                 // drop to this user after binding when started as root
  unsigned threads = 0;             // 0 = one per core
  std::size_t max_connections = 2000;
  std::size_t max_connections_per_ip = 50;
  std::size_t max_message_size = 50 * 1024 * 1024;
  std::size_t max_recipients = 100;
  std::size_t max_errors = 20;      // protocol errors before 421
  std::chrono::seconds command_timeout{300};   // RFC 5321 §4.5.3.2.7: at least 5 minutes
  std::chrono::seconds data_timeout{600};      // §4.5.3.2.6: 10 minutes between data blocks
  BareNewlinePolicy bare_newline = BareNewlinePolicy::normalize;
  std::string banner = "ESMTP gatehouse";

  // [tls]
  std::filesystem::path tls_certificate;
  std::filesystem::path tls_key;
  // STARTTLS can be offered only with a certificate and key; load_config() rejects "required"
  // without them, and an "optional" listener without them simply does not offer STARTTLS.
  bool tls_configured() const { return !tls_certificate.empty() && !tls_key.empty(); }

  // [dns]
  std::vector<std::string> nameservers;   // "127.0.0.1:5353"; empty = system resolv.conf
  std::chrono::milliseconds dns_timeout{3000};

  // [delivery]
  std::chrono::seconds backend_timeout{60};      // one backend command / the whole DATA hand-off
  std::chrono::seconds connect_timeout{10};
  std::vector<std::chrono::seconds> retry_schedule{std::chrono::seconds(60), std::chrono::seconds(300),
                                                   std::chrono::seconds(900), std::chrono::seconds(3600)};
  std::chrono::seconds max_queue_time{std::chrono::hours(24 * 5)};
  std::size_t backend_pool_size = 32;           // idle connections kept per back-end
  std::uint16_t outbound_port = 25;             // port of remote MX hosts (tests use another)

  // [store]
  unsigned retention_days = 14;

  std::vector<DomainConfig> domains;

  std::filesystem::path spool_dir() const { return state_dir / "spool"; }
  std::filesystem::path database_path() const { return state_dir / "gatehouse.db"; }
  std::filesystem::path pid_file() const { return state_dir / "gatehouse.pid"; }
};

// Reads and validates a configuration file. The error names file, line and key.
Result<Config> load_config(const std::filesystem::path& file);
// Same, from text (for tests); `name` is used in error messages.
Result<Config> parse_config(std::string_view text, const std::string& name);

}  // namespace gatehouse
