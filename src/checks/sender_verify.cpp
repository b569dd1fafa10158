// Sender address verification by callout: asks a mail exchanger of the envelope sender's domain
// whether the sender's mailbox exists, the way a bounce would be delivered to it, without sending
// anything. The sender domain's MX is looked up (RFC 5321 §5.1; no MX: the implicit MX, the
// domain's own A/AAAA; a null MX, RFC 7505, means the domain receives no mail at all), the best
// reachable exchanger is asked on [delivery] outbound_port with
//
//   EHLO <our hostname>
//   MAIL FROM:<probe_sender or the null reverse-path>   (RFC 5321 §4.5.5: bounces come from <>)
//   RCPT TO:<random local part @ sender domain>         (detects servers that accept any address)
//   RCPT TO:<the sender>
//   QUIT                                                (§4.1.1.10: ends the transaction unsent)
//
// and its answers become findings of [filter.checks.sender_verify]:
//   verified    the sender's RCPT got a 2xx (and the random address was refused);
//   accept_all  the random address was accepted, so the server's answers prove nothing;
//   failed      a definite refusal of the sender: a 5xx whose enhanced code (RFC 3463 §3.2, §3.3)
//               is about the address (5.1.x, 5.2.1), or a bare 550/551/553; also a sender domain
//               that does not exist (NXDOMAIN), has a null MX or has no mail host at all.
//               The reply is "550 5.1.7 Sender verify failed: <sender>: 550 5.1.1 …" (5.1.8 for a
//               domain that does not exist or has no mail host, 5.7.27 for a null MX, RFC 7505 §4.2).
// Everything else — 4xx (greylisting), a policy refusal (5.7.x), a timeout, no reachable server,
// a failed DNS lookup, MAIL FROM:<> refused — is no evidence (CheckOutcome::error), which the
// engine turns into a 451 only when the check is mandatory.
//
// Not verified: the null sender (nothing to call back, RFC 5321 §4.5.5), senders in a domain this
// gateway serves ([[domain]] in the configuration; the callout would come back to us), mail to
// postmaster@ and abuse@ (RFC 5321 §4.5.1), and senders or clients on the policy's No Host Checks
// list.
//
// Answers are cached in memory, shared by every connection: verified addresses for
// [sender_verify] positive_ttl, failed ones for negative_ttl (a domain that cannot receive mail
// per domain), accept-all servers per domain for positive_ttl; each cache is bounded. Callouts to
// one domain are limited to per_domain_per_minute (cached answers are free); above it the check
// gives no evidence. The whole callout (DNS, connect, conversation) is bounded by
// [sender_verify] timeout. Two simultaneous checks of the same uncached address may both call
// out; the second answer simply refreshes the cache.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>

#include "checks/builtin.hpp"
#include "common/async.hpp"
#include "delivery/backend_client.hpp"
#include "dns/resolver.hpp"
#include "smtp/command.hpp"

namespace gatehouse::checks {
namespace {

using Clock = std::chrono::steady_clock;
using delivery::BackendConnection;

// Bounds of the in-memory state (entries; the oldest entries go first when full).
constexpr std::size_t kAddressCacheSize = 50000;   // each of the positive and negative caches
constexpr std::size_t kDomainCacheSize = 10000;    // accept-all domains
constexpr std::size_t kRateLimitDomains = 10000;   // domains tracked before the idle ones are pruned
constexpr std::size_t kMaxConnectAttempts = 4;     // exchanger addresses tried per callout
constexpr std::size_t kMaxReplyText = 120;         // of a remote reply quoted in our reply

// What a callout, or a cache, established about one sender address.
struct Finding {
  enum class Kind { verified, failed, accept_all, inconclusive };
  Kind kind = Kind::inconclusive;
  std::string detail;               // the explanation, and the {reason} of a reject reply
  std::string enhanced = "5.1.7";   // failed: the enhanced status code of our reply
  bool domain_wide = false;         // failed: the domain itself receives no mail (cached per domain,
                                    // so the detail names the domain, not the sender)
  bool cached = false;

