// Greylisting: the triplet's state machine and its cache in front of the store. See greylisting.hpp.
#include "checks/greylisting.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "common/text.hpp"

namespace gatehouse::checks {

namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

// How often a pass renews the stored last use: every use renews the cache, the store only when its
// copy is older than this (a busy triplet would otherwise write at every message).
seconds renewal_interval(const GreylistingConfig& settings) {
  return std::clamp(duration_cast<seconds>(settings.pass_lifetime / 100), seconds(1), seconds(3600));
}

std::string utc_time(Clock::time_point when, Clock::time_point now) {
  std::time_t t = Clock::to_time_t(when), n = Clock::to_time_t(now);
  std::tm tm{}, today{};
  gmtime_r(&t, &tm);
  gmtime_r(&n, &today);
  char buffer[64];
  const bool same_day = tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday;
  std::strftime(buffer, sizeof buffer, same_day ? "%H:%M:%S UTC" : "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buffer;
}

// Seconds from now until `when`, rounded up, at least 1.
seconds until(Clock::time_point when, Clock::time_point now) {
  auto left = std::chrono::ceil<seconds>(when - now);
  return std::max(left, seconds(1));
}

}  // namespace

std::string describe_wait(seconds duration) {
  long long total = std::max<long long>(duration.count(), 0);
  const long long days = total / 86400, hours = total / 3600 % 24, minutes = total / 60 % 60, secs = total % 60;
  std::string text;
  auto add = [&](long long value, const char* unit) {
    if (value == 0) return;
    if (!text.empty()) text += ' ';
    text += fmt::format("{}{}", value, unit);
  };
  add(days, "d");
  add(hours, "h");
  if (days == 0) add(minutes, "m");
  if (days == 0 && hours == 0) add(secs, "s");
  return text.empty() ? "0s" : text;
}

std::string greylisting_exemption(const GreylistSubject& subject) {
  if (!subject.policy || !subject.policy->greylisting) return "not enabled";
  if (subject.outbound) return "outbound";
  if (subject.trusted_client) return "trusted network";
  if (auto entry = subject.policy->whitelist.match(subject.client_ip, subject.sender); !entry.empty())
    return "whitelist: " + entry;
  if (subject.whitelisted) return "whitelisted";
  if (auto entry = subject.policy->no_host_checks.match(subject.client_ip, subject.sender); !entry.empty())
    return "No Host Checks: " + entry;
  return {};
}

std::string greylist_network(std::string_view ip) {
  std::string text(ip);
  unsigned char bytes[16] = {};
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    return fmt::format("{}.{}.{}.0/24", bytes[0], bytes[1], bytes[2]);
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    static const unsigned char mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, mapped_prefix, sizeof mapped_prefix) == 0)
      return fmt::format("{}.{}.{}.0/24", bytes[12], bytes[13], bytes[14]);
    std::memset(bytes + 8, 0, 8);
    char buffer[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, bytes, buffer, sizeof buffer);
    return std::string(buffer) + "/64";
  }
  return text;
}

GreylistKey GreylistKey::of(std::string_view client_ip, std::string_view sender, std::string_view recipient) {
  return GreylistKey{greylist_network(client_ip), to_lower_ascii(sender), to_lower_ascii(recipient)};
}

std::string GreylistKey::text() const { return network + "|" + sender + "|" + recipient; }

std::string_view to_string(GreylistDecision::Kind kind) {
  switch (kind) {
    case GreylistDecision::Kind::first_seen: return "first_seen";
    case GreylistDecision::Kind::too_early: return "too_early";
    case GreylistDecision::Kind::restarted: return "restarted";
    case GreylistDecision::Kind::retry_passed: return "retry_passed";
    case GreylistDecision::Kind::known: return "known";
    case GreylistDecision::Kind::network_whitelisted: return "network_whitelisted";
  }
  return "?";
}

Greylist::Greylist(Store* store, std::size_t cache_capacity)
    : store_(store), capacity_(std::max<std::size_t>(cache_capacity, 16)) {}

template <class Map>
void Greylist::make_room(Map& map) {
  if (map.size() < capacity_) return;
  // Everything cached is also in the store (or on its way there): dropping entries costs a read later.
  // Drop a tenth, whichever they are; hourly pruning keeps the expired ones out.
  std::size_t drop = capacity_ / 10 + 1;
  for (auto it = map.begin(); it != map.end() && drop > 0; --drop) it = map.erase(it);
}

std::optional<GreylistTriplet> Greylist::triplet(const GreylistKey& key) {
  const std::string text = key.text();
  if (auto it = triplets_.find(text); it != triplets_.end()) return it->second;
  std::optional<GreylistTriplet> found;
  if (store_) found = store_->find_greylist_triplet(key.network, key.sender, key.recipient);
  make_room(triplets_);
  triplets_.emplace(text, found);
  return found;
}

GreylistNetwork Greylist::network(const std::string& network) {
  if (auto it = networks_.find(network); it != networks_.end()) return it->second;
  std::optional<GreylistNetwork> found;
  if (store_) found = store_->find_greylist_network(network);
  GreylistNetwork entry = found.value_or(GreylistNetwork{network, 0, {}});
  make_room(networks_);
  networks_.emplace(network, entry);
  return entry;
}

