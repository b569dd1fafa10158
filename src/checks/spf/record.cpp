// SPF record parsing (RFC 7208): which TXT record is an SPF record (§4.5), the record syntax of
// §4.6.1 (terms separated by spaces, directive = [qualifier] mechanism, modifier = name "="
// macro-string), the mechanisms of §5 (all, include, a, mx, ptr, ip4, ip6, exists, with their
// domain-specs and dual-cidr-length of §5.6), the modifiers of §6 (redirect=, exp=, each at most
// once; unknown modifiers checked and ignored), and the IP address forms of §5.6.
// Any syntax error anywhere in the record is reported, so the evaluator can give permerror before
// evaluating a single term (§4.6).
#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstring>

#include "checks/spf/spf.hpp"

namespace gatehouse::checks::spf {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view left, std::string_view right) {
  if (left.size() != right.size()) return false;
  for (std::size_t i = 0; i < left.size(); ++i)
    if (lower(left[i]) != lower(right[i])) return false;
  return true;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (!is_digit(c)) return false;
  return true;
}


// ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT) ; 0-32
// ip6-cidr-length = "/" ("0" / %x31-39 0*2DIGIT) ; 0-128
// (the digits after the slash; no leading zeros, no value above `max`).
std::optional<int> parse_prefix(std::string_view digits, int max) {
  if (!all_digits(digits) || digits.size() > 3) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  int value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  if (value > max) return std::nullopt;
  return value;
}

// ip4-network = qnum "." qnum "." qnum "." qnum, qnum = 0-255 without leading zeros (§5.6).
std::optional<IpAddress> parse_ip4_network(std::string_view text) {
  IpAddress address;
  int part = 0;
  std::size_t start = 0;
  while (part < 4) {
    std::size_t end = text.find('.', start);
    if (part == 3) {
      if (end != std::string_view::npos) return std::nullopt;
      end = text.size();
    } else if (end == std::string_view::npos) {
      return std::nullopt;
    }
    auto value = parse_prefix(text.substr(start, end - start), 255);
    if (!value) return std::nullopt;
    address.bytes[part] = static_cast<std::uint8_t>(*value);
    ++part;
    start = end + 1;
  }
  return address;
}

std::optional<IpAddress> parse_ip6_network(std::string_view text) {
  // inet_pton() reads a C string: a NUL would end the address early and let the bytes after it
  // ("ip6:::1\0garbage") through unchecked.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN || text.find('\0') != std::string_view::npos)
    return std::nullopt;
  std::string copy(text);
  IpAddress address;
  address.v6 = true;
  if (inet_pton(AF_INET6, copy.c_str(), address.bytes.data()) != 1) return std::nullopt;
  return address;
}

struct DualCidr {
  int cidr4 = 32;
  int cidr6 = 128;
};

// Splits "<domain-spec>[/n][//m]" (dual-cidr-length, §5.6) into the part before and the lengths.
// The suffix is taken as a CIDR whenever it has the shape of one; lengths out of range are errors
// (no domain-spec can end in "/digits": a domain-spec ends in a macro or a toplabel).
Result<std::pair<std::string_view, DualCidr>> split_dual_cidr(std::string_view text, std::string_view term) {
  DualCidr cidr;
  std::string_view rest = text;
  if (std::size_t slashes = rest.rfind("//"); slashes != std::string_view::npos && all_digits(rest.substr(slashes + 2))) {
    auto prefix = parse_prefix(rest.substr(slashes + 2), 128);
    if (!prefix) return Error{fmt::format("invalid IPv6 CIDR length in \"{}\"", printable(term))};
    cidr.cidr6 = *prefix;
    rest = rest.substr(0, slashes);
  }
  if (std::size_t slash = rest.rfind('/'); slash != std::string_view::npos && all_digits(rest.substr(slash + 1))) {
    auto prefix = parse_prefix(rest.substr(slash + 1), 32);
    if (!prefix) return Error{fmt::format("invalid IPv4 CIDR length in \"{}\"", printable(term))};
    cidr.cidr4 = *prefix;
    rest = rest.substr(0, slash);
  }
  return std::pair{rest, cidr};
}

Status require_domain_spec(std::string_view spec, std::string_view term) {
  if (spec.empty()) return Error{fmt::format("empty domain-spec in \"{}\"", printable(term))};
  if (auto checked = check_domain_spec(spec); !checked)
    return Error{fmt::format("invalid domain-spec in \"{}\": {}", printable(term), checked.error().message)};
  return Ok{};
}