  static Finding inconclusive(std::string why) { return {Kind::inconclusive, std::move(why)}; }
};

std::string_view to_string(Finding::Kind kind) {
  switch (kind) {
    case Finding::Kind::verified: return "verified";
    case Finding::Kind::failed: return "failed";
    case Finding::Kind::accept_all: return "accept_all";
    case Finding::Kind::inconclusive: return "inconclusive";
  }
  return "?";
}

// A remote reply in one short line: "550 5.1.1 No such user" (first line, capped).
std::string brief(const smtp::Reply& reply) {
  std::string text = reply.text.substr(0, reply.text.find('\n'));
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.size() > kMaxReplyText) text = text.substr(0, kMaxReplyText) + "…";
  return reply.enhanced.empty() ? fmt::format("{} {}", reply.code, text) : fmt::format("{} {} {}", reply.code, reply.enhanced, text);
}

// A refusal that says the address does not exist (or cannot receive mail), not "not now" and not
// "not from you": RFC 3463 addressing status 5.1.x (except 5.1.7/5.1.8, which concern the
// callout's own reverse-path) and 5.2.1 (mailbox disabled); without an enhanced code, 550
// (mailbox unavailable), 551 (user not local) and 553 (mailbox name not allowed), RFC 5321 §4.2.3.
bool definite_refusal(const smtp::Reply& reply) {
  if (!reply.permanent()) return false;
  if (!reply.enhanced.empty()) {
    if (reply.enhanced == "5.1.7" || reply.enhanced == "5.1.8") return false;
    return reply.enhanced.rfind("5.1.", 0) == 0 || reply.enhanced == "5.2.1";
  }
  return reply.code == 550 || reply.code == 551 || reply.code == 553;
}

// A local part nobody has: the probe for servers that accept every recipient.
std::string random_local_part() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, sizeof kAlphabet - 2);
  std::string local = "gh-verify-";
  for (int i = 0; i < 16; ++i) local += kAlphabet[pick(generator)];
  return local;
}

// A map whose entries expire, holding at most `capacity` of them: when full, the entry written
// longest ago goes first. Not thread-safe (the check's mutex guards it).
template <class Value>
class ExpiringCache {
 public:
  explicit ExpiringCache(std::size_t capacity) : capacity_(capacity) {}

  std::optional<Value> find(const std::string& key, Clock::time_point now) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    if (it->second.expires <= now) {
      entries_.erase(it);
      return std::nullopt;
    }
    return it->second.value;
  }

  void put(const std::string& key, Value value, Clock::time_point expires) {
    auto& entry = entries_[key];
    entry.value = std::move(value);
    entry.expires = expires;
    entry.serial = ++serial_;
    order_.push_back({key, entry.serial});
    while (entries_.size() > capacity_ && !order_.empty()) {
      auto [oldest, serial] = std::move(order_.front());
      order_.pop_front();
      auto found = entries_.find(oldest);
      if (found != entries_.end() && found->second.serial == serial) entries_.erase(found);
    }
    // Rewritten keys leave stale records in the write order: drop them now and then.
    if (order_.size() > 2 * capacity_ + 16) {
      std::deque<std::pair<std::string, std::uint64_t>> live;
      for (auto& record : order_) {
        auto found = entries_.find(record.first);
        if (found != entries_.end() && found->second.serial == record.second) live.push_back(std::move(record));
      }
      order_ = std::move(live);
    }
  }

 private:
  struct Entry {
    Value value;
    Clock::time_point expires;
    std::uint64_t serial = 0;
  };
  std::size_t capacity_;
  std::uint64_t serial_ = 0;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<std::string, std::uint64_t>> order_;   // (key, serial) in write order
};

// At most `limit` callouts per domain in any 60 seconds (a sliding window).
class RateLimiter {
 public:
  bool allow(const std::string& domain, std::size_t limit, Clock::time_point now) {
    const auto window = std::chrono::minutes(1);
    auto& times = recent_[domain];
    while (!times.empty() && now - times.front() >= window) times.pop_front();
    if (times.size() >= limit) return false;
    times.push_back(now);
    if (recent_.size() > kRateLimitDomains) {
      for (auto it = recent_.begin(); it != recent_.end();) {
        if (it->second.empty() || now - it->second.back() >= window) it = recent_.erase(it);
        else ++it;
      }
    }
    return true;
  }

