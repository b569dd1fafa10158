// SPF macros (RFC 7208 §7): the syntax of macro-strings, domain-specs and explain-strings
// (§7.1), the macro letters (§7.3: s l o d i p h v everywhere, c r t only in explanation text),
// transformers and delimiters (§7.1, §7.3: split on the delimiters, optionally reverse, keep the
// right-most N parts, rejoin with dots), URL escaping of upper-case macros (§7.3, RFC 3986
// unreserved set), and the expansion of domain-specs into queryable target names (trailing dot
// ignored, left-truncation past 253 characters, §7.3 and RFC 1035 §2.3.4 name limits).
#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>

#include "checks/spf/spf.hpp"

namespace gatehouse::checks::spf {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || is_upper(c); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

// One piece of a parsed macro-string.
struct Token {
  enum class Kind { literal, macro, percent, space, url_space } kind = Kind::literal;
  std::string_view literal;  // Kind::literal: a run of literal characters
  char letter = 0;           // Kind::macro: as written (upper case = URL-escape the result)
  int keep = 0;              // right-most parts to keep; 0 = all
  bool reverse = false;
  std::string delimiters;    // empty = "."
};

// A character of the input for an error message: itself when printable ASCII, else \xHH, so that a
// problem quoting a hostile TXT record is safe to log and to put in a reply (like record.cpp does).
std::string shown(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f && byte != '\\') return std::string(1, c);
  return fmt::format("\\x{:02x}", byte);
}

bool is_delimiter(char c) {
  // delimiter = "." / "-" / "+" / "," / "/" / "_" / "="
  return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

bool letter_allowed(char letter, MacroUse use) {
  switch (lower(letter)) {
    case 's': case 'l': case 'o': case 'd': case 'i': case 'p': case 'h': case 'v': return true;
    case 'c': case 'r': case 't': return use == MacroUse::explanation;  // §7.3: only in "exp" text
    default: return false;
  }
}

// Parses a macro-string (§7.1) or, with MacroUse::explanation, an explain-string
// (*( macro-string / SP )). macro-literal = %x21-24 / %x26-7E: visible ASCII except "%".
Result<std::vector<Token>> tokenize(std::string_view text, MacroUse use) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c != '%') {
      const bool literal = (c >= 0x21 && c <= 0x7e) || (c == ' ' && use == MacroUse::explanation);
      if (!literal) {
        if (c == ' ') return Error{"space in a domain-spec"};
        return Error{fmt::format("character \\x{:02x} is not allowed (only visible ASCII)", c)};
      }
      if (!tokens.empty() && tokens.back().kind == Token::Kind::literal) {
        // Extend the current literal run (it always ends right before i).
        std::string_view& run = tokens.back().literal;
        run = std::string_view(run.data(), run.size() + 1);
      } else {
        Token token;
        token.literal = text.substr(i, 1);
        tokens.push_back(token);
      }
      ++i;
      continue;
    }
    // macro-expand = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"
    if (i + 1 >= text.size()) return Error{"\"%\" at the end (write \"%%\" for a percent sign)"};
    const char next = text[i + 1];
    Token token;
    if (next == '%') {
      token.kind = Token::Kind::percent;
      i += 2;
    } else if (next == '_') {
      token.kind = Token::Kind::space;
      i += 2;
    } else if (next == '-') {
      token.kind = Token::Kind::url_space;
      i += 2;
    } else if (next == '{') {
      std::size_t j = i + 2;
      if (j >= text.size()) return Error{"unterminated macro \"%{\""};
      token.kind = Token::Kind::macro;
      token.letter = text[j];
      if (!letter_allowed(token.letter, use)) {
        if (is_alpha(token.letter) && letter_allowed(token.letter, MacroUse::explanation))
          return Error{fmt::format("macro letter \"{}\" is allowed only in explanation text", token.letter)};
        return Error{fmt::format("unknown macro letter \"{}\"", shown(token.letter))};
      }
      ++j;
      // transformers = *DIGIT [ "r" ]; "If a DIGIT is specified, the value MUST be nonzero."
      std::size_t digits = 0;
      long keep = 0;
      while (j < text.size() && is_digit(text[j])) {
        keep = std::min<long>(keep * 10 + (text[j] - '0'), 1'000'000);
        ++digits;
        ++j;
      }
      if (digits > 0 && keep == 0) return Error{"macro transformer digit 0 is not allowed"};
      token.keep = static_cast<int>(keep);
      if (j < text.size() && lower(text[j]) == 'r') {
        token.reverse = true;
        ++j;
      }
      while (j < text.size() && is_delimiter(text[j])) token.delimiters += text[j++];
      if (j >= text.size() || text[j] != '}') return Error{"malformed macro (expected \"}\")"};
      i = j + 1;
    } else {
      return Error{fmt::format("\"%{}\" is not a macro (\"%\" must be followed by {{, %, _ or -)", shown(next))};
    }
    tokens.push_back(token);
  }
  return tokens;
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view label) {
  if (label.empty() || !is_alnum(label.front()) || !is_alnum(label.back())) return false;
  bool letter = false;
  bool hyphen = false;
  for (char c : label) {
    if (is_alpha(c))
      letter = true;
    else if (c == '-')
      hyphen = true;
    else if (!is_digit(c))
      return false;
  }
  return letter || hyphen;
}

// unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 §2.3); everything else %XX.
std::string url_escape(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (is_alnum(static_cast<char>(c)) || c == '-' || c == '.' || c == '_' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

// %{i}: dotted quad for IPv4; for IPv6 the 32 nibbles separated by dots (§7.3), the form used in
// ip6.arpa names. DNS names are case-insensitive and the RFC fixes no case for the hex digits;
// they follow the case in which the address was written (lower case unless it was all upper).
std::string ip_dotted(const IpAddress& ip, bool upper_hex) {
  if (!ip.v6) return fmt::format("{}.{}.{}.{}", ip.bytes[0], ip.bytes[1], ip.bytes[2], ip.bytes[3]);
  const char* digits = upper_hex ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (std::uint8_t byte : ip.bytes) {
    if (!out.empty()) out += '.';
    out += digits[byte >> 4];
    out += '.';
    out += digits[byte & 0x0f];
  }
  return out;
}

// %{c}: "easily readable" (§7.3): dotted quad, or RFC 5952 text for IPv6.
std::string ip_readable(const IpAddress& ip) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip.v6 ? AF_INET6 : AF_INET, ip.bytes.data(), text, sizeof text);
  return text;
}

std::string letter_value(char letter, const MacroValues& values) {
  switch (lower(letter)) {
    case 's': return values.sender;
    case 'l': return values.local_part;
    case 'o': return values.sender_domain;
    case 'd': return values.domain;
    case 'i': return ip_dotted(values.ip, values.ip_upper_hex);
    case 'p': return values.validated_domain.empty() ? "unknown" : values.validated_domain;
    case 'v': return values.ip.v6 ? "ip6" : "in-addr";
    case 'h': return values.helo;
    case 'c': return ip_readable(values.ip);
    case 'r': return values.receiver.empty() ? "unknown" : values.receiver;
    case 't': return std::to_string(values.timestamp);
    default: return {};
  }
}

// §7.3: split on the delimiters, reverse if asked, keep the right-most `keep` parts, join with ".".
std::string transform(std::string value, const Token& token) {
  if (token.keep == 0 && !token.reverse && token.delimiters.empty()) return value;
  const std::string_view delimiters = token.delimiters.empty() ? std::string_view(".") : std::string_view(token.delimiters);
  std::vector<std::string_view> parts;
  std::string_view rest = value;
  for (;;) {
    const std::size_t at = rest.find_first_of(delimiters);
    parts.push_back(rest.substr(0, at));
    if (at == std::string_view::npos) break;
    rest.remove_prefix(at + 1);
  }
  if (token.reverse) std::reverse(parts.begin(), parts.end());
  std::size_t first = 0;
  if (token.keep > 0 && static_cast<std::size_t>(token.keep) < parts.size()) first = parts.size() - token.keep;
  std::string out;
  for (std::size_t i = first; i < parts.size(); ++i) {
    if (i > first) out += '.';
    out += parts[i];
  }
  return out;
}

}  // namespace

Status check_macro_string(std::string_view text, MacroUse use) {
  auto tokens = tokenize(text, use);
  if (!tokens) return tokens.error();
  return Ok{};
}

Status check_domain_spec(std::string_view text) {
  // domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand
  auto tokens = tokenize(text, MacroUse::domain);
  if (!tokens) return tokens.error();
  if (tokens->empty()) return Error{"empty domain-spec"};
  const Token& last = tokens->back();
  if (last.kind != Token::Kind::literal) return Ok{};
  std::string_view tail = last.literal;
  if (!tail.empty() && tail.back() == '.') tail.remove_suffix(1);
  const std::size_t dot = tail.rfind('.');
  if (dot == std::string_view::npos || !is_toplabel(tail.substr(dot + 1)))
    return Error{"a domain-spec must end in a macro or in \".\" and a top-level label"};
  return Ok{};
}

bool uses_validated_domain(std::string_view text) {
  auto tokens = tokenize(text, MacroUse::explanation);
  if (!tokens) return false;
  for (const Token& token : *tokens)
    if (token.kind == Token::Kind::macro && lower(token.letter) == 'p') return true;
  return false;
}

Result<std::string> expand_macros(std::string_view text, const MacroValues& values, MacroUse use) {
  auto tokens = tokenize(text, use);
  if (!tokens) return tokens.error();
  std::string out;
  for (const Token& token : *tokens) {
    switch (token.kind) {
      case Token::Kind::literal: out += token.literal; break;
      case Token::Kind::percent: out += '%'; break;
      case Token::Kind::space: out += ' '; break;
      case Token::Kind::url_space: out += "%20"; break;
      case Token::Kind::macro: {
        std::string value = transform(letter_value(token.letter, values), token);
        // §7.3: "Uppercase macros expand exactly as their lowercase equivalents, and are then URL
        // escaped."
        out += is_upper(token.letter) ? url_escape(value) : value;
        break;
      }
    }
  }
  return out;
}

Result<std::string> expand_domain_spec(std::string_view text, const MacroValues& values) {
  auto expanded = expand_macros(text, values, MacroUse::domain);
  if (!expanded) return expanded;
  std::string name = std::move(*expanded);
  if (!name.empty() && name.back() == '.') name.pop_back();
  // §7.3: "if the expanded domain name exceeds 253 characters ..., the left side is truncated to
  // fit, by removing successive domain labels (and their following dots) until the total length
  // does not exceed 253 characters."
  while (name.size() > 253) {
    const std::size_t dot = name.find('.');
    if (dot == std::string::npos) break;
    name.erase(0, dot + 1);
  }
  return name;
}

bool queryable_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  // No control character goes to the resolver: a NUL would cut the name short, and CR, LF and the
  // like have no place in a host name (a HELO name may hold a bare CR, which %{h} copies): such a
  // name cannot exist, so it is not looked up.
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = name.find('.', start);
    const std::size_t length = (dot == std::string_view::npos ? name.size() : dot) - start;
    if (length == 0 || length > 63) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace gatehouse::checks::spf
