// libFuzzer target for the PROXY protocol header parser (src/smtp/proxy_protocol.hpp; HAProxy
// doc/proxy-protocol.txt v1 §2.1, v2 §2.2). The input is the first bytes a load balancer sends.
//
// Invariants checked:
// - the result is consistent: done ⇒ 0 < consumed ≤ size and no error; invalid ⇒ a reason and
//   nothing consumed; need_more ⇒ nothing consumed;
// - a done header that is not local carries addresses inet_pton accepts, already in inet_ntop form;
// - incremental feeding agrees with all-at-once: every prefix shorter than the header is need_more,
//   a prefix holding the whole header gives the same header and length, and once a prefix is
//   invalid every longer input is invalid (need_more is returned only for valid prefixes).
#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/proxy_protocol.hpp"

using gatehouse::smtp::parse_proxy_header;
using gatehouse::smtp::ProxyHeader;
using gatehouse::smtp::ProxyParseResult;
using gatehouse::smtp::ProxyParseState;

bool fuzz_invariant_ignored(const char* what);  // fuzz/fuzz_support.cpp

namespace {

// Aborts (a crash for libFuzzer) unless FUZZ_IGNORE names this invariant (fuzz_support.cpp).
void fail(const char* what, std::size_t length) {
  if (fuzz_invariant_ignored(what)) return;
  std::fprintf(stderr, "proxy_protocol invariant violated: %s (prefix length %zu)\n", what, length);
  std::abort();
}

void check_consistent(const ProxyParseResult& result, std::size_t length) {
  switch (result.state) {
    case ProxyParseState::done:
      if (result.consumed == 0 || result.consumed > length) fail("done with a bad consumed count", length);
      if (!result.error.empty()) fail("done with an error text", length);
      break;
    case ProxyParseState::invalid:
      if (result.error.empty()) fail("invalid without a reason", length);
      if (result.consumed != 0) fail("invalid but consumed bytes", length);
      break;
    case ProxyParseState::need_more:
      if (result.consumed != 0) fail("need_more but consumed bytes", length);
      break;
  }
}

bool is_normalised_address(const std::string& text) {
  unsigned char binary[16];
  char again[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, text.c_str(), binary) == 1)
      return inet_ntop(family, binary, again, sizeof again) != nullptr && text == again;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const ProxyParseResult whole = parse_proxy_header(input);
  check_consistent(whole, size);

  if (whole.state == ProxyParseState::done && !whole.header.local) {
    const ProxyHeader& header = whole.header;
    if (!is_normalised_address(header.source_ip) || !is_normalised_address(header.destination_ip))
      fail("done with an address that is not in inet_ntop form", size);
  }

  // Prefixes. All of them for short inputs; for long ones every length near the header's end
  // and a spread of the others, to keep each run fast.
  const std::size_t boundary = whole.state == ProxyParseState::done ? whole.consumed : size;
  const std::size_t step = size <= 300 ? 1 : size / 150;
  std::vector<bool> chosen(size + 1, false);
  for (std::size_t length = 0; length <= size; length += step) chosen[length] = true;
  for (std::size_t length = boundary >= 8 ? boundary - 8 : 0; length <= size && length <= boundary + 8; ++length)
    chosen[length] = true;
  for (std::size_t length = 0; length <= size && length <= 32; ++length) chosen[length] = true;
  chosen[size] = true;
  bool seen_invalid = false;
  for (std::size_t length = 0; length <= size; ++length) {
    if (!chosen[length]) continue;
    const ProxyParseResult part = parse_proxy_header(input.substr(0, length));
    check_consistent(part, length);
    if (seen_invalid && part.state != ProxyParseState::invalid) fail("valid again after invalid", length);
    if (part.state == ProxyParseState::invalid) seen_invalid = true;

    switch (whole.state) {
      case ProxyParseState::need_more:
        if (part.state != ProxyParseState::need_more) fail("a prefix of an incomplete header is final", length);
        break;
      case ProxyParseState::done:
        if (length < whole.consumed && part.state != ProxyParseState::need_more)
          fail("a prefix of a valid header is not need_more", length);
        if (length >= whole.consumed &&
            (part.state != ProxyParseState::done || part.consumed != whole.consumed || !(part.header == whole.header)))
          fail("a prefix holding the whole header gives another result", length);
        break;
      case ProxyParseState::invalid:
        if (part.state == ProxyParseState::done) fail("a prefix of an invalid input is done", length);
        break;
    }
  }
  return 0;
}
