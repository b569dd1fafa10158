// SPF evaluation: check_host() of RFC 7208.
//
// §2.3/§2.4: the HELO identity and the MAIL FROM identity (postmaster@<helo> for a null sender,
// "postmaster" for an empty local-part, §4.3). §4.3: a malformed or single-label <domain> gives
// "none" without a lookup. §4.4/§4.5: the TXT lookup (server failure or timeout → temperror,
// NXDOMAIN or no records → none), selection of the "v=spf1" record (more than one → permerror).
// §4.6: the record is parsed as a whole first (any syntax error → permerror). §4.6.4: at most 10
// terms that query DNS (include, a, mx, ptr, exists, redirect) and at most 2 void lookups per
// check; at most 10 MX names (more → permerror) and 10 PTR names (the rest ignored) per mechanism.
// §4.7/§4.8: the default result neutral, <domain> and macro-expanded <target-name>s. §5: each
// mechanism's matching rules (IPv4-mapped IPv6 clients are IPv4; A for IPv4, AAAA for IPv6 clients;
// include's result mapping of §5.2; ptr's validated names of §5.5; exists always asks for A).
// §6.1: redirect= applies after all mechanisms, replacing the result (none → permerror). §6.2:
// exp= is fetched only for a "fail" of the record that carries it, and any problem with it is
// ignored; the default explanation is used instead. §7: macros (macro.cpp), %{p} per §7.3.
// §4.6.4 (last paragraph): an elapsed-time limit per check, past which the result is temperror.
#include <arpa/inet.h>

#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <fmt/format.h>

#include "checks/spf/spf.hpp"
#include "common/text.hpp"

namespace gatehouse::checks::spf {

namespace asio = boost::asio;
using dns::DnsAnswer;
using dns::DnsStatus;
using dns::MxRecord;

namespace {

constexpr int kMaxDnsTerms = 10;        // §4.6.4: include, a, mx, ptr, exists and redirect
constexpr int kMaxVoidLookups = 2;      // §4.6.4: answers with no records, or NXDOMAIN
constexpr std::size_t kMaxNamesPerLookup = 10;  // §4.6.4: MX names per "mx", PTR names per "ptr"/%{p}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view left, std::string_view right) {
  if (left.size() != right.size()) return false;
  for (std::size_t i = 0; i < left.size(); ++i)
    if (lower(left[i]) != lower(right[i])) return false;
  return true;
}

std::string_view without_trailing_dot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

bool lookup_failed(DnsStatus status) {
  return status == DnsStatus::servfail || status == DnsStatus::timeout || status == DnsStatus::error;
}

bool void_answer(const DnsStatus status) { return status == DnsStatus::nxdomain || status == DnsStatus::nodata; }

// §4.3: an identity's domain must be a multi-label domain name with labels of 1-63 octets (253 in
// all); a domain literal ("[192.0.2.1]") or an address is not one. The top label must look like a
// top-level label (letters, digits, hyphens; not all digits).
bool valid_identity_domain(std::string_view domain) {
  domain = without_trailing_dot(domain);
  if (!queryable_name(domain) || domain.find('.') == std::string_view::npos) return false;
  for (unsigned char c : domain)
    if (c < 0x21 || c > 0x7e) return false;
  const std::string_view top = domain.substr(domain.rfind('.') + 1);
  bool all_digits = true;
  for (char c : top) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-') return false;
    if (c < '0' || c > '9') all_digits = false;
  }
  return !all_digits;
}

// One check_host() run: the DNS, the client, and the counters shared by every nested include and
// redirect (§4.6.4 limits are per SPF check, not per record).
struct Evaluation {
  SpfDns& dns;
  IpAddress ip;
  std::string ip_text;  // canonical text of `ip`, for PTR lookups
  MacroValues macros;   // everything but d, which each record level sets
  int dns_terms = 0;
  int void_lookups = 0;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();

  bool out_of_time() const { return std::chrono::steady_clock::now() > deadline; }
};

std::string out_of_time_problem() { return "SPF evaluation exceeded its time limit (RFC 7208 §4.6.4)"; }

struct MechanismMatch {
  enum class Kind { no_match, match, temperror, permerror } kind = Kind::no_match;
  std::string problem;
};

MechanismMatch permerror(std::string problem) { return {MechanismMatch::Kind::permerror, std::move(problem)}; }
MechanismMatch temperror(std::string problem) { return {MechanismMatch::Kind::temperror, std::move(problem)}; }
MechanismMatch no_match() { return {}; }
MechanismMatch matched() { return {MechanismMatch::Kind::match, {}}; }