Result<Mechanism> parse_mechanism(std::string_view term) {
  Mechanism mechanism;
  mechanism.text = std::string(term);
  std::string_view body = term;
  switch (body.empty() ? '\0' : body.front()) {
    case '+': mechanism.qualifier = Qualifier::pass; body.remove_prefix(1); break;
    case '-': mechanism.qualifier = Qualifier::fail; body.remove_prefix(1); break;
    case '~': mechanism.qualifier = Qualifier::softfail; body.remove_prefix(1); break;
    case '?': mechanism.qualifier = Qualifier::neutral; body.remove_prefix(1); break;
    default: break;
  }
  const std::size_t name_end = body.find_first_of(":/");
  const std::string_view name = body.substr(0, name_end);
  const std::string_view rest = name_end == std::string_view::npos ? std::string_view() : body.substr(name_end);

  static constexpr std::pair<std::string_view, MechanismKind> kinds[] = {
      {"all", MechanismKind::all},   {"include", MechanismKind::include}, {"a", MechanismKind::a},
      {"mx", MechanismKind::mx},     {"ptr", MechanismKind::ptr},         {"ip4", MechanismKind::ip4},
      {"ip6", MechanismKind::ip6},   {"exists", MechanismKind::exists},
  };
  bool known = false;
  for (const auto& [kind_name, kind] : kinds) {
    if (iequals(name, kind_name)) {
      mechanism.kind = kind;
      known = true;
      break;
    }
  }
  if (!known) return Error{fmt::format("unknown mechanism \"{}\"", printable(term))};

  switch (mechanism.kind) {
    case MechanismKind::all:  // all = "all" (§5.1)
      if (!rest.empty()) return Error{fmt::format("\"all\" takes no argument: \"{}\"", printable(term))};
      break;

    case MechanismKind::include:  // include = "include" ":" domain-spec (§5.2)
    case MechanismKind::exists: {  // exists = "exists" ":" domain-spec (§5.7)
      if (rest.empty() || rest.front() != ':')
        return Error{fmt::format("\"{}\" needs \":domain\": \"{}\"", to_string(mechanism.kind), printable(term))};
      if (auto checked = require_domain_spec(rest.substr(1), term); !checked) return checked.error();
      mechanism.domain_spec = std::string(rest.substr(1));
      break;
    }

    case MechanismKind::a:     // a  = "a"  [ ":" domain-spec ] [ dual-cidr-length ] (§5.3)
    case MechanismKind::mx: {  // mx = "mx" [ ":" domain-spec ] [ dual-cidr-length ] (§5.4)
      const bool has_domain = !rest.empty() && rest.front() == ':';
      auto split = split_dual_cidr(has_domain ? rest.substr(1) : rest, term);
      if (!split) return split.error();
      auto [spec, cidr] = *split;
      if (has_domain) {
        if (auto checked = require_domain_spec(spec, term); !checked) return checked.error();
        mechanism.domain_spec = std::string(spec);
      } else if (!spec.empty()) {
        return Error{fmt::format("invalid CIDR length in \"{}\"", printable(term))};
      }
      mechanism.cidr4 = cidr.cidr4;
      mechanism.cidr6 = cidr.cidr6;
      break;
    }

    case MechanismKind::ptr:  // ptr = "ptr" [ ":" domain-spec ] (§5.5)
      if (!rest.empty()) {
        if (rest.front() != ':') return Error{fmt::format("\"ptr\" takes no CIDR length: \"{}\"", printable(term))};
        if (auto checked = require_domain_spec(rest.substr(1), term); !checked) return checked.error();
        mechanism.domain_spec = std::string(rest.substr(1));
      }
      break;

    case MechanismKind::ip4:    // ip4 = "ip4" ":" ip4-network [ ip4-cidr-length ] (§5.6)
    case MechanismKind::ip6: {  // ip6 = "ip6" ":" ip6-network [ ip6-cidr-length ]
      const bool v6 = mechanism.kind == MechanismKind::ip6;
      if (rest.empty() || rest.front() != ':')
        return Error{fmt::format("\"{}\" needs \":address\": \"{}\"", v6 ? "ip6" : "ip4", printable(term))};
      std::string_view network = rest.substr(1);
      std::optional<int> prefix = v6 ? 128 : 32;
      if (std::size_t slash = network.find('/'); slash != std::string_view::npos) {
        prefix = parse_prefix(network.substr(slash + 1), v6 ? 128 : 32);
        if (!prefix) return Error{fmt::format("invalid CIDR length in \"{}\"", printable(term))};
        network = network.substr(0, slash);
      }
      auto address = v6 ? parse_ip6_network(network) : parse_ip4_network(network);
      if (!address)
        return Error{fmt::format("invalid {} address in \"{}\"", v6 ? "IPv6" : "IPv4", printable(term))};
      mechanism.network = *address;
      if (v6)
        mechanism.cidr6 = *prefix;
      else
        mechanism.cidr4 = *prefix;
      break;
    }
  }
  return mechanism;
}

