// Reverse DNS of the client (RFC 1912 §2.1: every Internet-reachable host should have a PTR that
// maps back to it): no PTR name at all, a PTR name whose A/AAAA records do not contain the client
// address (forward-confirmed reverse DNS fails), and generic names of dynamic/residential pools
// ("203-0-113-7.dsl.example.net", "dynamic-...", "ppp...") that mail servers rarely have. A lookup
// that fails (timeout, SERVFAIL) is no evidence. Findings score; see [filter.checks.reverse_dns].
#include <algorithm>
#include <arpa/inet.h>
#include <fmt/format.h>
#include "checks/reverse_dns.hpp"

#include "checks/builtin.hpp"
#include "dns/resolver.hpp"
#include "smtp/command.hpp"

namespace gatehouse::checks {

// Hand-written rather than std::regex: this runs for every connection, and building regular
// expressions per call cost a quarter of the daemon's CPU under load (bench/README.md).
bool looks_like_generic_name(std::string_view name, std::string_view ip) {
  const std::string lower = smtp::to_lower_ascii(name);
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  in_addr v4{};
  if (inet_pton(AF_INET, canonical_ip(ip).c_str(), &v4) == 1) {
    const auto* b = reinterpret_cast<const unsigned char*>(&v4.s_addr);
    // The name as runs of digits with what separates them.
    struct Run {
      std::size_t begin, end;
    };
    std::vector<Run> runs;
    for (std::size_t i = 0; i < lower.size();) {
      if (!is_digit(lower[i])) {
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < lower.size() && is_digit(lower[j])) ++j;
      runs.push_back({i, j});
      i = j;
    }
    auto value = [&](const Run& run) {
      std::string_view digits(lower.data() + run.begin, run.end - run.begin);
      return digits.size() <= 3 ? std::stoi(std::string(digits)) : -1;
    };
    auto separated = [&](const Run& left, const Run& right) {
      return right.begin == left.end + 1 && (lower[left.end] == '.' || lower[left.end] == '-' || lower[left.end] == '_');
    };
    for (int order = 0; order < 2; ++order) {
      const int o[4] = {order ? b[3] : b[0], order ? b[2] : b[1], order ? b[1] : b[2], order ? b[0] : b[3]};
      // "203-0-113-7", "7.113.0.203", "ip_203_0_113_7" …
      for (std::size_t k = 0; k + 3 < runs.size(); ++k) {
        bool match = true;
        for (int m = 0; m < 4 && match; ++m) {
          match = value(runs[k + m]) == o[m] && (m == 0 || separated(runs[k + m - 1], runs[k + m]));
        }
        if (match) return true;
      }
      // "2030113007", "203000113007"
      const std::string plain = fmt::format("{}{}{}{}", o[0], o[1], o[2], o[3]);
      const std::string padded = fmt::format("{:03}{:03}{:03}{:03}", o[0], o[1], o[2], o[3]);
      for (const auto& run : runs) {
        std::string_view digits(lower.data() + run.begin, run.end - run.begin);
        if (digits == plain || digits == padded) return true;
      }
    }
    if (lower.find(fmt::format("{:02x}{:02x}{:02x}{:02x}", b[0], b[1], b[2], b[3])) != std::string::npos) return true;
  }
  // Only the host part: the registered domain of a provider ("pool.example") says nothing.
  const auto dots = std::count(lower.begin(), lower.end(), '.');
  if (dots < 2) return false;
  const std::string host_part = lower.substr(0, lower.rfind('.', lower.rfind('.') - 1));
  static constexpr std::string_view pool_words[] = {
      "dyn", "dynamic", "dynip", "dhcp", "dsl", "adsl", "xdsl", "vdsl", "pool", "ppp", "pppoe", "dial", "dialup",
      "dialin", "cable", "catv", "cust", "customer", "client", "clients", "broadband", "residential", "home", "user",
      "users"};
  std::vector<std::string_view> tokens;
  for (std::size_t i = 0; i <= host_part.size();) {
    std::size_t j = host_part.find_first_of(".-", i);
    if (j == std::string::npos) j = host_part.size();
    tokens.emplace_back(host_part.data() + i, j - i);
    i = j + 1;
  }
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    const auto token = tokens[t];
    // A pool word alone or followed by digits ("dyn", "dsl123").
    for (auto word : pool_words) {
      if (token.substr(0, word.size()) == word && (token.size() == word.size() || is_digit(token[word.size()])))
        return true;
    }
    // "ip"/"host" numbered: "ip123", "host-12".
    for (std::string_view word : {std::string_view("ip"), std::string_view("host")}) {
      if (token.substr(0, word.size()) != word) continue;
      if (token.size() > word.size() && is_digit(token[word.size()])) return true;
      if (token.size() == word.size() && t + 1 < tokens.size() && !tokens[t + 1].empty() && is_digit(tokens[t + 1][0]))
        return true;
    }
  }
  return false;
}