// Counts a term that queries DNS; false when that exceeds the limit of §4.6.4.
bool count_dns_term(Evaluation& eval) { return ++eval.dns_terms <= kMaxDnsTerms; }

std::string too_many_terms() { return fmt::format("more than {} DNS-querying terms (RFC 7208 §4.6.4)", kMaxDnsTerms); }

// Counts a void lookup; false when that exceeds the limit of §4.6.4.
bool count_void_lookup(Evaluation& eval) { return ++eval.void_lookups <= kMaxVoidLookups; }

std::string too_many_voids() { return fmt::format("more than {} void DNS lookups (RFC 7208 §4.6.4)", kMaxVoidLookups); }

bool any_address_in(const std::vector<std::string>& addresses, const IpAddress& client, int prefix) {
  for (const std::string& text : addresses) {
    const std::optional<IpAddress> address = parse_ip(text);
    if (address && in_network(client, *address, prefix)) return true;
  }
  return false;
}

// A for IPv4 clients, AAAA for IPv6 clients (§5.3, §5.4, §5.5).
asio::awaitable<DnsAnswer<std::string>> lookup_addresses(Evaluation& eval, std::string name) {
  if (eval.ip.v6) {
    DnsAnswer<std::string> answer = co_await eval.dns.aaaa(std::move(name));
    co_return answer;
  }
  DnsAnswer<std::string> answer = co_await eval.dns.a(std::move(name));
  co_return answer;
}

// The client's PTR names, at most the first 10 (§4.6.4), and whether the lookup failed.
struct PtrNames {
  DnsStatus status = DnsStatus::error;
  std::vector<std::string> names;
};

asio::awaitable<PtrNames> lookup_ptr_names(Evaluation& eval) {
  DnsAnswer<std::string> answer = co_await eval.dns.ptr(eval.ip_text);
  PtrNames result;
  result.status = answer.status;
  if (answer.ok()) {
    for (std::string& name : answer.records) {
      if (result.names.size() == kMaxNamesPerLookup) break;
      result.names.push_back(std::string(without_trailing_dot(name)));
    }
  }
  co_return result;
}

// Whether `name` has an address record equal to the client's address ("validated", §5.5). A DNS
// error while looking it up skips the name.
asio::awaitable<bool> name_validates(Evaluation& eval, std::string name) {
  if (!queryable_name(name)) co_return false;
  DnsAnswer<std::string> answer = co_await lookup_addresses(eval, std::move(name));
  if (!answer.ok()) co_return false;
  co_return any_address_in(answer.records, eval.ip, eval.ip.v6 ? 128 : 32);
}

// %{p} (§7.3): a validated PTR name of the client, preferring <domain> itself, then a subdomain of
// it, then any; "unknown" when there is none.
asio::awaitable<std::string> find_validated_domain(Evaluation& eval, std::string domain) {
  PtrNames ptr = co_await lookup_ptr_names(eval);
  std::string exact;
  std::string subdomain;
  std::string other;
  for (const std::string& name : ptr.names) {
    const bool validated = co_await name_validates(eval, name);
    if (!validated) continue;
    if (iequals(without_trailing_dot(name), without_trailing_dot(domain))) {
      exact = name;
      break;
    }
    if (subdomain.empty() && within_domain(name, domain)) subdomain = name;
    if (other.empty()) other = name;
  }
  if (!exact.empty()) co_return exact;
  if (!subdomain.empty()) co_return subdomain;
  if (!other.empty()) co_return other;
  co_return std::string("unknown");
}

// The <target-name> of a term: <domain> when the domain-spec is absent, else its expansion.
asio::awaitable<Result<std::string>> expand_target(Evaluation& eval, MacroValues values, std::string spec) {
  if (spec.empty()) co_return Result<std::string>(values.domain);
  if (uses_validated_domain(spec)) {
    std::string validated = co_await find_validated_domain(eval, values.domain);
    values.validated_domain = std::move(validated);
  }
  co_return expand_domain_spec(spec, values);
}

