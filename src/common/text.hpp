// Small text helpers shared by the protocol, configuration and content code. ASCII only on
// purpose: protocol tokens, header names, domains and file extensions are case-insensitive in
// ASCII (RFC 5321 §2.4, RFC 5322 §1.2.2); Unicode case folding belongs to content/normalize.hpp.
#pragma once
#include <string>
#include <string_view>

namespace gatehouse {

inline std::string to_lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The domain of an address, lower case: what follows its last '@' ("" when it has none). RFC 5321
// §4.1.2: the domain is after the last '@' (a quoted local part may hold one).
inline std::string domain_of_address(std::string_view address) {
  const auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : to_lower_ascii(address.substr(at + 1));
}

// `text` without the spaces, tabs, CRs and LFs at either end.
inline std::string_view trim_ascii_whitespace(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// Whether `name` is `domain` or a subdomain of it, ignoring ASCII case and trailing dots:
// "mx1.Example.org." is within "example.org", "badexample.org" is not (RFC 7208 §5.5's test, and
// the free-mail check's "one of the provider's servers").
inline bool within_domain(std::string_view name, std::string_view domain) {
  auto trim = [](std::string_view text) {
    if (!text.empty() && text.back() == '.') text.remove_suffix(1);
    return text;
  };
  name = trim(name);
  domain = trim(domain);
  if (domain.empty() || name.size() < domain.size()) return false;
  const std::size_t offset = name.size() - domain.size();
  if (offset > 0 && name[offset - 1] != '.') return false;
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  for (std::size_t i = 0; i < domain.size(); ++i)
    if (lower(name[offset + i]) != lower(domain[i])) return false;
  return true;
}

// Well-formed UTF-8 by its byte structure (lead byte and continuation bytes; RFC 3629 §4 without
// the overlong and surrogate checks, which callers that need them make on code points).
inline bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = byte < 0x80 ? 1 : (byte >> 5) == 6 ? 2 : (byte >> 4) == 14 ? 3 : (byte >> 3) == 30 ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 2) return false;
    i += length;
  }
  return true;
}

}  // namespace gatehouse
