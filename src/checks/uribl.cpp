// The `uribl` check: block lists of the sites a message links to. Each configured zone
// ([[uribl.zone]]) is asked, as DBL/SURBL/URIBL lists expect, for the registrable domain of each
// linked host (`domain.zone`, kind "domain") or for the reversed IPv4 address of numeric hosts
// (kind "ip", RFC 5782 §2.1); answers map to a meaning and an action as for [[dnsbl]]. Answers
// outside 127.0.0.0/8 (RFC 5782 §2.3), 127.0.0.1 (§5: never a listing) and 127.255.255.0/24 (the
// lists' "query refused" codes) are not listings. All lookups run at once, at most
// [uribl] max_domains names per zone, never for the organisation's own domains. The local list
// ([uribl] local_block, local_block_file) of malware and phishing sites matches a host or any of
// its parent domains, or an address, and rejects by default. See docs/content.md "URI block lists".
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "checks/builtin.hpp"
#include "common/organizational_domain.hpp"
#include "content/analysis.hpp"
#include "dns/resolver.hpp"

namespace gatehouse::checks {
namespace {

std::optional<std::uint32_t> ipv4_value(const std::string& text) {
  in_addr address{};
  if (inet_pton(AF_INET, text.c_str(), &address) != 1) return std::nullopt;
  return ntohl(address.s_addr);
}

bool is_listing(std::uint32_t answer) {
  if ((answer >> 24) != 127) return false;
  if (answer == 0x7F000001) return false;
  return (answer & 0xFFFFFF00) != 0x7FFFFF00;
}

bool stronger(const Action& candidate, const Action& current) {
  if (candidate.decides() != current.decides()) return candidate.decides();
  if (candidate.decides()) return candidate.kind == Action::Kind::reject && current.kind != Action::Kind::reject;
  return candidate.score > current.score;
}

// The local list entry matching a host (itself or a parent domain) or address, "" when none.
std::string local_match(const std::vector<std::string>& entries, const content::Url& url) {
  std::string_view host = url.host;
  if (url.is_ip) {
    std::string address(host);
    if (address.size() > 2 && address.front() == '[') address = address.substr(1, address.size() - 2);
    address = canonical_ip(address);   // IPv4-mapped IPv6 as IPv4, as the list keeps it
    return std::binary_search(entries.begin(), entries.end(), address) ? address : std::string{};
  }
  for (std::size_t labels = 0; labels < 128 && !host.empty(); ++labels) {
    if (std::binary_search(entries.begin(), entries.end(), host)) return std::string(host);
    const auto dot = host.find('.');
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  return {};
}

// "192.0.2.7" → "7.2.0.192"; "" for anything else.
std::string reversed_ipv4(const std::string& host) {
  auto value = ipv4_value(host);
  if (!value) return {};
  return fmt::format("{}.{}.{}.{}", *value & 255, (*value >> 8) & 255, (*value >> 16) & 255, *value >> 24);
}

struct Query {
  std::size_t zone;
  std::string subject;   // the domain or address looked up
  std::string name;
};

class UriblCheck final : public Check {
 public:
  std::string_view name() const override { return "uribl"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 10; }
  std::string_view reply_kind() const override { return "uribl"; }
  int reject_code() const override { return 554; }

  std::pair<double, double> score_range(const Config& config, const FilterPolicy& policy) const override {
    auto [low, high] = config.uribl.local_block.empty() ? std::pair{0.0, 0.0} : action_score_range(policy.check("uribl"));
    for (const auto& zone : config.uribl.zones) {
      double zone_low = 0, zone_high = 0;
      auto consider = [&](const Action& action) {
        if (action.kind != Action::Kind::score) return;
        zone_low = std::min(zone_low, action.score);
        zone_high = std::max(zone_high, action.score);
      };
      consider(zone.list.other);
      for (const auto& result : zone.list.results) consider(result.action);
      low += zone_low;
      high += zone_high;
    }
    return {low, high};
  }

  bool may_decide(const Config& config, const FilterPolicy& policy) const override {
    if (policy.check("uribl").mandatory && !config.uribl.zones.empty()) return true;
    if (!config.uribl.local_block.empty() && actions_decide(policy.check("uribl"))) return true;
    for (const auto& zone : config.uribl.zones) {
      if (zone.list.other.decides()) return true;
      for (const auto& result : zone.list.results)
        if (result.action.decides()) return true;
    }
    return false;
  }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.content || context.content->urls.empty()) co_return outcome;
    const UriblConfig& settings = context.config->uribl;
    const auto& urls = context.content->urls;

    if (!settings.local_block.empty()) {
      std::set<std::string> matched;
      for (const auto& url : urls) {
        std::string entry = local_match(settings.local_block, url);
        if (!entry.empty()) matched.insert(entry);
      }
      if (!matched.empty())
        outcome.add(context.policy->check("uribl"), "local_block",
                    fmt::format("{} (local list)", fmt::join(matched, ", ")));
    }

    std::vector<Query> queries = plan(context);
    if (queries.empty() || !context.resolver) {
      if (outcome.contributions.empty()) outcome.note = fmt::format("{} links, none listed", urls.size());
      co_return outcome;
    }
    auto answers = co_await lookup(context, queries);

    std::vector<std::string> errors;
    std::vector<bool> any(settings.zones.size(), false);
    std::vector<Action> best(settings.zones.size());
    std::vector<std::string> best_meaning(settings.zones.size()), best_subject(settings.zones.size());
    for (std::size_t q = 0; q < queries.size(); ++q) {
      const auto& answer = answers[q];
      const auto& zone = settings.zones[queries[q].zone].list;
      if (answer.status == dns::DnsStatus::nxdomain || answer.status == dns::DnsStatus::nodata) continue;
      if (!answer.ok()) {
        errors.push_back(fmt::format("{}: {}", queries[q].name, answer.error.empty() ? std::string(dns::to_string(answer.status)) : answer.error));
        continue;
      }
      for (const auto& record : answer.records) {
        auto value = ipv4_value(record);
        if (!value || !is_listing(*value)) continue;
        const DnsListResult* result = zone.result_for(*value);
        Action action = result ? result->action : zone.other;
        const std::size_t z = queries[q].zone;
        if (!any[z] || stronger(action, best[z])) {
          any[z] = true;
          best[z] = action;
          best_meaning[z] = result ? result->meaning : record;
          best_subject[z] = queries[q].subject;
        }
      }
    }
    for (std::size_t z = 0; z < settings.zones.size(); ++z) {
      // The detail is the reply's {reason}: "evil-shop.test in dbl.test".
      if (any[z])
        outcome.contributions.push_back({best_meaning[z], best[z], fmt::format("{} in {}", best_subject[z], settings.zones[z].list.zone)});
    }
    if (!errors.empty()) {
      if (errors.size() > 3) errors.resize(3);
      outcome.error = fmt::format("{}", fmt::join(errors, "; "));
    }
    if (outcome.contributions.empty() && errors.empty()) {
      std::vector<std::string> zones;
      for (const auto& zone : settings.zones) zones.push_back(zone.list.zone);
      outcome.note = fmt::format("not listed: {}", fmt::join(zones, ", "));
    }
    co_return outcome;
  }

