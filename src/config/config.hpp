// The typed configuration: one place for every setting read from the TOML file
// (etc/gatehouse.toml documents each key). load_config() validates everything at start and reports
// errors as "FILE:LINE: key: problem".
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace gatehouse::content {
class WatchWordMatcher;
}

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

// What a check's finding does: add a score (negative = evidence of legitimacy) or decide outright.
// Written in the file as a number or as "reject", "tempfail" or "accept".
struct Action {
  enum class Kind { score, reject, tempfail, accept };
  Kind kind = Kind::score;
  double score = 0;
  static Action points(double value) { return {Kind::score, value}; }
  static Action of(Kind kind) { return {kind, 0}; }
  bool decides() const { return kind != Kind::score; }
  std::string text() const;         // "2.5", "reject", ...
};

// One check's settings in a policy: [filter.checks.NAME] (or [domain.filter.checks.NAME]).
struct CheckPolicy {
  bool enabled = true;
  bool mandatory = false;           // an error of the check tempfails instead of counting as no evidence
  std::map<std::string, Action> actions;   // finding → action; every known finding has an entry
  Action action(const std::string& finding) const;   // score 0 for an unknown finding
};

// White list, black list or No Host Checks entries: IPs/CIDRs (v4 and v6), domains (matching their
// subdomains too), addresses ("user@example.test") and patterns with * and ? ("*@*.example.test").
struct SenderList {
  std::vector<Network> networks;
  std::vector<std::string> domains;       // lower case
  std::vector<std::string> addresses;     // lower case
  std::vector<std::string> patterns;      // lower case
  std::vector<std::string> entries;       // as configured, for explanations
  bool empty() const { return networks.empty() && domains.empty() && addresses.empty() && patterns.empty(); }
  // The entry that matches the client IP or the envelope sender, or "" when none does.
  std::string match(std::string_view ip, std::string_view sender) const;
  std::string match_ip(std::string_view ip) const;
  std::string match_sender(std::string_view sender) const;
  void append(const SenderList& other);
  // Adds one entry as the configuration file writes it; the error says what is wrong with it.
  Status add(std::string_view entry);
};

// A content black list entry or watch word ([[watch_words]], [[domain.watch_words]]): looked for in
// the message's normalised text (docs/content.md "Watch words").
struct WatchWord {
  enum class Kind { word, phrase, regex };
  Kind kind = Kind::word;
  std::string pattern;              // as configured
  std::string name;                 // shown in the explanation and as {reason}; "" = the pattern
  Action action;
  const std::string& label() const { return name.empty() ? pattern : name; }
};

// How a filtering decision is made for a recipient domain: [filter] overlaid by [domain.filter].
struct FilterPolicy {
  double tag_threshold = 5.0;
  double reject_threshold = 10.0;
  std::string subject_tag = "[SPAM?] ";
  std::string contact;              // {contact} in reply texts: whom a wrongly rejected sender calls
  std::map<std::string, std::string> replies;       // reply kind → text with {id} {reason} {contact}
  std::map<std::string, CheckPolicy, std::less<>> checks;   // every known check has an entry
  SenderList whitelist, blacklist, no_host_checks;
  // File extensions refused as attachments, also inside archives ([filter] blocked_attachments).
  std::vector<std::string> blocked_attachments = {
      "exe", "scr", "com", "pif", "bat", "cmd", "cpl", "msi", "msc", "js", "jse", "vbs", "vbe", "wsf", "wsh", "hta",
      "ps1", "reg", "scf", "lnk", "jar", "iso", "img", "vhd", "vhdx", "docm", "dotm", "xlsm", "xltm", "xlam", "pptm",
      "potm", "ppam", "sldm"};
  std::vector<WatchWord> watch_words;   // [[watch_words]], then the domain's [[domain.watch_words]]
  std::shared_ptr<const content::WatchWordMatcher> watch_word_matcher;   // watch_words compiled at load
  // Greylisting of first-seen (client network, sender, recipient) triplets at RCPT ([greylisting]
  // enabled, overridden per domain by greylisting = true|false; docs/filtering.md "Greylisting").
  // Not part of the fingerprint: it decides per recipient, never at DATA.
  bool greylisting = false;
  std::string fingerprint;          // equal fingerprints = same policy (recipients may share a transaction)

  const CheckPolicy& check(std::string_view name) const;
  void update_fingerprint();        // after changing any field
  std::string reply_text(const std::string& kind, const std::string& id, const std::string& reason) const;
};

struct DomainConfig {
  std::string name;                 // lower case
  BackendAddress backend;
  RecipientValidation recipients = RecipientValidation::list;
  std::vector<std::string> addresses;  // lower case, for recipients = list
  double tag_threshold = 5.0;       // = policy.tag_threshold
  double reject_threshold = 10.0;   // = policy.reject_threshold
  FilterPolicy policy;
};