 private:
  std::unordered_map<std::string, std::deque<Clock::time_point>> recent_;
};

// What the callout needs from the configuration, copied: the configuration may be reloaded
// while a callout is under way.
struct CalloutSettings {
  std::string helo_name;
  std::uint16_t port = 25;
  std::string probe_sender;
  BackendConnection::Timeouts timeouts;
};

boost::asio::awaitable<void> say_goodbye(std::unique_ptr<BackendConnection> connection) {
  co_await connection->quit();
}

// The conversation with one exchanger, after its greeting and EHLO.
boost::asio::awaitable<Finding> converse(BackendConnection* connection, CalloutSettings settings, std::string sender,
                                         std::string domain, bool utf8) {
  if (utf8 && !connection->capabilities().smtputf8)
    co_return Finding::inconclusive(fmt::format("{} does not offer SMTPUTF8 for {}", connection->address().text, sender));
  const std::string probe = random_local_part() + "@" + domain;
  auto first = co_await connection->mail_and_rcpt(settings.probe_sender, false, utf8, 0, probe);
  const Result<smtp::Reply>& mail = first.first;
  const Result<smtp::Reply>& probed = first.second;
  if (!mail) co_return Finding::inconclusive(mail.error().message);
  if (!mail->positive())
    co_return Finding::inconclusive(fmt::format("MAIL FROM:<{}> refused: {}", settings.probe_sender, brief(*mail)));
  if (!probed) co_return Finding::inconclusive(probed.error().message);
  if (probed->positive())
    co_return Finding{Finding::Kind::accept_all,
                      fmt::format("{} accepts any recipient (probe {}: {})", domain, probe, brief(*probed))};
  if (!probed->permanent())
    co_return Finding::inconclusive(fmt::format("probe {}: {}", probe, brief(*probed)));
  auto answer = co_await connection->rcpt(sender);
  if (!answer) co_return Finding::inconclusive(answer.error().message);
  if (answer->positive()) co_return Finding{Finding::Kind::verified, fmt::format("{}: {}", sender, brief(*answer))};
  if (definite_refusal(*answer)) co_return Finding{Finding::Kind::failed, fmt::format("{}: {}", sender, brief(*answer))};
  co_return Finding::inconclusive(fmt::format("{}: {}", sender, brief(*answer)));
}

// The mail exchangers of `domain`, best first, and what the DNS said when there is none to ask.
struct Exchangers {
  std::vector<std::string> hosts;
  bool implicit = false;            // no MX: the domain itself (RFC 5321 §5.1)
  std::optional<Finding> settled;   // no host to ask: a definite failure or no evidence
};

boost::asio::awaitable<Exchangers> exchangers(dns::Resolver* resolver, std::string domain) {
  Exchangers result;
  if (auto ip = smtp::address_literal_ip(domain)) {
    result.hosts.push_back(*ip);
    co_return result;
  }
  if (!resolver) {
    result.settled = Finding::inconclusive("no DNS resolver");
    co_return result;
  }
  auto answer = co_await resolver->mx(domain);
  if (answer.status == dns::DnsStatus::ok && !answer.records.empty()) {
    for (const auto& mx : answer.records)
      if (!mx.host.empty() && mx.host != ".") result.hosts.push_back(mx.host);
    if (result.hosts.empty())   // RFC 7505: "MX 0 ." — the domain receives no mail
      result.settled = Finding{Finding::Kind::failed,
                               fmt::format("sender domain {} accepts no mail (null MX)", domain), "5.7.27", true};
  } else if (answer.status == dns::DnsStatus::nxdomain) {
    result.settled = Finding{Finding::Kind::failed, fmt::format("sender domain {} does not exist", domain),
                             "5.1.8", true};
  } else if (answer.status == dns::DnsStatus::nodata || answer.status == dns::DnsStatus::ok) {
    result.implicit = true;
    result.hosts.push_back(domain);
  } else {
    result.settled = Finding::inconclusive(fmt::format(
        "MX lookup for {}: {}", domain, answer.error.empty() ? std::string(dns::to_string(answer.status)) : answer.error));
  }
  co_return result;
}

