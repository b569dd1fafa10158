// SPF, the Sender Policy Framework (RFC 7208): may this client IP send mail for the domain in the
// MAIL FROM (or HELO) identity?
//
// check_host() (§4) fetches the domain's "v=spf1" TXT record (§3, §4.4, §4.5), parses it (§4.6,
// §5 mechanisms, §6 modifiers, §7 macros), evaluates its terms in order against the client IP
// within the DNS lookup limits (§4.6.4), and returns one of the seven results of §2.6. A failing
// result carries the domain's explanation (exp=, §6.2).
//
// The pieces are split so they can be tested on their own: record.cpp parses records, macro.cpp
// expands macros, evaluator.cpp runs check_host() over an abstract DNS (SpfDns), for which
// ResolverSpfDns adapts the gateway's c-ares resolver (dns/resolver.hpp).
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "dns/resolver.hpp"

namespace gatehouse::checks::spf {

// --- results (RFC 7208 §2.6) ----------------------------------------------------------------------

enum class SpfResult { none, neutral, pass, fail, softfail, temperror, permerror };

// "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" (the §2.6 names, lower case).
std::string_view to_string(SpfResult result);

struct SpfOutcome {
  SpfResult result = SpfResult::none;
  // For "fail": the explanation of §6.2 (the exp= text of the domain that failed the client, after
  // macro expansion), or the request's default_explanation when there is none. Empty otherwise.
  std::string explanation;
  // Why: the reason of a permerror/temperror/none ("more than 10 DNS lookups", "include:x: no SPF
  // record", ...) or the term that decided ("-all", "ip4:192.0.2.0/24", "default: neutral").
  std::string problem;
  // The domain whose policy was checked (the identity's domain; §4.1 <domain>), and which
  // identity that was: "mailfrom" (also for a null sender, whose MAIL FROM identity is
  // postmaster@<helo> by §2.4: then `domain` is the HELO name) or "helo" (check_helo()).
  std::string domain;
  std::string identity;
};

struct SpfRequest {
  std::string ip;                   // the SMTP client's address; IPv4-mapped IPv6 counts as IPv4 (§5)
  std::string helo;                 // the HELO/EHLO name
  std::string sender;               // the MAIL FROM address; empty = null reverse-path (§2.4)
  std::string receiver_hostname;    // %{r} (§7.3); "unknown" when empty
  std::string default_explanation;  // the explanation of a "fail" without usable exp= (§6.2)
  std::int64_t timestamp = 0;       // %{t} in seconds since the epoch; 0 = now
  // §4.6.4: "a limit on the maximum amount of elapsed time to evaluate check_host() ... SHOULD allow
  // at least 20 seconds"; past it the result is temperror. Checked before each lookup, so a check
  // can overrun it by at most one lookup's resolver timeout.
  std::chrono::milliseconds time_limit{std::chrono::seconds(20)};
};

// --- DNS as SPF needs it --------------------------------------------------------------------------

// The lookups of check_host(), abstract so the evaluator can run over an in-memory DNS in tests.
// Statuses are those of dns::Resolver: nxdomain and nodata are the "void" answers of §4.6.4;
// servfail, timeout and error make a lookup fail (temperror where §5 says so).
class SpfDns {
 public:
  virtual ~SpfDns() = default;
  // One entry per TXT record, its character-strings concatenated (§3.3).
  virtual boost::asio::awaitable<dns::DnsAnswer<std::string>> txt(std::string name) = 0;
  // Textual addresses.
  virtual boost::asio::awaitable<dns::DnsAnswer<std::string>> a(std::string name) = 0;
  virtual boost::asio::awaitable<dns::DnsAnswer<std::string>> aaaa(std::string name) = 0;
  // The PTR names of an address (the reverse name is built from the textual IP).
  virtual boost::asio::awaitable<dns::DnsAnswer<std::string>> ptr(std::string ip) = 0;
  virtual boost::asio::awaitable<dns::DnsAnswer<dns::MxRecord>> mx(std::string name) = 0;
};

// SpfDns over the gateway's resolver. The resolver must outlive every lookup.
class ResolverSpfDns final : public SpfDns {
 public:
  explicit ResolverSpfDns(dns::Resolver& resolver) : resolver_(resolver) {}
  boost::asio::awaitable<dns::DnsAnswer<std::string>> txt(std::string name) override;
  boost::asio::awaitable<dns::DnsAnswer<std::string>> a(std::string name) override;
  boost::asio::awaitable<dns::DnsAnswer<std::string>> aaaa(std::string name) override;
  boost::asio::awaitable<dns::DnsAnswer<std::string>> ptr(std::string ip) override;
  boost::asio::awaitable<dns::DnsAnswer<dns::MxRecord>> mx(std::string name) override;