// §6.2: the explanation string of exp=, or empty when any step fails (no or several TXT records,
// DNS errors, bad syntax, non-ASCII text): then the caller proceeds as if there were no exp=.
asio::awaitable<std::string> fetch_explanation(Evaluation& eval, MacroValues values, std::string spec) {
  Result<std::string> target = co_await expand_target(eval, values, spec);
  if (!target || !queryable_name(*target)) co_return std::string();
  DnsAnswer<std::string> answer = co_await eval.dns.txt(*target);
  if (!answer.ok() || answer.records.size() != 1) co_return std::string();
  const std::string text = answer.records.front();
  if (uses_validated_domain(text)) {
    std::string validated = co_await find_validated_domain(eval, values.domain);
    values.validated_domain = std::move(validated);
  }
  Result<std::string> expanded = expand_macros(text, values, MacroUse::explanation);
  if (!expanded) co_return std::string();
  co_return std::move(*expanded);
}

asio::awaitable<SpfOutcome> evaluate_domain(Evaluation& eval, std::string domain);

SpfResult result_of(Qualifier qualifier) {
  switch (qualifier) {
    case Qualifier::pass: return SpfResult::pass;
    case Qualifier::fail: return SpfResult::fail;
    case Qualifier::softfail: return SpfResult::softfail;
    case Qualifier::neutral: return SpfResult::neutral;
  }
  return SpfResult::neutral;
}

// a (§5.3) and mx (§5.4).
asio::awaitable<MechanismMatch> match_a_or_mx(Evaluation& eval, const MacroValues& values, const Mechanism& mechanism) {
  if (!count_dns_term(eval)) co_return permerror(too_many_terms());
  Result<std::string> target = co_await expand_target(eval, values, mechanism.domain_spec);
  if (!target) co_return permerror(fmt::format("{}: {}", printable(mechanism.text), target.error().message));
  // A target that cannot be a DNS name (empty or over-long label) cannot exist: no match (§4.3 by
  // analogy; RFC 7208 leaves the case undefined).
  if (!queryable_name(*target)) co_return no_match();
  const int prefix = eval.ip.v6 ? mechanism.cidr6 : mechanism.cidr4;

  if (mechanism.kind == MechanismKind::a) {
    DnsAnswer<std::string> answer = co_await lookup_addresses(eval, *target);
    if (lookup_failed(answer.status))
      co_return temperror(fmt::format("{}: {}", printable(mechanism.text), answer.error));
    if (void_answer(answer.status)) {
      if (!count_void_lookup(eval)) co_return permerror(too_many_voids());
      co_return no_match();
    }
    co_return any_address_in(answer.records, eval.ip, prefix) ? matched() : no_match();
  }

  DnsAnswer<MxRecord> exchangers = co_await eval.dns.mx(*target);
  if (lookup_failed(exchangers.status))
    co_return temperror(fmt::format("{}: {}", printable(mechanism.text), exchangers.error));
  if (void_answer(exchangers.status)) {
    if (!count_void_lookup(eval)) co_return permerror(too_many_voids());
    co_return no_match();
  }
  // §4.6.4: "the evaluation of each "MX" record MUST NOT result in querying more than 10 address
  // records ... If this limit is exceeded, the "mx" mechanism MUST produce a "permerror" result."
  if (exchangers.records.size() > kMaxNamesPerLookup)
    co_return permerror(fmt::format("{}: {} has more than {} MX records", printable(mechanism.text),
                                    printable(*target), kMaxNamesPerLookup));
  for (const MxRecord& exchanger : exchangers.records) {
    // A null MX (RFC 7505, "0 .") names no host.
    const std::string host(without_trailing_dot(exchanger.host));
    if (host.empty() || !queryable_name(host)) continue;
    if (eval.out_of_time()) co_return temperror(out_of_time_problem());
    DnsAnswer<std::string> addresses = co_await lookup_addresses(eval, host);
    if (lookup_failed(addresses.status))
      co_return temperror(fmt::format("{}: {}", printable(mechanism.text), addresses.error));
    if (addresses.ok() && any_address_in(addresses.records, eval.ip, prefix)) co_return matched();
  }
  co_return no_match();
}

// ptr (§5.5): a validated PTR name of the client within the target domain.
asio::awaitable<MechanismMatch> match_ptr(Evaluation& eval, const MacroValues& values, const Mechanism& mechanism) {
  if (!count_dns_term(eval)) co_return permerror(too_many_terms());
  Result<std::string> target = co_await expand_target(eval, values, mechanism.domain_spec);
  if (!target) co_return permerror(fmt::format("{}: {}", printable(mechanism.text), target.error().message));
  PtrNames ptr = co_await lookup_ptr_names(eval);
  // "If a DNS error occurs while doing the PTR RR lookup, then this mechanism fails to match."
  if (lookup_failed(ptr.status)) co_return no_match();
  if (void_answer(ptr.status)) {
    if (!count_void_lookup(eval)) co_return permerror(too_many_voids());
    co_return no_match();
  }
  for (const std::string& name : ptr.names) {
    if (!within_domain(name, *target)) continue;
    const bool validated = co_await name_validates(eval, name);
    if (validated) co_return matched();
  }
  co_return no_match();
}

