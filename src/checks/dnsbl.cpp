// DNS block and allow lists (RFC 5782): the client's address, reversed (octets for IPv4, §2.1;
// nibbles for IPv6, §2.4), is looked up as an A record under each configured zone; each answer
// address maps to a meaning and an action ([[dnsbl.result]]), e.g. Spamhaus ZEN's 127.0.0.2 SBL,
// .3 CSS, .4-.7 XBL, .10/.11 PBL. Allow lists (dnswl-style) map to negative scores. Answers outside
// 127.0.0.0/8 are not listings (§2.3: they signal errors such as refused queries). All zones are
// asked at once, once per connection. Recipients postmaster@ and abuse@ are exempt.
#include <boost/asio/deferred.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <arpa/inet.h>
#include <fmt/format.h>
#include <memory>

#include "checks/builtin.hpp"
#include "dns/resolver.hpp"

namespace gatehouse::checks {
namespace {

using Answers = std::shared_ptr<std::vector<dns::DnsAnswer<std::string>>>;

// The name to look up, "" when the zone does not list this address family.
std::string query_name(const DnsListConfig& list, const std::string& ip) {
  if (ip.find(':') != std::string::npos && ip.find('.') == std::string::npos && !list.ipv6) return {};
  std::string reverse = dns::reverse_lookup_name(ip);
  auto suffix = reverse.rfind(".in-addr.arpa");
  if (suffix == std::string::npos) suffix = reverse.rfind(".ip6.arpa");
  if (suffix == std::string::npos) return {};
  return reverse.substr(0, suffix) + "." + list.zone;
}

std::optional<std::uint32_t> ipv4_value(const std::string& text) {
  in_addr address{};
  if (inet_pton(AF_INET, text.c_str(), &address) != 1) return std::nullopt;
  return ntohl(address.s_addr);
}

bool stronger(const Action& candidate, const Action& current) {
  if (candidate.decides() != current.decides()) return candidate.decides();
  if (candidate.decides()) return candidate.kind == Action::Kind::reject && current.kind != Action::Kind::reject;
  return std::abs(candidate.score) > std::abs(current.score);
}

class DnsblCheck final : public Check {
 public:
  std::string_view name() const override { return "dnsbl"; }
  bool host_check() const override { return true; }
  Stage stage() const override { return Stage::connect; }
  int cost() const override { return 10; }
  std::string_view reply_kind() const override { return "rbl"; }

  std::pair<double, double> score_range(const Config& config, const FilterPolicy&) const override {
    double low = 0, high = 0;
    for (const auto& list : config.dns_lists) {
      double list_low = 0, list_high = 0;
      auto consider = [&](const Action& action) {
        if (action.kind != Action::Kind::score) return;
        list_low = std::min(list_low, action.score);
        list_high = std::max(list_high, action.score);
      };
      consider(list.other);
      for (const auto& result : list.results) consider(result.action);
      low += list_low;
      high += list_high;
    }
    return {low, high};
  }

  bool may_decide(const Config& config, const FilterPolicy& policy) const override {
    if (policy.check("dnsbl").mandatory) return !config.dns_lists.empty();
    for (const auto& list : config.dns_lists) {
      if (list.other.decides()) return true;
      for (const auto& result : list.results)
        if (result.action.decides()) return true;
    }
    return false;
  }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    const auto& lists = context.config->dns_lists;
    if (lists.empty() || !context.resolver) co_return outcome;
    if (is_role_recipient(context.recipient)) {
      outcome.note = "exempt: " + context.recipient;
      co_return outcome;
    }
    Answers answers = co_await lookup(context);
    std::vector<std::string> errors;
    for (std::size_t i = 0; i < lists.size() && i < answers->size(); ++i) {
      const auto& list = lists[i];
      const auto& answer = (*answers)[i];
      if (answer.status == dns::DnsStatus::nxdomain || answer.status == dns::DnsStatus::nodata) continue;
      if (!answer.ok()) {
        if (answer.status != dns::DnsStatus::error || !answer.error.empty())
          errors.push_back(fmt::format("{}: {}", list.zone, answer.error.empty() ? std::string(dns::to_string(answer.status)) : answer.error));
        continue;
      }
      Action best_action;
      std::string best_meaning;
      bool any = false;
      for (const auto& record : answer.records) {
        auto value = ipv4_value(record);
        if (!value || (*value >> 24) != 127) continue;   // not a listing (RFC 5782 §2.3)
        const DnsListResult* result = list.result_for(*value);
        Action action = result ? result->action : list.other;
        if (!any || stronger(action, best_action)) {
          any = true;
          best_action = action;
          best_meaning = result ? result->meaning : record;
        }
      }
      if (!any) continue;
      // The detail is the reply's {reason}: "RBL Block: zen.spamhaus.org 192.0.2.7".
      outcome.contributions.push_back({best_meaning, best_action, fmt::format("{} {}", list.zone, context.client_ip)});
    }
    if (!errors.empty()) outcome.error = fmt::format("{}", fmt::join(errors, "; "));
    if (outcome.contributions.empty() && errors.empty()) {
      // Recorded so that "looked up, not listed" differs from "not asked" in the explanation.
      std::vector<std::string> zones;
      for (const auto& list : lists) zones.push_back(list.zone);
      outcome.note = fmt::format("not listed: {}", fmt::join(zones, ", "));
    }
    co_return outcome;
  }

 private:
  // Every zone asked at once; the answers kept for the connection.
  static boost::asio::awaitable<Answers> lookup(CheckContext& context) {
    const std::string key = "dnsbl:" + context.client_ip;
    if (context.connection) {
      auto it = context.connection->memo.find(key);
      if (it != context.connection->memo.end()) co_return std::any_cast<Answers>(it->second);
    }
    const auto& lists = context.config->dns_lists;
    auto executor = co_await boost::asio::this_coro::executor;
    auto answers = std::make_shared<std::vector<dns::DnsAnswer<std::string>>>(lists.size());
    using Operation = decltype(boost::asio::co_spawn(executor, context.resolver->a(""), boost::asio::deferred));
    std::vector<Operation> operations;
    std::vector<std::size_t> index_of;
    for (std::size_t i = 0; i < lists.size(); ++i) {
      std::string name = query_name(lists[i], context.client_ip);
      if (name.empty()) {
        (*answers)[i].status = dns::DnsStatus::nodata;
        continue;
      }
      operations.push_back(boost::asio::co_spawn(executor, context.resolver->a(std::move(name)), boost::asio::deferred));
      index_of.push_back(i);
    }
    if (!operations.empty()) {
      auto group = boost::asio::experimental::make_parallel_group(std::move(operations));
      auto [order, exceptions, results] =
          co_await group.async_wait(boost::asio::experimental::wait_for_all(), boost::asio::use_awaitable);
      for (std::size_t k = 0; k < results.size(); ++k) {
        if (exceptions[k]) {
          (*answers)[index_of[k]].status = dns::DnsStatus::error;
          (*answers)[index_of[k]].error = "lookup failed";
        } else {
          (*answers)[index_of[k]] = std::move(results[k]);
        }
      }
    }
    if (context.connection) context.connection->memo[key] = answers;
    co_return answers;
  }
};

}  // namespace

std::unique_ptr<Check> make_dnsbl_check() { return std::make_unique<DnsblCheck>(); }

}  // namespace gatehouse::checks