// A DNS block or allow list (RFC 5782): the client's reversed address is looked up under `zone`
// and each answer address maps to a meaning and an action.
struct DnsListResult {
  std::uint32_t first = 0, last = 0;     // answer range, host byte order (127.0.0.2 … 127.0.0.2)
  std::string meaning;                   // "SBL", "XBL", ...
  Action action;
};
struct DnsListConfig {
  std::string zone;
  bool ipv6 = true;                      // also query IPv6 clients (nibble form, RFC 5782 §2.4)
  std::vector<DnsListResult> results;
  Action other = Action::points(1.0);    // an answer not in `results`
  std::string meaning_of(std::uint32_t answer) const;
  const DnsListResult* result_for(std::uint32_t answer) const;
};

// Block lists of the names in a message's links ([uribl], [[uribl.zone]]; docs/content.md "URI block
// lists"): DBL/SURBL/URIBL-style zones asked for each link's registrable domain (or reversed IPv4
// address), and a local list of malware and phishing sites.
struct UriListConfig {
  DnsListConfig list;                    // zone, result codes → meaning → action, other
  bool by_ip = false;                    // kind = "ip": numeric hosts, reversed (RFC 5782 §2.1)
};
struct UriblConfig {
  std::vector<UriListConfig> zones;
  std::size_t max_domains = 20;          // distinct names looked up per message and zone
  std::vector<std::string> local_block;  // lower-case domains (their subdomains match too) and IP addresses
  std::filesystem::path local_block_file;   // one entry a line, '#' comments; read at start
};

// The phishing check ([phishing]; docs/content.md "Phishing").
struct PhishingConfig {
  // Brands whose look-alikes are suspect (registrable domains, lower case). The default is a short
  // list of the names phishing most often imitates.
  std::vector<std::string> protected_domains = {
      "paypal.com", "apple.com", "icloud.com", "microsoft.com", "outlook.com", "google.com",
      "gmail.com", "amazon.com", "netflix.com", "facebook.com", "instagram.com", "linkedin.com", "dhl.com",
      "fedex.com", "docusign.com", "dropbox.com", "chase.com", "wellsfargo.com", "bankofamerica.com"};
};

// Sender address verification by callout (RFC 5321 §3.5 alternatives, as MTAs practise it).
struct SenderVerifyConfig {
  std::chrono::seconds positive_ttl{std::chrono::hours(24)};
  std::chrono::seconds negative_ttl{std::chrono::hours(2)};
  std::chrono::seconds timeout{30};
  std::size_t per_domain_per_minute = 10;   // callouts to one domain; above it: no evidence
  std::string probe_sender;                  // MAIL FROM of the callout; "" = the null sender
};

// Protocol abuse and harvesting limits (per client IP).
struct AbuseConfig {
  std::chrono::milliseconds pregreet_pause{std::chrono::milliseconds(0)};  // wait before the banner for unknown clients
  std::chrono::seconds pregreet_ttl{std::chrono::hours(24)};   // how long a client that sent clean mail is known
  std::size_t max_rsets = 20;
  std::size_t max_unknown_recipients = 10;   // per connection: 421 and a block
  std::chrono::seconds harvest_block{std::chrono::hours(1)};
  std::size_t max_connections_per_minute = 0;   // 0 = unlimited
  std::size_t max_messages_per_minute = 0;
  std::chrono::milliseconds tarpit_delay{std::chrono::milliseconds(0)};   // per reply to suspicious clients
};

// Spam traps: addresses nobody legitimate writes to.
struct TrapConfig {
  std::vector<std::string> addresses;          // lower case
  std::chrono::seconds bad_mark{std::chrono::hours(24)};   // how long the client IP stays marked
};

// The adaptive classifier ([classifier]; docs/content.md "Classifier"). The check itself and the
// scores of its findings are [filter.checks.classifier].
struct ClassifierConfig {
  bool enabled = true;                         // load the learned tokens and learn from traffic
  std::size_t min_learned = 200;               // ham and spam messages each before it scores
  bool autolearn = true;                       // learn confidently rejected messages as spam
  double autolearn_spam_margin = 5.0;          // ... when score >= reject_threshold + this
  bool learn_from_replies = true;              // a local user's reply makes the answered message ham
  bool learn_on_release = true;                // `gatehouse release` learns the message as ham
  std::chrono::seconds token_max_age{std::chrono::hours(24 * 180)};   // unseen for longer: dropped
  std::size_t max_learned = 50000;             // more messages of one kind: every count halved
};

// The antivirus check ([antivirus]; docs/content.md "Antivirus"): clamd scans the raw message over
// INSTREAM. Off by default: it needs a running clamd.
struct AntivirusConfig {
  enum class Oversize { skip, tempfail };
  enum class Failure { tempfail, accept };
  bool enabled = false;
  std::string socket = "/var/run/clamav/clamd.ctl";   // "unix:/path", "/path" or "tcp:IP:PORT" (Debian's clamd)
  std::chrono::milliseconds timeout{30000};          // the whole scan: connect, send, verdict
  std::size_t max_size = 25 * 1024 * 1024;            // bytes sent; keep it <= clamd's StreamMaxLength (25M)
  Oversize on_oversize = Oversize::skip;              // larger messages: a note, not scanned (or tempfail)
  Failure on_failure = Failure::tempfail;             // scanner down/time-out/error: 451 4.7.1 (or accept with a note)
};