// exists (§5.7): any A record, whatever the client's address family.
asio::awaitable<MechanismMatch> match_exists(Evaluation& eval, const MacroValues& values, const Mechanism& mechanism) {
  if (!count_dns_term(eval)) co_return permerror(too_many_terms());
  Result<std::string> target = co_await expand_target(eval, values, mechanism.domain_spec);
  if (!target) co_return permerror(fmt::format("{}: {}", printable(mechanism.text), target.error().message));
  if (!queryable_name(*target)) co_return no_match();
  DnsAnswer<std::string> answer = co_await eval.dns.a(*target);
  if (lookup_failed(answer.status))
    co_return temperror(fmt::format("{}: {}", printable(mechanism.text), answer.error));
  if (void_answer(answer.status)) {
    if (!count_void_lookup(eval)) co_return permerror(too_many_voids());
    co_return no_match();
  }
  co_return answer.records.empty() ? no_match() : matched();
}

// include (§5.2): the recursive check_host() result decides whether the mechanism matches.
asio::awaitable<MechanismMatch> match_include(Evaluation& eval, const MacroValues& values, const Mechanism& mechanism) {
  if (!count_dns_term(eval)) co_return permerror(too_many_terms());
  Result<std::string> target = co_await expand_target(eval, values, mechanism.domain_spec);
  if (!target) co_return permerror(fmt::format("{}: {}", printable(mechanism.text), target.error().message));
  if (!queryable_name(*target))
    co_return permerror(fmt::format("{}: \"{}\" is not a domain name", printable(mechanism.text), printable(*target)));
  SpfOutcome inner = co_await evaluate_domain(eval, *target);
  switch (inner.result) {
    case SpfResult::pass: co_return matched();
    case SpfResult::fail:
    case SpfResult::softfail:
    case SpfResult::neutral: co_return no_match();
    case SpfResult::temperror:
      co_return temperror(fmt::format("{}: {}", printable(mechanism.text), inner.problem));
    case SpfResult::permerror:
      co_return permerror(fmt::format("{}: {}", printable(mechanism.text), inner.problem));
    case SpfResult::none:
      co_return permerror(fmt::format("{}: {} has no SPF record", printable(mechanism.text), printable(*target)));
  }
  co_return permerror("unreachable");
}

asio::awaitable<MechanismMatch> match_mechanism(Evaluation& eval, const MacroValues& values, const Mechanism& mechanism) {
  if (eval.out_of_time()) co_return temperror(out_of_time_problem());
  switch (mechanism.kind) {
    case MechanismKind::all: co_return matched();
    case MechanismKind::ip4:
    case MechanismKind::ip6: {
      const int prefix = mechanism.kind == MechanismKind::ip6 ? mechanism.cidr6 : mechanism.cidr4;
      co_return in_network(eval.ip, mechanism.network, prefix) ? matched() : no_match();
    }
    case MechanismKind::a:
    case MechanismKind::mx: {
      MechanismMatch match = co_await match_a_or_mx(eval, values, mechanism);
      co_return match;
    }
    case MechanismKind::ptr: {
      MechanismMatch match = co_await match_ptr(eval, values, mechanism);
      co_return match;
    }
    case MechanismKind::exists: {
      MechanismMatch match = co_await match_exists(eval, values, mechanism);
      co_return match;
    }
    case MechanismKind::include: {
      MechanismMatch match = co_await match_include(eval, values, mechanism);
      co_return match;
    }
  }
  co_return permerror("unknown mechanism");
}

SpfOutcome outcome(SpfResult result, std::string problem) {
  SpfOutcome out;
  out.result = result;
  out.problem = std::move(problem);
  return out;
}