GreylistDecision Greylist::evaluate(const GreylistKey& key, const GreylistingConfig& settings, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  GreylistDecision decision;
  auto defer = [&](GreylistDecision::Kind kind, Clock::time_point retry_after, std::string why) {
    decision.kind = kind;
    decision.defer = true;
    decision.retry_after = retry_after;
    decision.detail = fmt::format("{}, retry after {}", why, utc_time(retry_after, now));
    decision.reason = fmt::format("please try again in {}", describe_wait(until(retry_after, now)));
    return decision;
  };
  auto pass = [&](GreylistDecision::Kind kind, std::string detail) {
    decision.kind = kind;
    decision.defer = false;
    decision.detail = std::move(detail);
    return decision;
  };

  const GreylistNetwork net = network(key.network);
  if (settings.auto_whitelist_after > 0 && net.passed_triplets >= static_cast<std::int64_t>(settings.auto_whitelist_after) &&
      now - net.last_seen <= settings.pass_lifetime)
    return pass(GreylistDecision::Kind::network_whitelisted,
                fmt::format("passed: network {} auto-whitelisted ({} triplets passed)", key.network, net.passed_triplets));

  const auto entry = triplet(key);
  if (!entry) return defer(GreylistDecision::Kind::first_seen, now + settings.delay, "first seen");
  if (entry->passed) {
    if (now - entry->last_seen <= settings.pass_lifetime)
      return pass(GreylistDecision::Kind::known,
                  fmt::format("passed: known triplet, last used {} ago", describe_wait(duration_cast<seconds>(now - entry->last_seen))));
    return defer(GreylistDecision::Kind::restarted, now + settings.delay,
                 fmt::format("first seen again (unused for {})", describe_wait(duration_cast<seconds>(now - entry->last_seen))));
  }
  const auto waited = now - entry->first_seen;
  if (waited < settings.delay)
    return defer(GreylistDecision::Kind::too_early, entry->first_seen + settings.delay,
                 fmt::format("retried too early ({} after first sight)", describe_wait(duration_cast<seconds>(waited))));
  if (waited > settings.retry_window)
    return defer(GreylistDecision::Kind::restarted, now + settings.delay,
                 fmt::format("first seen again (first attempt {} ago, outside the retry window)",
                             describe_wait(duration_cast<seconds>(waited))));
  return pass(GreylistDecision::Kind::retry_passed,
              fmt::format("passed: retried {} after first sight", describe_wait(duration_cast<seconds>(waited))));
}

void Greylist::commit(const GreylistKey& key, const GreylistDecision& decision, const GreylistingConfig& settings,
                      Clock::time_point now) {
  std::lock_guard lock(mutex_);
  const std::string text = key.text();
  auto current = triplet(key);
  std::optional<GreylistTriplet> save;   // what goes to the store
  std::optional<GreylistNetwork> save_network;
  using Kind = GreylistDecision::Kind;
  switch (decision.kind) {
    case Kind::first_seen:
    case Kind::restarted:
      // Another thread may have recorded the first sight meanwhile: keep the earlier one.
      if (decision.kind == Kind::first_seen && current && !current->passed) break;
      save = GreylistTriplet{key.network, key.sender, key.recipient, now, now, false};
      break;
    case Kind::too_early:
      if (current) {
        save = *current;
        save->last_seen = now;
      }
      break;
    case Kind::retry_passed: {
      if (current && current->passed) break;   // passed meanwhile (another connection)
      save = GreylistTriplet{key.network, key.sender, key.recipient, current ? current->first_seen : now, now, true};
      GreylistNetwork net = network(key.network);
      if (now - net.last_seen > settings.pass_lifetime) net.passed_triplets = 0;   // expired: counts afresh
      ++net.passed_triplets;
      net.last_seen = now;
      save_network = net;
      break;
    }
    case Kind::known:
      if (current && now - current->last_seen >= renewal_interval(settings)) {
        save = *current;
        save->last_seen = now;
      }
      break;
    case Kind::network_whitelisted: {
      GreylistNetwork net = network(key.network);
      if (now - net.last_seen >= renewal_interval(settings)) {
        net.last_seen = now;
        save_network = net;
      }
      break;
    }
  }
  if (save) {
    triplets_[text] = *save;
    if (store_) store_->save_greylist_triplet(*save);
  }
  if (save_network) {
    networks_[key.network] = *save_network;
    if (store_) store_->save_greylist_network(*save_network);
  }
}

GreylistDecision Greylist::check(const GreylistKey& key, const GreylistingConfig& settings, Clock::time_point now) {
  GreylistDecision decision = evaluate(key, settings, now);
  commit(key, decision, settings, now);
  return decision;
}

std::size_t Greylist::prune(const GreylistingConfig& settings, Clock::time_point now) {
  const Clock::time_point unpassed_before = now - settings.retry_window;
  const Clock::time_point passed_before = now - settings.pass_lifetime;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(triplets_, [&](const auto& item) {
      const auto& entry = item.second;
      if (!entry) return true;   // "absent" answers are cheap to ask again
      return entry->passed ? entry->last_seen < passed_before : entry->first_seen < unpassed_before;
    });
    std::erase_if(networks_, [&](const auto& item) { return item.second.last_seen < passed_before; });
  }
  return store_ ? store_->prune_greylist(unpassed_before, passed_before) : 0;
}

void Greylist::clear_cache() {
  std::lock_guard lock(mutex_);
  triplets_.clear();
  networks_.clear();
}

}  // namespace gatehouse::checks