// modifier = redirect / explanation / unknown-modifier; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
// Returns the length of the name when `term` is name "=" ..., else 0.
std::size_t modifier_name_length(std::string_view term) {
  if (term.empty() || !is_alpha(term.front())) return 0;
  std::size_t i = 1;
  while (i < term.size() && (is_alpha(term[i]) || is_digit(term[i]) || term[i] == '-' || term[i] == '_' || term[i] == '.'))
    ++i;
  return i < term.size() && term[i] == '=' ? i : 0;
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

std::string_view to_string(MechanismKind kind) {
  switch (kind) {
    case MechanismKind::all: return "all";
    case MechanismKind::include: return "include";
    case MechanismKind::a: return "a";
    case MechanismKind::mx: return "mx";
    case MechanismKind::ptr: return "ptr";
    case MechanismKind::ip4: return "ip4";
    case MechanismKind::ip6: return "ip6";
    case MechanismKind::exists: return "exists";
  }
  return "?";
}

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN || text.find('\0') != std::string_view::npos)
    return std::nullopt;
  std::string copy(text);
  IpAddress address;
  if (inet_pton(AF_INET, copy.c_str(), address.bytes.data()) == 1) return address;
  if (inet_pton(AF_INET6, copy.c_str(), address.bytes.data()) != 1) return std::nullopt;
  static constexpr std::uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(address.bytes.data(), v4_mapped, sizeof v4_mapped) == 0) {
    // §5: "IPv4-mapped IPv6 addresses ... MUST still be considered an IPv4 address."
    IpAddress v4;
    std::memcpy(v4.bytes.data(), address.bytes.data() + 12, 4);
    return v4;
  }
  address.v6 = true;
  return address;
}

bool in_network(const IpAddress& address, const IpAddress& network, int prefix) {
  if (address.v6 != network.v6) return false;
  const int bits = address.v6 ? 128 : 32;
  if (prefix < 0 || prefix > bits) return false;
  int full_bytes = prefix / 8;
  if (std::memcmp(address.bytes.data(), network.bytes.data(), static_cast<std::size_t>(full_bytes)) != 0) return false;
  const int remaining = prefix % 8;
  if (remaining == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - remaining));
  return (address.bytes[full_bytes] & mask) == (network.bytes[full_bytes] & mask);
}

bool is_spf_record(std::string_view text) {
  // record = version terms *SP; version = "v=spf1" (case-insensitive like all ABNF strings).
  return text.size() >= 6 && iequals(text.substr(0, 6), "v=spf1") && (text.size() == 6 || text[6] == ' ');
}

Result<SpfRecord> parse_record(std::string_view text) {
  if (!is_spf_record(text)) return Error{"not an SPF record (no \"v=spf1\" version)"};
  SpfRecord record;
  std::string_view rest = text.substr(6);
  // terms = *( 1*SP ( directive / modifier ) ): only SP separates terms (§4.6.1), any number of them.
  while (!rest.empty()) {
    const std::size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const std::size_t end = rest.find(' ');
    const std::string_view term = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);

    if (const std::size_t name_length = modifier_name_length(term); name_length > 0) {
      const std::string_view name = term.substr(0, name_length);
      const std::string_view value = term.substr(name_length + 1);
      if (iequals(name, "redirect") || iequals(name, "exp")) {
        const bool redirect = iequals(name, "redirect");
        std::optional<std::string>& slot = redirect ? record.redirect : record.exp;
        // §6: "These two modifiers MUST NOT appear in a record more than once each."
        if (slot) return Error{fmt::format("\"{}=\" appears more than once", redirect ? "redirect" : "exp")};
        if (auto checked = require_domain_spec(value, term); !checked) return checked.error();
        slot = std::string(value);
      } else {
        // unknown-modifier = name "=" macro-string: ignored, but its syntax must hold (§6, §A).
        if (auto checked = check_macro_string(value, MacroUse::domain); !checked)
          return Error{fmt::format("invalid modifier \"{}\": {}", printable(term), checked.error().message)};
      }
      continue;
    }
    auto mechanism = parse_mechanism(term);
    if (!mechanism) return mechanism.error();
    record.mechanisms.push_back(std::move(*mechanism));
  }
  return record;
}

}  // namespace gatehouse::checks::spf