// check_host(<ip>, <domain>, <sender>) from §4.4 on: the record of `domain` and its terms.
asio::awaitable<SpfOutcome> evaluate_domain(Evaluation& eval, std::string domain) {
  if (eval.out_of_time()) co_return outcome(SpfResult::temperror, out_of_time_problem());
  DnsAnswer<std::string> answer = co_await eval.dns.txt(domain);
  if (lookup_failed(answer.status))
    co_return outcome(SpfResult::temperror, fmt::format("TXT lookup of {} failed: {}", printable(domain), answer.error));
  if (!answer.ok()) co_return outcome(SpfResult::none, fmt::format("{} has no SPF record", printable(domain)));

  const std::string* selected = nullptr;
  int spf_records = 0;
  for (const std::string& text : answer.records) {
    if (!is_spf_record(text)) continue;
    ++spf_records;
    selected = &text;
  }
  if (spf_records == 0) co_return outcome(SpfResult::none, fmt::format("{} has no SPF record", printable(domain)));
  if (spf_records > 1)
    co_return outcome(SpfResult::permerror, fmt::format("{} publishes {} SPF records", printable(domain), spf_records));

  Result<SpfRecord> parsed = parse_record(*selected);
  if (!parsed) co_return outcome(SpfResult::permerror, fmt::format("{}: {}", printable(domain), parsed.error().message));
  const SpfRecord record = std::move(*parsed);

  MacroValues values = eval.macros;
  values.domain = domain;

  for (const Mechanism& mechanism : record.mechanisms) {
    MechanismMatch match = co_await match_mechanism(eval, values, mechanism);
    if (match.kind == MechanismMatch::Kind::no_match) continue;
    if (match.kind == MechanismMatch::Kind::temperror) co_return outcome(SpfResult::temperror, std::move(match.problem));
    if (match.kind == MechanismMatch::Kind::permerror) co_return outcome(SpfResult::permerror, std::move(match.problem));
    SpfOutcome decided = outcome(result_of(mechanism.qualifier), mechanism.text);
    decided.domain = domain;
    if (decided.result == SpfResult::fail && record.exp) {
      std::string explanation = co_await fetch_explanation(eval, values, *record.exp);
      decided.explanation = std::move(explanation);
    }
    co_return decided;
  }

  if (record.redirect) {
    // §6.1: the redirect target replaces this record entirely, exp= included.
    if (!count_dns_term(eval)) co_return outcome(SpfResult::permerror, too_many_terms());
    Result<std::string> target = co_await expand_target(eval, values, *record.redirect);
    if (!target) co_return outcome(SpfResult::permerror, fmt::format("redirect: {}", target.error().message));
    if (!queryable_name(*target))
      co_return outcome(SpfResult::permerror, fmt::format("redirect={}: not a domain name", printable(*target)));
    SpfOutcome redirected = co_await evaluate_domain(eval, *target);
    if (redirected.result == SpfResult::none)
      co_return outcome(SpfResult::permerror, fmt::format("redirect={}: no SPF record there", printable(*target)));
    co_return redirected;
  }

  SpfOutcome neutral = outcome(SpfResult::neutral, "no mechanism matched (default result)");
  neutral.domain = domain;
  co_return neutral;
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Both identities: prepares the evaluation for `domain` and `local_part` and runs it.
asio::awaitable<SpfOutcome> run_check(SpfDns& dns, SpfRequest request, std::string local_part, std::string domain,
                                      std::string identity) {
  domain = std::string(without_trailing_dot(domain));
  const std::optional<IpAddress> ip = parse_ip(request.ip);
  if (!ip) {
    SpfOutcome bad = outcome(SpfResult::permerror, fmt::format("\"{}\" is not an IP address", printable(request.ip)));
    bad.domain = domain;
    bad.identity = identity;
    co_return bad;
  }
  if (!valid_identity_domain(domain)) {
    SpfOutcome none = outcome(SpfResult::none, fmt::format("\"{}\" is not a valid domain name", printable(domain)));
    none.domain = domain;
    none.identity = identity;
    co_return none;
  }

  // §7.3 "i" of an IPv6 address: hex digits in the case the address was written in.
  bool upper_hex = false;
  if (ip->v6) {
    bool has_upper = false;
    bool has_lower = false;
    for (char c : request.ip) {
      if (c >= 'A' && c <= 'F') has_upper = true;
      if (c >= 'a' && c <= 'f') has_lower = true;
    }
    upper_hex = has_upper && !has_lower;
  }

  MacroValues macros;
  macros.sender = local_part + "@" + domain;
  macros.local_part = local_part;
  macros.sender_domain = domain;
  macros.domain = domain;
  macros.ip = *ip;
  macros.ip_upper_hex = upper_hex;
  macros.helo = request.helo;
  macros.receiver = request.receiver_hostname;
  macros.timestamp = request.timestamp != 0 ? request.timestamp : now_seconds();

  // The canonical text for the PTR lookup: an IPv4-mapped address becomes a dotted quad.
  char ip_text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip->v6 ? AF_INET6 : AF_INET, ip->bytes.data(), ip_text, sizeof ip_text);
  Evaluation eval{dns, *ip, ip_text, macros};
  if (request.time_limit.count() > 0) eval.deadline = std::chrono::steady_clock::now() + request.time_limit;

  SpfOutcome result = co_await evaluate_domain(eval, domain);
  result.identity = identity;
  // The term that decided may sit in a record reached by redirect=; say so, and report the
  // identity's domain as the domain checked.
  const std::string decided_by = result.domain.empty() ? domain : result.domain;
  if (!iequals(decided_by, domain)) result.problem += fmt::format(" (in the policy of {})", printable(decided_by));
  result.domain = domain;
  if (result.result == SpfResult::fail && result.explanation.empty() && !request.default_explanation.empty()) {
    // §6.2: without a usable exp=, the default explanation (which may itself hold macros; %{d} is
    // the domain whose policy failed the client).
    MacroValues values = macros;
    values.domain = decided_by;
    if (uses_validated_domain(request.default_explanation)) {
      std::string validated = co_await find_validated_domain(eval, values.domain);
      values.validated_domain = std::move(validated);
    }
    Result<std::string> expanded = expand_macros(request.default_explanation, values, MacroUse::explanation);
    result.explanation = expanded ? std::move(*expanded) : request.default_explanation;
  }
  if (result.result != SpfResult::fail) result.explanation.clear();
  co_return result;
}

}  // namespace