// The whole callout: exchangers, their addresses, the first one that answers.
boost::asio::awaitable<Finding> callout(boost::asio::any_io_executor executor, CalloutSettings settings,
                                        dns::Resolver* resolver, std::string sender, std::string domain, bool utf8) {
  Exchangers found = co_await exchangers(resolver, domain);
  if (found.settled) co_return *found.settled;
  std::string last_error;
  std::size_t attempts = 0;
  for (const auto& host : found.hosts) {
    std::vector<std::string> addresses;
    boost::system::error_code not_literal;
    boost::asio::ip::make_address(host, not_literal);
    if (!not_literal) {
      addresses.push_back(host);
    } else {
      auto v4 = co_await resolver->a(host);
      auto v6 = co_await resolver->aaaa(host);
      addresses.insert(addresses.end(), v4.records.begin(), v4.records.end());
      addresses.insert(addresses.end(), v6.records.begin(), v6.records.end());
      if (addresses.empty()) {
        auto absent = [](const dns::DnsAnswer<std::string>& answer) {
          return answer.status == dns::DnsStatus::nxdomain || answer.status == dns::DnsStatus::nodata;
        };
        if (found.implicit && absent(v4) && absent(v6))
          co_return Finding{Finding::Kind::failed,
                            fmt::format("sender domain {} has no mail server (no MX, no address)", domain),
                            "5.1.8", true};
        last_error = fmt::format("no address for mail exchanger {}: {}", host,
                                 dns::to_string(v4.ok() || absent(v4) ? v6.status : v4.status));
        continue;
      }
    }
    for (const auto& ip : addresses) {
      if (attempts++ >= kMaxConnectAttempts) break;
      BackendAddress address;
      address.kind = BackendAddress::Kind::smtp;
      address.host = ip;
      address.port = settings.port;
      address.text = fmt::format("{}[{}]:{}", host, ip, settings.port);
      auto opened = co_await BackendConnection::open(executor, address, settings.helo_name, settings.timeouts);
      if (!opened) {
        last_error = opened.error().message;
        continue;   // next address, then next exchanger
      }
      std::unique_ptr<BackendConnection> connection = std::move(*opened);
      Finding finding = co_await converse(connection.get(), settings, sender, domain, utf8);
      // QUIT without making the client wait for the 221.
      boost::asio::co_spawn(executor, say_goodbye(std::move(connection)), boost::asio::detached);
      co_return finding;
    }
    if (attempts >= kMaxConnectAttempts) break;
  }
  co_return Finding::inconclusive(last_error.empty() ? "no mail exchanger reachable for " + domain : last_error);
}