// OCR of images ([ocr]; docs/content.md "OCR"): the text of image attachments and inline images,
// read by tesseract for the watch words and the classifier. The check itself is [filter.checks.ocr].
struct OcrConfig {
  bool enabled = true;
  std::string languages = "eng";                      // tesseract's form: "eng", "eng+deu"
  std::filesystem::path tessdata;                     // "" = $TESSDATA_PREFIX, else Debian's directory
  unsigned workers = 1;                               // recognition threads (read at start)
  std::chrono::milliseconds timeout{10000};           // per message: all its images, waiting included
  std::size_t max_images = 5;                         // read per message
  std::size_t max_image_size = 5 * 1024 * 1024;       // encoded bytes of one image
  std::size_t max_pixels = 20 * 1000 * 1000;          // width × height of one image (a GIF's frames together)
  unsigned min_side = 32;                             // smaller images (tracking pixels, icons) are not read
};

// Greylisting ([greylisting]; docs/filtering.md "Greylisting"): the timings, shared by every
// domain; whether it applies is FilterPolicy::greylisting (the domain's setting over `enabled`).
struct GreylistingConfig {
  bool enabled = false;                               // off by default: an upgrade does not start delaying mail
  std::chrono::seconds delay{300};                    // a retry sooner than this after first sight is deferred again
  std::chrono::seconds retry_window{std::chrono::hours(24)};          // a retry later than this after first sight starts over
  std::chrono::seconds pass_lifetime{std::chrono::hours(24 * 36)};    // a passed triplet is known this long after its last use
  std::size_t auto_whitelist_after = 5;               // passed triplets after which a client network is not greylisted (0 = never)
};

struct ListenerConfig {
  std::string address;              // "127.0.0.1" or "::1"
  std::uint16_t port = 25;
  TlsPolicy starttls = TlsPolicy::optional;   // "optional" without a [tls] certificate: not offered
  bool proxy_protocol = false;
  std::string text;                 // "127.0.0.1:2525" as configured
};

// The web administration's HTTP server ([web]; src/web/, docs/web.md).
struct WebConfig {
  bool enabled = true;
  std::vector<ListenerConfig> listeners;      // default 127.0.0.1:8080 (starttls and proxy_protocol unused)
  std::filesystem::path tls_certificate;      // both set: HTTPS on every web listener, cookies Secure
  std::filesystem::path tls_key;
  std::chrono::seconds session_lifetime{std::chrono::hours(12)};
  std::size_t max_connections = 64;
  std::size_t max_header_size = 16 * 1024;
  std::size_t max_body_size = 1024 * 1024;
  std::chrono::seconds read_timeout{30};      // to receive one whole request
  std::chrono::seconds idle_timeout{60};      // between requests on a kept-alive connection
  std::size_t login_max_failures = 5;         // per client IP and per user name within login_failure_window
  std::chrono::seconds login_failure_window{300};
  std::vector<Network> metrics_networks;      // may read /metrics without logging in; default loopback
  unsigned threads = 2;                       // threads for the API's store queries and password hashing
  std::filesystem::path static_dir;           // the built interface (web/dist); empty: the build's (web::default_static_dir())
  bool tls_configured() const { return !tls_certificate.empty() && !tls_key.empty(); }
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
  std::chrono::seconds dns_cache_max_ttl{300};   // answers kept for their TTL, at most this; 0 = no cache

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

  // [filter], [lists], [[dnsbl]], [sender_verify], [abuse], [traps]
  FilterPolicy policy;              // the global policy (domains overlay it)
  std::vector<DnsListConfig> dns_lists;
  UriblConfig uribl;                // [uribl], [[uribl.zone]]
  PhishingConfig phishing;          // [phishing]
  SenderVerifyConfig sender_verify;
  AbuseConfig abuse;
  TrapConfig traps;
  AntivirusConfig antivirus;        // [antivirus]
  ClassifierConfig classifier;      // [classifier]
  OcrConfig ocr;                    // [ocr]
  GreylistingConfig greylisting;    // [greylisting]

  std::vector<DomainConfig> domains;

  WebConfig web;                    // [web]

  std::filesystem::path spool_dir() const { return state_dir / "spool"; }
  std::filesystem::path database_path() const { return state_dir / "gatehouse.db"; }
  std::filesystem::path pid_file() const { return state_dir / "gatehouse.pid"; }
};

// Reads and validates a configuration file. The error names file, line and key.
Result<Config> load_config(const std::filesystem::path& file);
// Same, from text (for tests); `name` is used in error messages.
Result<Config> parse_config(std::string_view text, const std::string& name);

}  // namespace gatehouse
