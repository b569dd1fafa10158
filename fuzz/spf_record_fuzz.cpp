// libFuzzer target for the SPF record parser and macro expander (src/checks/spf/spf.hpp; RFC 7208
// §4.5/§4.6 record syntax, §5 mechanisms, §6 modifiers, §7 macros). Only the synchronous building
// blocks are fuzzed (record.cpp, macro.cpp); check_host() itself runs as Boost.Asio coroutines over
// DNS and is not linked.
//
// Input layout: 1 setting byte, then a text that is tried as a TXT record (parse_record), as a
// macro-string, explain-string and domain-spec (check_*, expand_macros, expand_domain_spec), as a
// name (queryable_name) and as an address (parse_ip). Setting bits:
//   0-1  the client IP (%{i} %{c} %{v}): 192.0.2.3, 2001:db8::cb01, 2001:DB8::CB01 written in upper
//        case (ip_upper_hex), ::ffff:198.51.100.7 (IPv4-mapped: IPv4);
//   2    long macro values (a sender domain of 40 labels, a 300-octet one-label HELO, a long
//        local part) so that the 253-octet truncation of §7.3 is reached;
//   3    a validated domain (%{p}) is set; otherwise %{p} is "unknown";
//   4-5  %{t}: 1400000000, 0, INT64_MIN, INT64_MAX;
//   6    the text is also parsed as a record with "v=spf1 " put in front of it;
//   7    the text ends at its first LF and the lines after it are the macro values, in this order:
//        local-part, sender domain, current domain, HELO, validated domain, receiver (missing lines
//        keep the other values; values may hold any byte but LF).
// Without bit 7 the values are those of the RFC 7208 §7.4 examples (sender
// strong-bad@email.example.com, HELO mx.example.org, receiver mx.example.net).
//
// Invariants checked:
// - parse_record: the same text parses the same way twice (same record, or the same error); only a
//   text is_spf_record() accepts parses; the mechanisms are terms of the text, in order, so there
//   are never more than the text has terms; every mechanism is consistent with its text (visible
//   ASCII only, qualifier, name, CIDR lengths 0-32 / 0-128, address family, domain-spec present
//   where required and check_domain_spec-valid, none where not allowed); redirect=/exp= are valid
//   domain-specs; the record rebuilt from its terms re-parses to the same record; every
//   domain-spec of a parsed record expands without error;
// - macros: a macro-string valid in a domain-spec is valid in an explanation, a valid domain-spec
//   is a valid macro-string; expand_macros/expand_domain_spec succeed exactly when check_macro_string
//   does; a text without "%" expands to itself; with values free of control characters the
//   expansion holds none; a string for which uses_validated_domain() is false expands the same
//   whatever the validated domain (the evaluator looks %{p} up only when it says so); upper-case
//   macros give the lower-case expansion URL-escaped (only unreserved characters and %XX);
// - expand_domain_spec (§7.3): the result is the expansion less one trailing dot, truncated from
//   the left at label boundaries only when longer than 253 octets, by as few labels as needed to
//   fit; it exceeds 253 octets only when it is a single label that cannot be truncated;
// - queryable_name: a name it accepts is 1-253 octets (a trailing dot aside) of labels of 1-63
//   octets and holds no control character (CR, LF, NUL, ...), so none reaches a DNS query;
// - error messages are non-empty and printable ASCII (they end up in logs and replies);
// - parse_ip: an address that parses holds no NUL and re-parses from its inet_ntop() text.
#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "checks/spf/spf.hpp"

using namespace gatehouse;
using namespace gatehouse::checks::spf;

bool fuzz_invariant_ignored(const char* what);  // fuzz/fuzz_support.cpp

namespace {

std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 600)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    }
  }
  if (text.size() > 600) out += "...";
  return out;
}