 private:
  dns::Resolver& resolver_;
};

// --- check_host() -----------------------------------------------------------------------------------

// The MAIL FROM identity (§2.4): the domain of `sender`, or, for a null sender, postmaster@<helo>.
// A domain that is not a valid multi-label name gives "none" without any lookup (§4.3).
boost::asio::awaitable<SpfOutcome> check_host(SpfDns& dns, SpfRequest request);
// The HELO identity alone (§2.3): <domain> is the HELO name, <sender> postmaster@<helo>.
boost::asio::awaitable<SpfOutcome> check_helo(SpfDns& dns, SpfRequest request);

// --- building blocks (record.cpp, macro.cpp), public for tests --------------------------------------

// An IPv4 or IPv6 address in network byte order. IPv4 uses bytes[0..3].
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// Parses "192.0.2.1", "2001:db8::1" or "[2001:db8::1]"; an IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) comes back as IPv4 (§5: it MUST be treated as IPv4).
std::optional<IpAddress> parse_ip(std::string_view text);
// Whether `address` lies in network/prefix (same family only).
bool in_network(const IpAddress& address, const IpAddress& network, int prefix);

enum class Qualifier { pass, fail, softfail, neutral };  // "+", "-", "~", "?" (§4.6.2)
enum class MechanismKind { all, include, a, mx, ptr, ip4, ip6, exists };

std::string_view to_string(MechanismKind kind);

struct Mechanism {
  Qualifier qualifier = Qualifier::pass;
  MechanismKind kind = MechanismKind::all;
  std::string domain_spec;  // include, exists (required); a, mx, ptr (empty = <domain>)
  int cidr4 = 32;           // a, mx, ip4 (§5.6 ip4-cidr-length)
  int cidr6 = 128;          // a, mx, ip6
  IpAddress network;        // ip4, ip6
  std::string text;         // the term as written
};

struct SpfRecord {
  std::vector<Mechanism> mechanisms;    // in order
  std::optional<std::string> redirect;  // redirect= domain-spec (§6.1)
  std::optional<std::string> exp;       // exp= domain-spec (§6.2)
};

// Whether a TXT record is an SPF record: it begins with "v=spf1" (any case) followed by a space or
// its end (§4.5).
bool is_spf_record(std::string_view text);
// Parses a whole record, "v=spf1" included. Any syntax error anywhere (§4.6) is an Error whose
// message names the term; the evaluator turns it into permerror.
Result<SpfRecord> parse_record(std::string_view text);

// Where a macro-string is used: domain-specs allow the macro letters s l o d i p h v; the
// explanation text of exp= also c r t (§7.1, §7.3).
enum class MacroUse { domain, explanation };

// Checks the syntax of a macro-string (§7.1), or of an explain-string (MacroUse::explanation: an
// explain-string may also hold spaces).
Status check_macro_string(std::string_view text, MacroUse use);
// Checks a domain-spec: a macro-string that ends in a macro or in "." toplabel ["."] (§7.1).
Status check_domain_spec(std::string_view text);
// Whether a macro-string uses %{p}, which costs DNS lookups (§7.3), so the evaluator can find the
// validated domain name before expanding.
bool uses_validated_domain(std::string_view text);

// The values the macro letters expand to (§7.3).
struct MacroValues {
  std::string sender;            // s: <sender>, local-part@domain
  std::string local_part;        // l
  std::string sender_domain;     // o
  std::string domain;            // d: the current <domain>
  IpAddress ip;                  // i, c, v
  bool ip_upper_hex = false;     // i of IPv6: hex digits as the address was written (see macro.cpp)
  std::string validated_domain;  // p: "unknown" when none
  std::string helo;              // h
  std::string receiver;          // r: "unknown" when empty
  std::int64_t timestamp = 0;    // t
};

// Expands a macro-string (or explain-string). Syntax errors are Errors.
Result<std::string> expand_macros(std::string_view text, const MacroValues& values, MacroUse use);
// Expands a domain-spec into a target name: macros, then the trailing dot removed and, past 253
// characters, labels removed from the left (§7.3 last paragraph; §4.8).
Result<std::string> expand_domain_spec(std::string_view text, const MacroValues& values);

// Text for messages: bytes outside printable ASCII (and the backslash) as \xHH, so a problem quoting
// a record or name is safe to log and print.
std::string printable(std::string_view text);

// Whether `name` can be queried as a domain name: non-empty labels of at most 63 octets and at
// most 253 octets in all (RFC 1035 §2.3.4), a trailing dot allowed, no control character (NUL, CR, LF, …).
bool queryable_name(std::string_view name);

}  // namespace gatehouse::checks::spf