 private:
  // The names to look up: per zone, distinct domains (or addresses) in link order, own domains skipped.
  static std::vector<Query> plan(const CheckContext& context) {
    const UriblConfig& settings = context.config->uribl;
    std::set<std::string> own;
    for (const auto& domain : context.config->domains) own.insert(organizational_domain(domain.name));
    std::vector<Query> queries;
    for (std::size_t z = 0; z < settings.zones.size(); ++z) {
      const auto& zone = settings.zones[z];
      std::set<std::string> seen;
      for (const auto& url : context.content->urls) {
        if (seen.size() >= settings.max_domains) break;
        std::string subject, prefix;
        if (zone.by_ip) {
          if (!url.is_ip) continue;
          prefix = reversed_ipv4(url.host);
          subject = url.host;
        } else {
          if (url.is_ip || url.registrable_domain.empty() || own.count(url.registrable_domain)) continue;
          prefix = subject = url.registrable_domain;
        }
        if (prefix.empty() || !seen.insert(subject).second) continue;
        queries.push_back({z, subject, prefix + "." + zone.list.zone});
      }
    }
    return queries;
  }

  static boost::asio::awaitable<std::vector<dns::DnsAnswer<std::string>>> lookup(CheckContext& context,
                                                                                 std::vector<Query> queries) {
    auto executor = co_await boost::asio::this_coro::executor;
    std::vector<dns::DnsAnswer<std::string>> answers(queries.size());
    using Operation = decltype(boost::asio::co_spawn(executor, context.resolver->a(""), boost::asio::deferred));
    std::vector<Operation> operations;
    operations.reserve(queries.size());
    for (const auto& query : queries)
      operations.push_back(boost::asio::co_spawn(executor, context.resolver->a(query.name), boost::asio::deferred));
    auto group = boost::asio::experimental::make_parallel_group(std::move(operations));
    auto [order, exceptions, results] =
        co_await group.async_wait(boost::asio::experimental::wait_for_all(), boost::asio::use_awaitable);
    for (std::size_t k = 0; k < results.size() && k < answers.size(); ++k) {
      if (exceptions[k]) {
        answers[k].status = dns::DnsStatus::error;
        answers[k].error = "lookup failed";
      } else {
        answers[k] = std::move(results[k]);
      }
    }
    co_return answers;
  }
};

}  // namespace

std::unique_ptr<Check> make_uribl_check() { return std::make_unique<UriblCheck>(); }

}  // namespace gatehouse::checks