// Aborts (a crash for libFuzzer) unless FUZZ_IGNORE names this invariant (fuzz_support.cpp).
void fail(const char* what, std::string_view first, std::string_view second = {}) {
  if (fuzz_invariant_ignored(what)) return;
  std::fprintf(stderr, "spf_record invariant violated: %s\n  [%s]\n  [%s]\n", what, printable(first).c_str(),
               printable(second).c_str());
  std::abort();
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

bool has_control(std::string_view text) {
  for (unsigned char c : text)
    if (is_control(c)) return true;
  return false;
}

bool all_visible(std::string_view text) {
  for (unsigned char c : text)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool istarts_with(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower(text[i]) != lower(prefix[i])) return false;
  return true;
}

void check_error(const Error& error, const char* where, std::string_view input) {
  if (error.message.empty()) fail("an error without a message", where, input);
  for (unsigned char c : error.message)
    if (c < 0x20 || c > 0x7e) return fail("an error message that is not printable ASCII", input, error.message);
}

// --- names ---------------------------------------------------------------------------------------

void check_queryable(std::string_view name) {
  if (!queryable_name(name)) return;
  if (has_control(name)) fail("queryable_name() accepts a name with a control character (CR, LF, NUL, ...)", name);
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) fail("queryable_name() accepts an empty name or one over 253 octets", name);
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = name.find('.', start);
    const std::size_t length = (dot == std::string_view::npos ? name.size() : dot) - start;
    if (length == 0 || length > 63) fail("queryable_name() accepts an empty label or one over 63 octets", name);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
}

// `name` = expand_domain_spec(spec), `expansion` = expand_macros(spec, domain use).
void check_target_name(std::string_view name, std::string_view expansion) {
  std::string_view full = expansion;
  if (!full.empty() && full.back() == '.') full.remove_suffix(1);
  if (!full.ends_with(name)) return fail("the target name is not a right part of the expansion", full, name);
  if (name.size() < full.size()) {
    if (full.size() <= 253) return fail("a name of at most 253 octets was truncated", full, name);
    if (full[full.size() - name.size() - 1] != '.') return fail("truncation not at a label boundary", full, name);
    if (name.size() > 253) {
      // Only a last label that is itself longer than 253 octets cannot be truncated any further.
      if (name.find('.') != std::string_view::npos) fail("a truncated name over 253 octets still has labels to remove", full, name);
      return check_queryable(name);
    }
    // The longest right part of whole labels that fits: one more label would not.
    const std::string_view before = full.substr(0, full.size() - name.size() - 1);
    const std::size_t dot = before.rfind('.');
    const std::size_t longer = dot == std::string_view::npos ? full.size() : full.size() - dot - 1;
    if (longer <= 253) fail("truncation removed more labels than needed", full, name);
  } else if (name.size() > 253 && name.find('.') != std::string_view::npos) {
    fail("a name over 253 octets was not truncated", full, name);
  }
  check_queryable(name);
}

// --- macros --------------------------------------------------------------------------------------

bool values_clean(const MacroValues& values) {
  return !has_control(values.sender) && !has_control(values.local_part) && !has_control(values.sender_domain) &&
         !has_control(values.domain) && !has_control(values.validated_domain) && !has_control(values.helo) &&
         !has_control(values.receiver);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // upper-case hex digits only
}

// Upper-case macro letters: the lower-case expansion, URL-escaped (§7.3, RFC 3986 unreserved set).
void check_url_escaping(const MacroValues& values) {
  for (char letter : std::string_view("slodiphvcrt")) {
    const MacroUse use = (letter == 'c' || letter == 'r' || letter == 't') ? MacroUse::explanation : MacroUse::domain;
    const std::string lower_macro = std::string("%{") + letter + "}";
    const std::string upper_macro = std::string("%{") + static_cast<char>(letter - 'a' + 'A') + "}";
    auto plain = expand_macros(lower_macro, values, use);
    auto escaped = expand_macros(upper_macro, values, use);
    if (!plain || !escaped) return fail("a single macro letter does not expand", lower_macro);
    std::string decoded;
    for (std::size_t i = 0; i < escaped->size(); ++i) {
      const char c = (*escaped)[i];
      const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                              c == '-' || c == '.' || c == '_' || c == '~';
      if (unreserved) {
        decoded += c;
      } else if (c == '%' && i + 2 < escaped->size() && hex_value((*escaped)[i + 1]) >= 0 &&
                 hex_value((*escaped)[i + 2]) >= 0) {
        decoded += static_cast<char>(hex_value((*escaped)[i + 1]) * 16 + hex_value((*escaped)[i + 2]));
        i += 2;
      } else {
        return fail("an upper-case macro expands to a character that is neither unreserved nor %XX", upper_macro,
                    *escaped);
      }
    }
    if (decoded != *plain) fail("an upper-case macro is not the URL-escaped lower-case one", *plain, *escaped);
  }
}

