// The reverse-DNS check's name heuristics, separate so that tests can drive them (reverse_dns.cpp).
#pragma once
#include <string_view>

namespace gatehouse::checks {

// Whether a PTR name looks like one of a dynamic or residential pool: the client address embedded
// ("203-0-113-7.example.net", "7.113.0.203.example.net", "cb007107.example.net" in hexadecimal,
// "203000113007.example.net"), or a host label that names a pool ("dyn", "dsl123", "pool", "ppp",
// "cable", "client", "ip123", "host-12", …). The provider's registered domain is not looked at.
bool looks_like_generic_name(std::string_view name, std::string_view ip);

}  // namespace gatehouse::checks
