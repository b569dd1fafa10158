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

}  // namespace gatehouse