void check_macros(std::string_view text, const MacroValues& values) {
  const Status domain_syntax = check_macro_string(text, MacroUse::domain);
  const Status explain_syntax = check_macro_string(text, MacroUse::explanation);
  const Status spec_syntax = check_domain_spec(text);
  if (!domain_syntax) check_error(domain_syntax.error(), "check_macro_string(domain)", text);
  if (!explain_syntax) check_error(explain_syntax.error(), "check_macro_string(explanation)", text);
  if (!spec_syntax) check_error(spec_syntax.error(), "check_domain_spec", text);
  if (domain_syntax && !explain_syntax) fail("a macro-string valid in a domain-spec is invalid in an explanation", text);
  if (spec_syntax && !domain_syntax) fail("a valid domain-spec is not a valid macro-string", text);

  MacroValues other_p = values;
  other_p.validated_domain = values.validated_domain == "other.example.net" ? "p.example.org" : "other.example.net";
  const bool uses_p = uses_validated_domain(text);
  if (uses_p && text.find_first_of("pP") == std::string_view::npos)
    fail("uses_validated_domain() without a p in the text", text);

  std::string domain_expansion;
  for (const MacroUse use : {MacroUse::domain, MacroUse::explanation}) {
    const Status& syntax = use == MacroUse::domain ? domain_syntax : explain_syntax;
    auto expanded = expand_macros(text, values, use);
    if (expanded.ok() != syntax.ok()) {
      fail("expand_macros() and check_macro_string() disagree", text, expanded ? *expanded : expanded.error().message);
      continue;
    }
    if (!expanded) {
      check_error(expanded.error(), "expand_macros", text);
      continue;
    }
    if (text.find('%') == std::string_view::npos && *expanded != text)
      fail("a text without macros does not expand to itself", text, *expanded);
    if (values_clean(values) && has_control(*expanded))
      fail("a control character in the expansion of values without any", text, *expanded);
    if (!uses_p) {
      auto again = expand_macros(text, other_p, use);
      if (!again || *again != *expanded)
        fail("the expansion depends on %{p} though uses_validated_domain() says no", text, *expanded);
    }
    if (use == MacroUse::domain) domain_expansion = std::move(*expanded);
  }

  auto name = expand_domain_spec(text, values);
  if (name.ok() != domain_syntax.ok())
    return fail("expand_domain_spec() and check_macro_string() disagree", text, name ? *name : name.error().message);
  if (!name) return check_error(name.error(), "expand_domain_spec", text);
  check_target_name(*name, domain_expansion);
}

// --- records -------------------------------------------------------------------------------------

bool same_mechanism(const Mechanism& a, const Mechanism& b) {
  return a.qualifier == b.qualifier && a.kind == b.kind && a.domain_spec == b.domain_spec && a.cidr4 == b.cidr4 &&
         a.cidr6 == b.cidr6 && a.network == b.network && a.text == b.text;
}

bool same_record(const SpfRecord& a, const SpfRecord& b) {
  if (a.mechanisms.size() != b.mechanisms.size() || a.redirect != b.redirect || a.exp != b.exp) return false;
  for (std::size_t i = 0; i < a.mechanisms.size(); ++i)
    if (!same_mechanism(a.mechanisms[i], b.mechanisms[i])) return false;
  return true;
}

