// The HELO/EHLO name (RFC 5321 §4.1.1.1, §2.3.5): a fully-qualified domain name of RFC 1035 §2.3.1
// labels, or an address literal (§4.1.3) that must be the connecting address; a client claiming
// our own name or address, or changing its name mid-session, is lying. RFC 5321 §4.1.4 forbids
// refusing mail only because the name does not match the address, so by default these findings
// score; a claim of our own identity rejects.
#include <algorithm>
#include <arpa/inet.h>
#include <fmt/format.h>

#include "checks/builtin.hpp"
#include "smtp/command.hpp"

namespace gatehouse::checks {
namespace {

bool is_label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(label.front()) || !alnum(label.back())) return false;
  return std::all_of(label.begin(), label.end(), [&](char c) { return alnum(c) || c == '-'; });
}

// Domain syntax; `labels` receives the label count.
bool is_domain(std::string_view name, int& labels) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  labels = 0;
  for (std::size_t start = 0;;) {
    auto dot = name.find('.', start);
    if (!is_label(name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start))) return false;
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  // The top-level label is not all digits (RFC 3696 §2): "192.0.2.1" is not a domain.
  auto last = name.substr(name.rfind('.') == std::string_view::npos ? 0 : name.rfind('.') + 1);
  return !std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The address of "[192.0.2.1]" or "[IPv6:2001:db8::1]" in canonical text, or "" when invalid.
std::string literal_address(std::string_view helo) {
  if (helo.size() < 3 || helo.front() != '[' || helo.back() != ']') return {};
  std::string inner(helo.substr(1, helo.size() - 2));
  unsigned char bytes[16];
  char text[INET6_ADDRSTRLEN];
  if (inner.size() > 5 && smtp::to_lower_ascii(inner.substr(0, 5)) == "ipv6:") {
    if (inet_pton(AF_INET6, inner.c_str() + 5, bytes) != 1) return {};
    return inet_ntop(AF_INET6, bytes, text, sizeof text);
  }
  if (inet_pton(AF_INET, inner.c_str(), bytes) != 1) return {};
  return inet_ntop(AF_INET, bytes, text, sizeof text);
}

class HeloCheck final : public Check {
 public:
  std::string_view name() const override { return "helo"; }
  bool host_check() const override { return true; }
  Stage stage() const override { return Stage::helo; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    const auto& policy = *context.policy;
    const auto& settings = policy.check("helo");
    const std::string helo = smtp::to_lower_ascii(context.helo);
    if (helo.empty()) co_return outcome;   // the session refuses MAIL before HELO
    std::string bare = helo;
    if (!bare.empty() && bare.back() == '.') bare.pop_back();

    if (helo.front() == '[') {
      std::string address = literal_address(helo);
      if (address.empty()) {
        outcome.add(settings, "invalid", fmt::format("{} is not a valid address literal", context.helo));
      } else {
        if (context.connection && !context.connection->local_ip.empty() &&
            address == canonical_ip(context.connection->local_ip) && address != canonical_ip(context.client_ip))
          outcome.add(settings, "our_name", fmt::format("{} is our own address", context.helo));
        else if (address != canonical_ip(context.client_ip))
          outcome.add(settings, "literal_mismatch", fmt::format("{} is not the client address {}", context.helo, context.client_ip));
      }
    } else {
      int labels = 0;
      if (!is_domain(helo, labels)) {
        outcome.add(settings, "invalid", fmt::format("{} is not a valid host name", context.helo));
      } else if (labels < 2) {
        outcome.add(settings, "not_fqdn", fmt::format("{} is not a fully-qualified domain name", context.helo));
      } else if (bare == smtp::to_lower_ascii(context.config->hostname) ||
                 std::any_of(context.config->domains.begin(), context.config->domains.end(),
                             [&](const DomainConfig& domain) { return domain.name == bare; })) {
        outcome.add(settings, "our_name", fmt::format("{} is our own name", context.helo));
      }
    }
    if (outcome.contributions.empty()) outcome.note = "valid: " + context.helo;
    if (context.connection) {
      const auto& names = context.connection->helo_names;
      for (const auto& earlier : names) {
        if (smtp::to_lower_ascii(earlier) != helo) {
          outcome.add(settings, "changed", fmt::format("changed from {} to {}", earlier, context.helo));
          break;
        }
      }
    }
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_helo_check() { return std::make_unique<HeloCheck>(); }

}  // namespace gatehouse::checks