namespace {

struct ForwardResult {
  bool confirmed = false;
  std::string error;
};

class ReverseDnsCheck final : public Check {
 public:
  std::string_view name() const override { return "reverse_dns"; }
  bool host_check() const override { return true; }
  Stage stage() const override { return Stage::connect; }
  int cost() const override { return 12; }
  std::string_view reply_kind() const override { return "reverse_dns"; }
  std::string_view reject_enhanced() const override { return "5.7.25"; }   // RFC 7372 §3.3

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    const auto& policy = *context.policy;
    if (!context.connection) co_return outcome;
    const auto& settings = policy.check("reverse_dns");
    const auto& state = *context.connection;
    if (!state.ptr_error.empty()) {
      outcome.error = "PTR lookup: " + state.ptr_error;
      co_return outcome;
    }
    if (state.ptr.empty()) {
      outcome.add(settings, "missing", fmt::format("no PTR record for {}", context.client_ip));
      co_return outcome;
    }
    // Without a resolver (gatehouse check --no-dns --ptr NAME) the name is judged, not confirmed.
    if (context.resolver) {
      ForwardResult forward = co_await confirm(context);
      if (!forward.error.empty()) {
        outcome.error = forward.error;
      } else if (!forward.confirmed) {
        outcome.add(settings, "not_confirmed", fmt::format("{} does not resolve to {}", state.ptr, context.client_ip));
      }
    }
    if (looks_like_generic_name(state.ptr, context.client_ip))
      outcome.add(settings, "generic", fmt::format("{} looks like a dynamic address", state.ptr));
    if (outcome.contributions.empty() && outcome.error.empty())
      outcome.note = (context.resolver ? "confirmed: " : "not confirmed (no DNS): ") + state.ptr;
    co_return outcome;
  }

 private:
  static boost::asio::awaitable<ForwardResult> confirm(CheckContext& context) {
    auto& state = *context.connection;
    const std::string key = "fcrdns";
    if (auto it = state.memo.find(key); it != state.memo.end()) co_return std::any_cast<ForwardResult>(it->second);
    ForwardResult result;
    const std::string ip = canonical_ip(context.client_ip);
    const bool v6 = ip.find(':') != std::string::npos;
    dns::DnsAnswer<std::string> answer;
    if (v6) {
      auto found = co_await context.resolver->aaaa(state.ptr);
      answer = std::move(found);
    } else {
      auto found = co_await context.resolver->a(state.ptr);
      answer = std::move(found);
    }
    if (answer.ok()) {
      result.confirmed = std::any_of(answer.records.begin(), answer.records.end(),
                                     [&](const std::string& address) { return canonical_ip(address) == ip; });
    } else if (answer.status != dns::DnsStatus::nxdomain && answer.status != dns::DnsStatus::nodata) {
      result.error = fmt::format("{} lookup of {}: {}", v6 ? "AAAA" : "A", state.ptr, dns::to_string(answer.status));
    }
    state.memo[key] = result;
    co_return result;
  }
};

}  // namespace

std::unique_ptr<Check> make_reverse_dns_check() { return std::make_unique<ReverseDnsCheck>(); }

}  // namespace gatehouse::checks
