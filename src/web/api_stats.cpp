// The API's dashboard route: GET /api/v1/stats?range=24h|7d|30d — messages per bucket by
// disposition and reason (hourly for 24 h and 7 d, 6-hourly for 30 d, UTC-aligned), the top
// reasons, client IPs and sender domains, the delivery queue's size and each back-end's state.
// The counts come from the store's rollup (Store::statistics, store/sqlite_stats.cpp). A domain
// administrator gets only their domains' figures and back-ends, and no queue size (the queue
// holds every domain's mail).
#include <algorithm>
#include <map>
#include <mutex>

#include "delivery/queue.hpp"
#include "engine/gateway.hpp"
#include "web/api_routes.hpp"

namespace gatehouse::web {
namespace {

struct RangeSpec {
  const char* name;
  std::chrono::seconds step;
  int buckets;
};
constexpr RangeSpec kRanges[] = {
    {"24h", std::chrono::hours(1), 24},
    {"7d", std::chrono::hours(1), 7 * 24},
    {"30d", std::chrono::hours(6), 30 * 4},
};

// When the dashboard first saw each back-end's failure count rise: the metrics count failures but
// keep no time, so "last failure" is as seen by the dashboard's polls (null: none seen since the
// daemon started, or only before the first look).
struct FailureSeen {
  std::uint64_t count = 0;
  std::int64_t seen_ms = 0;
};
std::mutex failures_mutex;
std::map<std::string, FailureSeen> failures_seen;

std::int64_t seen_failure(const std::string& backend, std::uint64_t count, std::int64_t now_ms) {
  std::lock_guard lock(failures_mutex);
  auto [it, added] = failures_seen.try_emplace(backend, FailureSeen{count, 0});
  if (!added && count > it->second.count) it->second.seen_ms = now_ms;
  it->second.count = count;
  return it->second.seen_ms;
}

boost::json::array top_json(const std::vector<StatsTop>& entries, const char* name) {
  boost::json::array out;
  for (const auto& entry : entries)
    out.push_back(boost::json::object{{name, entry.key}, {"total", entry.total}, {"rejected", entry.rejected}});
  return out;
}

boost::json::array backends_json(ApiContext& context, const Principal& principal, std::int64_t now_ms) {
  boost::json::array out;
  if (!context.services.gateway) return out;
  auto table = context.services.gateway->domains();
  if (!table) return out;
  // Each back-end with the domains it serves (only the viewer's).
  std::map<std::string, std::pair<const BackendAddress*, std::vector<std::string>>> backends;
  for (const auto& [name, domain] : table->domains) {
    if (!may_manage_domain(principal, name)) continue;
    auto& entry = backends[domain.backend.text];
    entry.first = &domain.backend;
    entry.second.push_back(name);
  }
  std::map<std::string, double> up;
  std::map<std::string, std::uint64_t> failures;
  auto& metrics = metrics::gateway();
  metrics.backend_up.for_each([&](const std::vector<std::string>& labels, const metrics::Gauge& gauge) {
    if (!labels.empty()) up[labels[0]] = gauge.value();
  });
  metrics.backend_failures.for_each([&](const std::vector<std::string>& labels, const metrics::Counter& counter) {
    if (!labels.empty()) failures[labels[0]] = counter.value();
  });
  for (auto& [text, entry] : backends) {
    boost::json::array domains;
    for (const auto& name : entry.second) domains.emplace_back(name);
    std::string state = "unknown";   // not tried since the daemon started
    if (!entry.first->live()) state = "local";   // a maildir or MX delivery: nothing to reach live
    else if (auto found = up.find(text); found != up.end()) state = found->second >= 1 ? "up" : "down";
    const std::uint64_t failed = failures.count(text) ? failures[text] : 0;
    const std::int64_t seen = seen_failure(text, failed, now_ms);
    out.push_back(boost::json::object{{"backend", text},
                                      {"domains", std::move(domains)},
                                      {"state", state},
                                      {"failures", failed},
                                      {"last_failure_seen", seen ? boost::json::value(seen) : boost::json::value(nullptr)}});
  }
  return out;
}

Response stats(ApiContext& context, const Request& request, const Principal& principal) {
  const RangeSpec* range = &kRanges[0];
  std::string domain;
  for (const auto& [key, value] : request.query) {
    if (key == "range") {
      auto found = std::find_if(std::begin(kRanges), std::end(kRanges), [&](const RangeSpec& r) { return value == r.name; });
      if (found == std::end(kRanges)) return Response::error(400, "range: one of 24h, 7d, 30d");
      range = found;
    } else if (key == "domain") {
      domain = to_lower_ascii(value);
    } else {
      return Response::error(400, fmt::format("unknown parameter \"{}\"", key));
    }
  }
  if (!domain.empty() && !may_manage_domain(principal, domain))
    return Response::error(403, fmt::format("{} is not one of your domains", domain));

  const auto now = Clock::now();
  const std::int64_t now_ms = milliseconds_of(now);
  const std::int64_t step_ms = std::chrono::duration_cast<std::chrono::milliseconds>(range->step).count();
  const std::int64_t until_ms = (now_ms / step_ms + 1) * step_ms;   // the end of the bucket now running
  const std::int64_t since_ms = until_ms - range->buckets * step_ms;
  auto at = [](std::int64_t ms) { return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(ms))); };