// The SP-separated terms after "v=spf1".
std::vector<std::string_view> terms_of(std::string_view text) {
  std::vector<std::string_view> terms;
  std::string_view rest = text.substr(6);
  for (;;) {
    const std::size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const std::size_t end = rest.find(' ');
    terms.push_back(rest.substr(0, end));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  return terms;
}

void check_domain_spec_of(std::string_view spec, const MacroValues& values, std::string_view record) {
  if (auto checked = check_domain_spec(spec); !checked)
    return fail("a parsed record holds an invalid domain-spec", record, spec);
  auto name = expand_domain_spec(spec, values);
  if (!name) return fail("a domain-spec of a parsed record does not expand", record, spec);
  auto expansion = expand_macros(spec, values, MacroUse::domain);
  if (!expansion) return fail("a domain-spec of a parsed record does not expand", record, spec);
  check_target_name(*name, *expansion);
}

void check_mechanism(const Mechanism& mechanism, const MacroValues& values, std::string_view record) {
  const std::string_view text = mechanism.text;
  if (text.empty() || !all_visible(text)) return fail("a mechanism whose text is not visible ASCII", record, text);
  std::string_view body = text;
  Qualifier qualifier = Qualifier::pass;
  switch (body.front()) {
    case '+': qualifier = Qualifier::pass; body.remove_prefix(1); break;
    case '-': qualifier = Qualifier::fail; body.remove_prefix(1); break;
    case '~': qualifier = Qualifier::softfail; body.remove_prefix(1); break;
    case '?': qualifier = Qualifier::neutral; body.remove_prefix(1); break;
    default: break;
  }
  if (qualifier != mechanism.qualifier) fail("a mechanism's qualifier differs from its text", record, text);
  const std::string_view name = to_string(mechanism.kind);
  if (!istarts_with(body, name) || (body.size() > name.size() && body[name.size()] != ':' && body[name.size()] != '/'))
    fail("a mechanism's kind differs from its text", record, text);
  if (mechanism.cidr4 < 0 || mechanism.cidr4 > 32 || mechanism.cidr6 < 0 || mechanism.cidr6 > 128)
    fail("a CIDR length out of range", record, text);

  const bool cidr_default = mechanism.cidr4 == 32 && mechanism.cidr6 == 128;
  switch (mechanism.kind) {
    case MechanismKind::all:
      if (body.size() != name.size() || !mechanism.domain_spec.empty() || !cidr_default)
        fail("\"all\" with an argument", record, text);
      break;
    case MechanismKind::include:
    case MechanismKind::exists:
      if (mechanism.domain_spec.empty()) fail("include/exists without a domain-spec", record, text);
      if (!cidr_default) fail("include/exists with a CIDR length", record, text);
      break;
    case MechanismKind::ptr:
      if (!cidr_default) fail("ptr with a CIDR length", record, text);
      break;
    case MechanismKind::a:
    case MechanismKind::mx:
      break;
    case MechanismKind::ip4:
    case MechanismKind::ip6: {
      const bool v6 = mechanism.kind == MechanismKind::ip6;
      if (!mechanism.domain_spec.empty()) fail("ip4/ip6 with a domain-spec", record, text);
      if (mechanism.network.v6 != v6) fail("ip4/ip6 with a network of the other family", record, text);
      if (!in_network(mechanism.network, mechanism.network, v6 ? mechanism.cidr6 : mechanism.cidr4))
        fail("a network does not contain itself", record, text);
      // The address as written (without the CIDR length) is a complete address of that family.
      std::string_view address = body.substr(name.size() + 1);
      address = address.substr(0, address.find('/'));
      IpAddress parsed;
      if (inet_pton(v6 ? AF_INET6 : AF_INET, std::string(address).c_str(), parsed.bytes.data()) != 1 ||
          address.find('\0') != std::string_view::npos)
        fail("ip4/ip6 accepted an address that is not one", record, text);
      break;
    }
  }
  if (mechanism.kind != MechanismKind::ip4 && mechanism.kind != MechanismKind::ip6 && !(mechanism.network == IpAddress{}))
    fail("a network set on a mechanism that has none", record, text);
  if (!mechanism.domain_spec.empty()) {
    if (text.find(mechanism.domain_spec) == std::string_view::npos)
      fail("a domain-spec that is not part of the term", record, text);
    check_domain_spec_of(mechanism.domain_spec, values, record);
  }
}

std::string rebuilt(const SpfRecord& record) {
  std::string text = "v=spf1";
  for (const Mechanism& mechanism : record.mechanisms) text += " " + mechanism.text;
  if (record.redirect) text += " redirect=" + *record.redirect;
  if (record.exp) text += " exp=" + *record.exp;
  return text;
}

void check_record(std::string_view text, const MacroValues& values) {
  auto first = parse_record(text);
  auto second = parse_record(text);
  if (first.ok() != second.ok()) return fail("the same record parses once and fails once", text);
  if (!first) {
    check_error(first.error(), "parse_record", text);
    if (first.error().message != second.error().message) fail("the same record fails with two messages", text);
    return;
  }
  if (!is_spf_record(text)) fail("a text that is_spf_record() rejects parses as a record", text);
  if (!same_record(*first, *second)) fail("the same record parses to two different records", text);

  const SpfRecord& record = *first;
  const std::vector<std::string_view> terms = terms_of(text);
  const std::size_t modifiers = (record.redirect ? 1 : 0) + (record.exp ? 1 : 0);
  if (record.mechanisms.size() + modifiers > terms.size())
    fail("more mechanisms and modifiers than the record has terms", text);
  std::size_t next = 0;
  for (const Mechanism& mechanism : record.mechanisms) {
    while (next < terms.size() && terms[next] != mechanism.text) ++next;
    if (next == terms.size()) return fail("a mechanism that is not a term of the record (in order)", text, mechanism.text);
    ++next;
    check_mechanism(mechanism, values, text);
  }
  for (const auto* modifier : {&record.redirect, &record.exp}) {
    if (!*modifier) continue;
    if ((*modifier)->empty() || !all_visible(**modifier)) fail("a redirect=/exp= value that is not visible ASCII", text);
    check_domain_spec_of(**modifier, values, text);
  }

  const std::string again_text = rebuilt(record);
  auto again = parse_record(again_text);
  if (!again) return fail("the record rebuilt from its terms does not parse", again_text, again.error().message);
  if (!same_record(record, *again)) fail("the record rebuilt from its terms parses differently", text, again_text);
}

// --- addresses -------------------------------------------------------------------------------------

void check_ip(std::string_view text) {
  const std::optional<IpAddress> address = parse_ip(text);
  if (!address) return;
  if (text.find('\0') != std::string_view::npos) fail("parse_ip() accepts a NUL", text);
  char buffer[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(address->v6 ? AF_INET6 : AF_INET, address->bytes.data(), buffer, sizeof buffer))
    return fail("inet_ntop() of a parsed address fails", text);
  const std::optional<IpAddress> again = parse_ip(buffer);
  if (!again || !(*again == *address)) fail("an address does not re-parse from its text", text, buffer);
  if (!in_network(*address, *address, address->v6 ? 128 : 32)) fail("an address is not in its own /32 or /128", text);
}

// --- values ----------------------------------------------------------------------------------------

MacroValues values_for(std::uint8_t settings, std::string_view value_lines) {
  MacroValues values;
  values.local_part = "strong-bad";
  values.sender_domain = "email.example.com";
  values.domain = "email.example.com";
  values.helo = "mx.example.org";
  values.receiver = "mx.example.net";
  switch (settings & 0x03) {
    case 0: values.ip = *parse_ip("192.0.2.3"); break;
    case 1: values.ip = *parse_ip("2001:db8::cb01"); break;
    case 2: values.ip = *parse_ip("2001:DB8::CB01"); values.ip_upper_hex = true; break;
    case 3: values.ip = *parse_ip("::ffff:198.51.100.7"); break;
  }
  if (settings & 0x04) {
    std::string domain;
    for (int i = 0; i < 40; ++i) domain += "label" + std::to_string(i) + ".";
    domain += "example.com";
    values.sender_domain = domain;
    values.domain = "sub." + domain;
    values.local_part = "first.second-third+fourth_fifth=sixth/seventh,eighth.";
    for (int i = 0; i < 3; ++i) values.local_part += values.local_part;
    values.helo = std::string(300, 'h');
  }
  if (settings & 0x08) values.validated_domain = "mx.example.org";
  switch ((settings >> 4) & 0x03) {
    case 0: values.timestamp = 1400000000; break;
    case 1: values.timestamp = 0; break;
    case 2: values.timestamp = std::numeric_limits<std::int64_t>::min(); break;
    case 3: values.timestamp = std::numeric_limits<std::int64_t>::max(); break;
  }
  std::string* fields[] = {&values.local_part, &values.sender_domain, &values.domain,
                           &values.helo,       &values.validated_domain, &values.receiver};
  for (std::string* field : fields) {
    if (value_lines.empty()) break;
    const std::size_t end = value_lines.find('\n');
    *field = std::string(value_lines.substr(0, end));
    value_lines.remove_prefix(end == std::string_view::npos ? value_lines.size() : end + 1);
  }
  values.sender = values.local_part + "@" + values.sender_domain;
  return values;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t settings = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view value_lines;
  if (settings & 0x80) {
    const std::size_t newline = text.find('\n');
    if (newline != std::string_view::npos) {
      value_lines = text.substr(newline + 1);
      text = text.substr(0, newline);
    }
  }
  const MacroValues values = values_for(settings, value_lines);

  check_record(text, values);
  if (settings & 0x40) check_record("v=spf1 " + std::string(text), values);
  check_macros(text, values);
  // Without values in the input they depend only on the settings byte: check each set once.
  static bool escaping_checked[128] = {};
  if (settings & 0x80) {
    check_url_escaping(values);
  } else if (!escaping_checked[settings]) {
    check_url_escaping(values);
    escaping_checked[settings] = true;
  }
  check_queryable(text);
  check_ip(text);
  return 0;
}