std::string_view to_string(SpfResult result) {
  switch (result) {
    case SpfResult::none: return "none";
    case SpfResult::neutral: return "neutral";
    case SpfResult::pass: return "pass";
    case SpfResult::fail: return "fail";
    case SpfResult::softfail: return "softfail";
    case SpfResult::temperror: return "temperror";
    case SpfResult::permerror: return "permerror";
  }
  return "none";
}

asio::awaitable<DnsAnswer<std::string>> ResolverSpfDns::txt(std::string name) { return resolver_.txt(std::move(name)); }
asio::awaitable<DnsAnswer<std::string>> ResolverSpfDns::a(std::string name) { return resolver_.a(std::move(name)); }
asio::awaitable<DnsAnswer<std::string>> ResolverSpfDns::aaaa(std::string name) { return resolver_.aaaa(std::move(name)); }
asio::awaitable<DnsAnswer<std::string>> ResolverSpfDns::ptr(std::string ip) { return resolver_.ptr(std::move(ip)); }
asio::awaitable<DnsAnswer<MxRecord>> ResolverSpfDns::mx(std::string name) { return resolver_.mx(std::move(name)); }

asio::awaitable<SpfOutcome> check_host(SpfDns& dns, SpfRequest request) {
  std::string sender = request.sender;
  if (sender.size() >= 2 && sender.front() == '<' && sender.back() == '>') sender = sender.substr(1, sender.size() - 2);
  std::string local_part;
  std::string domain;
  if (sender.empty()) {
    // §2.4: for a null reverse-path the MAIL FROM identity is postmaster@<HELO identity>.
    local_part = "postmaster";
    domain = request.helo;
  } else if (const std::size_t at = sender.rfind('@'); at == std::string::npos) {
    local_part = "postmaster";  // a bare domain: treated as if its local-part were empty (§4.3)
    domain = sender;
  } else {
    local_part = sender.substr(0, at);
    domain = sender.substr(at + 1);
    if (local_part.empty()) local_part = "postmaster";  // §4.3
  }
  std::string identity = "mailfrom";
  SpfOutcome result =
      co_await run_check(dns, std::move(request), std::move(local_part), std::move(domain), std::move(identity));
  co_return result;
}

asio::awaitable<SpfOutcome> check_helo(SpfDns& dns, SpfRequest request) {
  std::string domain = request.helo;
  std::string local_part = "postmaster";
  std::string identity = "helo";
  SpfOutcome result =
      co_await run_check(dns, std::move(request), std::move(local_part), std::move(domain), std::move(identity));
  co_return result;
}

}  // namespace gatehouse::checks::spf