  StatsQuery query;
  query.since = at(since_ms);
  query.until = at(until_ms);
  query.step = range->step;
  if (!domain.empty()) query.domains = {domain};
  else if (!is_admin(principal)) query.domains = principal.user.domains;
  // A domain administrator without domains sees nothing at all.
  const bool nothing = !is_admin(principal) && query.domains.empty();
  Statistics figures = nothing ? Statistics{} : context.store.statistics(query);
  if (nothing) figures.top_since = query.since;

  // Dense buckets, oldest first: a chart needs the empty hours too.
  std::vector<boost::json::object> counts(static_cast<std::size_t>(range->buckets));
  std::vector<boost::json::array> reasons(static_cast<std::size_t>(range->buckets));
  boost::json::object totals{{"accept", 0}, {"tag", 0}, {"reject", 0}, {"tempfail", 0}};
  std::uint64_t all = 0;
  for (const auto& entry : figures.series) {
    const std::int64_t index = (milliseconds_of(entry.start) - since_ms) / step_ms;
    if (index < 0 || index >= range->buckets) continue;
    auto& bucket = counts[static_cast<std::size_t>(index)];
    const auto previous = bucket.contains(entry.disposition) ? bucket[entry.disposition].to_number<std::uint64_t>() : 0;
    bucket[entry.disposition] = previous + entry.count;
    const auto total = totals.contains(entry.disposition) ? totals[entry.disposition].to_number<std::uint64_t>() : 0;
    totals[entry.disposition] = total + entry.count;
    all += entry.count;
    if (entry.disposition != "accept" && entry.disposition != "tag")
      reasons[static_cast<std::size_t>(index)].push_back(
          boost::json::object{{"disposition", entry.disposition}, {"reason", entry.reason}, {"count", entry.count}});
  }
  boost::json::array buckets;
  for (int i = 0; i < range->buckets; ++i)
    buckets.push_back(boost::json::object{{"start", since_ms + i * step_ms},
                                          {"counts", std::move(counts[static_cast<std::size_t>(i)])},
                                          {"reasons", std::move(reasons[static_cast<std::size_t>(i)])}});
  totals["all"] = all;

  boost::json::array top_reasons;
  for (std::size_t i = 0; i < figures.reasons.size() && i < 10; ++i)
    top_reasons.push_back(boost::json::object{{"disposition", figures.reasons[i].disposition},
                                              {"reason", figures.reasons[i].reason},
                                              {"count", figures.reasons[i].count}});

  boost::json::value queue = nullptr;
  if (is_admin(principal) && domain.empty() && context.services.queue)
    queue = boost::json::object{{"size", context.services.queue->size()}};

  boost::json::array scope;
  for (const auto& name : query.domains) scope.emplace_back(name);
  return Response::json(
      200, boost::json::object{{"range", range->name},
                               {"from", since_ms},
                               {"to", until_ms},
                               {"bucket_seconds", range->step.count()},
                               {"generated", now_ms},
                               {"domains", query.domains.empty() ? boost::json::value(nullptr) : boost::json::value(std::move(scope))},
                               {"totals", std::move(totals)},
                               {"buckets", std::move(buckets)},
                               {"top_reasons", std::move(top_reasons)},
                               {"top_since", milliseconds_of(figures.top_since)},
                               {"top_ips", top_json(figures.top_ips, "ip")},
                               {"top_rejected_ips", top_json(figures.top_rejected_ips, "ip")},
                               {"top_sender_domains", top_json(figures.top_sender_domains, "domain")},
                               {"top_rejected_sender_domains", top_json(figures.top_rejected_sender_domains, "domain")},
                               {"queue", std::move(queue)},
                               {"backends", backends_json(context, principal, now_ms)}});
}

}  // namespace

void add_stats_routes(Routes& routes, ApiContext& context) {
  routes.push_back({"GET", "/api/v1/stats", true, [&context](const Request& request, const Principal* principal, const std::string&) {
                      return stats(context, request, *principal);
                    }});
}

}  // namespace gatehouse::web