class SenderVerifyCheck final : public Check {
 public:
  std::string_view name() const override { return "sender_verify"; }
  bool host_check() const override { return true; }
  Stage stage() const override { return Stage::mail; }
  int cost() const override { return 50; }
  std::string_view reply_kind() const override { return "sender_verify"; }
  int reject_code() const override { return 550; }
  std::string_view reject_enhanced() const override { return "5.1.7"; }   // RFC 3463: bad sender's mailbox

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.config || !context.policy) co_return outcome;
    const std::string sender = context.mail_from;
    if (sender.empty()) {
      outcome.note = "null sender: not verified";
      co_return outcome;
    }
    if (is_role_recipient(context.recipient)) {
      outcome.note = "exempt: " + context.recipient;
      co_return outcome;
    }
    const auto at = sender.rfind('@');
    if (at == std::string::npos || at + 1 == sender.size()) {
      outcome.note = "sender without a domain: not verified";
      co_return outcome;
    }
    const std::string domain = smtp::to_lower_ascii(std::string_view(sender).substr(at + 1));
    for (const auto& served : context.config->domains) {
      if (served.name == domain) {
        outcome.note = "own domain " + domain + ": not verified";
        co_return outcome;
      }
    }
    const std::string key = sender.substr(0, at + 1) + domain;

    // Once per connection and sender, whatever the number of recipients and transactions.
    const std::string memo_key = "sender_verify:" + key;
    Finding finding;
    bool remembered = false;
    if (context.connection) {
      if (auto it = context.connection->memo.find(memo_key); it != context.connection->memo.end()) {
        finding = std::any_cast<Finding>(it->second);
        remembered = true;
      }
    }
    if (!remembered) {
      Finding fresh = co_await verify(context, key, domain);
      finding = std::move(fresh);
      if (context.connection) context.connection->memo[memo_key] = finding;
    }

    const auto& settings = context.policy->check("sender_verify");
    const std::string cached = finding.cached ? " (cached)" : "";
    switch (finding.kind) {
      case Finding::Kind::verified:
        outcome.add(settings, "verified", finding.detail + cached);
        break;
      case Finding::Kind::accept_all:
        outcome.add(settings, "accept_all", finding.detail + cached);
        break;
      case Finding::Kind::failed:
        outcome.add(settings, "failed", finding.detail);
        if (outcome.contributions.back().action.kind == Action::Kind::reject) {
          outcome.contributions.back().code = 550;
          outcome.contributions.back().enhanced = finding.enhanced;
        }
        break;
      case Finding::Kind::inconclusive:
        outcome.error = finding.detail;
        break;
    }
    co_return outcome;
  }

 private:
  // The cached answer, or a callout within the rate limit and the timeout (whose answer is cached).
  boost::asio::awaitable<Finding> verify(CheckContext& context, std::string key, std::string domain) const {
    const Config& config = *context.config;
    const SenderVerifyConfig verify_config = config.sender_verify;
    const std::string sender = context.mail_from;
    std::optional<Finding> known;
    {
      std::lock_guard lock(mutex_);
      const auto now = Clock::now();
      if (auto hit = positive_.find(key, now)) known = std::move(hit);
      else if (auto miss = negative_.find(key, now)) known = std::move(miss);
      else if (auto gone = negative_.find("@" + domain, now)) known = std::move(gone);
      else if (auto all = accept_all_.find(domain, now)) known = std::move(all);
      if (!known && !limiter_.allow(domain, verify_config.per_domain_per_minute, now))
        known = Finding::inconclusive(
            fmt::format("rate limited: {} callouts to {} in the last minute", verify_config.per_domain_per_minute, domain));
      else if (known)
        known->cached = true;
    }
    if (known) co_return *known;

    CalloutSettings settings;
    settings.helo_name = config.hostname;
    settings.port = config.outbound_port;
    settings.probe_sender = verify_config.probe_sender;
    settings.timeouts.connect = std::min(config.connect_timeout, verify_config.timeout);
    settings.timeouts.command = std::min(config.backend_timeout, verify_config.timeout);
    settings.timeouts.data = settings.timeouts.command;
    const bool utf8 = std::any_of(sender.begin(), sender.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    auto executor = co_await boost::asio::this_coro::executor;
    auto answered = co_await with_timeout(callout(executor, settings, context.resolver, sender, domain, utf8),
                                          verify_config.timeout);
    Finding finding;
    if (answered) finding = std::move(*answered);
    else finding = Finding::inconclusive(fmt::format("callout for {} timed out after {}s", sender, verify_config.timeout.count()));

    {
      std::lock_guard lock(mutex_);
      const auto now = Clock::now();
      switch (finding.kind) {
        case Finding::Kind::verified: positive_.put(key, finding, now + verify_config.positive_ttl); break;
        case Finding::Kind::failed:
          negative_.put(finding.domain_wide ? "@" + domain : key, finding, now + verify_config.negative_ttl);
          break;
        case Finding::Kind::accept_all: accept_all_.put(domain, finding, now + verify_config.positive_ttl); break;
        case Finding::Kind::inconclusive: break;
      }
    }
    spdlog::info("id={} sender_verify {}: {}: {}", context.id, sender, to_string(finding.kind), finding.detail);
    co_return finding;
  }

  mutable std::mutex mutex_;
  mutable ExpiringCache<Finding> positive_{kAddressCacheSize};
  mutable ExpiringCache<Finding> negative_{kAddressCacheSize};
  mutable ExpiringCache<Finding> accept_all_{kDomainCacheSize};
  mutable RateLimiter limiter_;
};

}  // namespace

std::unique_ptr<Check> make_sender_verify_check() { return std::make_unique<SenderVerifyCheck>(); }

}  // namespace gatehouse::checks
