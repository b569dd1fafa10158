// The organizational domain of a host name (RFC 7489 §3.2): the registrable domain one label below
// its public suffix, from the Public Suffix List (Debian's publicsuffix package, read by libpsl).
// "mail.example.co.uk" → "example.co.uk". Used for relaxed identifier alignment (SPF/DKIM vs From).
#pragma once
#include <string>
#include <string_view>

namespace gatehouse {

// Lower case, without a trailing dot; the name itself when it is a public suffix or unknown.
std::string organizational_domain(std::string_view domain);

// Whether two domains share their organizational domain (relaxed alignment, RFC 7489 §3.1.1).
bool aligned(std::string_view a, std::string_view b);

}  // namespace gatehouse
