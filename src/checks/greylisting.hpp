// Greylisting (docs/filtering.md "Greylisting"): the first attempt of a (client network, envelope
// sender, recipient) triplet is answered 451 4.7.1; a retry after `delay` and within `retry_window`
// passes, and the triplet is then accepted at once for `pass_lifetime` after its last use; a client
// network with `auto_whitelist_after` passed triplets is not greylisted any more. Real mail servers
// retry, most spam software does not.
//
// Unlike the engine's checks it keeps state and must run last at RCPT, after the recipient is known
// to be valid (the back-end's answer included), so the gateway (engine/gateway.cpp on_rcpt) calls it
// directly: evaluate() says what to do, commit() records it once the gateway has decided to act on it.
// The state lives in the store (tables greylist_triplets and greylist_networks: it survives restarts);
// a bounded in-memory cache in front of it serves the RCPT path, and writes go to the store's batching
// writer, so an RCPT never waits for the disk. Times are passed in, so tests drive a clock of their own.
#pragma once
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/config.hpp"
#include "store/store.hpp"

namespace gatehouse::checks {

// The client network a triplet is kept for: the IPv4 /24 or IPv6 /64 containing `ip` ("192.0.2.0/24",
// "2001:db8:1:2::/64"); IPv4-mapped IPv6 counts as IPv4. A text that is no address stays as it is.
std::string greylist_network(std::string_view ip);

struct GreylistKey {
  std::string network, sender, recipient;   // network from greylist_network(), addresses lower-cased
  static GreylistKey of(std::string_view client_ip, std::string_view sender, std::string_view recipient);
  std::string text() const;                 // "network|sender|recipient", the cache key
};

struct GreylistDecision {
  enum class Kind {
    first_seen,            // defer: never seen (or forgotten)
    too_early,             // defer: retried before `delay` had passed
    restarted,             // defer: the earlier attempt is older than `retry_window`: counts as first sight
    retry_passed,          // pass: retried in the window
    known,                 // pass: a triplet that passed before
    network_whitelisted,   // pass: the client network passed `auto_whitelist_after` triplets
  };
  Kind kind = Kind::first_seen;
  bool defer = true;
  Clock::time_point retry_after{};   // defer: when a retry can pass
  std::string detail;                // for the log row's checks list: "first seen, retry after 10:14:00 UTC"
  std::string reason;                // defer: {reason} of the 451 reply
};

std::string_view to_string(GreylistDecision::Kind kind);

class Greylist {
 public:
  // `store` may be null (tests: memory only). `cache_capacity` bounds each of the two caches.
  explicit Greylist(Store* store, std::size_t cache_capacity = 200000);

  // What the triplet's attempt at `now` gets under `settings`; changes nothing but the cache.
  GreylistDecision evaluate(const GreylistKey& key, const GreylistingConfig& settings, Clock::time_point now);
  // Records the attempt as decided (first sight, retry, pass, renewal), in the cache and the store.
  void commit(const GreylistKey& key, const GreylistDecision& decision, const GreylistingConfig& settings,
              Clock::time_point now);
  // evaluate() then commit().
  GreylistDecision check(const GreylistKey& key, const GreylistingConfig& settings, Clock::time_point now);

  // Forgets expired state, in the cache and the store (hourly); returns the store's rows removed.
  std::size_t prune(const GreylistingConfig& settings, Clock::time_point now);
  // Drops the cache (tests: what a restart does).
  void clear_cache();

 private:
  std::optional<GreylistTriplet> triplet(const GreylistKey& key);      // cache, then store; mutex held
  GreylistNetwork network(const std::string& network);                  // ditto; a zero entry when unknown
  template <class Map>
  void make_room(Map& map);

  Store* store_;
  std::size_t capacity_;
  std::mutex mutex_;
  // Cached state; a triplet cached as nullopt is known to be absent from the store.
  std::unordered_map<std::string, std::optional<GreylistTriplet>> triplets_;
  std::unordered_map<std::string, GreylistNetwork> networks_;
};

// Why a recipient is not greylisted at all, or "" when it is subject to greylisting: not enabled
// for its domain, outbound (relaying for a trusted client), a trusted client, a white-listed sender
// (the policy's whitelist, or an accept decision of a check) or a No Host Checks entry. gatehouse
// has no SMTP AUTH, so there is no authenticated mail to exempt.
struct GreylistSubject {
  const FilterPolicy* policy = nullptr;
  bool outbound = false;
  bool trusted_client = false;
  bool whitelisted = false;          // the engine's verdict was an accept decision
  std::string_view client_ip, sender;
};
std::string greylisting_exemption(const GreylistSubject& subject);

// "4m 40s", "2h", "1d 3h": a duration for reply texts and explanations.
std::string describe_wait(std::chrono::seconds duration);

}  // namespace gatehouse::checks
