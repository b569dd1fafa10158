// The retry queue. See queue.hpp. Delivery follows RFC 5321 §4.5.4 (retry strategy) and §5.1
// (MX lookup, implicit MX) for outbound mail.
#include "delivery/queue.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/async.hpp"
#include "common/id.hpp"
#include "delivery/maildir.hpp"
#include "dns/resolver.hpp"
#include "smtp/command.hpp"

namespace gatehouse::delivery {

namespace {

std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? std::string{} : smtp::to_lower_ascii(address.substr(at + 1));
}

void sort_outcomes(const std::vector<RecipientOutcome>& outcomes, AttemptResult& result) {
  for (auto& o : outcomes) {
    if (o.reply.positive()) result.delivered.push_back(o.recipient);
    else if (o.reply.permanent()) result.failed.push_back(o.recipient);
    else result.deferred.push_back(o.recipient);
    if (!o.reply.positive()) {
      if (!result.detail.empty()) result.detail += "; ";
      result.detail += o.recipient + ": " + o.reply.summary();
    }
  }
  if (result.detail.empty() && !outcomes.empty()) result.detail = outcomes.front().reply.summary();
}

BackendConnection::Timeouts timeouts_of(const Config& config) {
  BackendConnection::Timeouts t;
  t.connect = config.connect_timeout;
  t.command = config.backend_timeout;
  t.data = config.backend_timeout * 5;
  return t;
}

// Outbound: the mail exchangers of `domain`, best first; the domain itself when it has no MX.
asio::awaitable<Result<std::vector<std::string>>> mail_exchangers(dns::Resolver* resolver, const std::string& domain) {
  if (auto ip = smtp::address_literal_ip(domain)) co_return std::vector<std::string>{*ip};
  if (!resolver) co_return Error{"no DNS resolver configured"};
  auto answer = co_await resolver->mx(domain);
  if (answer.status == dns::DnsStatus::ok && !answer.records.empty()) {
    std::vector<std::string> hosts;
    for (auto& mx : answer.records) {
      if (mx.host.empty() || mx.host == ".") co_return Error{"domain " + domain + " accepts no mail (null MX)"};
      hosts.push_back(mx.host);
    }
    co_return hosts;
  }
  if (answer.status == dns::DnsStatus::nxdomain) co_return Error{"permanent: domain " + domain + " does not exist"};
  if (answer.status == dns::DnsStatus::nodata) co_return std::vector<std::string>{domain};  // implicit MX
  co_return Error{fmt::format("MX lookup for {} failed: {}", domain, answer.error)};
}

}  // namespace

asio::awaitable<AttemptResult> attempt_delivery(const Config& config, dns::Resolver* resolver,
                                                const SpoolEnvelope& envelope, const std::string& message) {
  AttemptResult result;
  auto executor = co_await asio::this_coro::executor;
  if (envelope.backend == "mx") {
    // Group by recipient domain; each domain is its own delivery.
    std::map<std::string, std::vector<std::string>> by_domain;
    for (auto& r : envelope.recipients) by_domain[domain_of(r)].push_back(r);
    for (auto& [domain, recipients] : by_domain) {
      auto hosts = co_await mail_exchangers(resolver, domain);
      if (!hosts) {
        bool permanent = hosts.error().message.rfind("permanent", 0) == 0 || hosts.error().message.find("null MX") != std::string::npos;
        for (auto& r : recipients) (permanent ? result.failed : result.deferred).push_back(r);
        result.detail += (result.detail.empty() ? "" : "; ") + hosts.error().message;
        continue;
      }
      bool settled = false;
      std::string last_error;
      for (auto& host : *hosts) {
        BackendAddress address;
        address.kind = BackendAddress::Kind::smtp;
        address.host = host;
        address.port = config.outbound_port;
        address.text = fmt::format("smtp:{}:{}", host, config.outbound_port);
        auto outcomes = co_await deliver_once(executor, address, config.hostname, timeouts_of(config),
                                              envelope.mail_from, recipients, message);
        if (!outcomes) {
          last_error = outcomes.error().message;
          continue;  // next MX
        }
        sort_outcomes(*outcomes, result);
        settled = true;
        break;
      }
      if (!settled) {
        for (auto& r : recipients) result.deferred.push_back(r);
        result.detail += (result.detail.empty() ? "" : "; ") + last_error;
      }
    }
    co_return result;
  }

  auto backend = BackendAddress::parse(envelope.backend);
  if (!backend) {
    result.deferred = envelope.recipients;
    result.detail = backend.error().message;
    co_return result;
  }
  if (backend->kind == BackendAddress::Kind::maildir) {
    for (auto& r : envelope.recipients) {
      auto written = deliver_to_maildir(backend->path, r, message);
      if (written) result.delivered.push_back(r);
      else {
        result.deferred.push_back(r);
        result.detail = written.error().message;
      }
    }
    if (result.detail.empty()) result.detail = "delivered to " + backend->text;
    co_return result;
  }
  auto outcomes = co_await deliver_once(executor, *backend, config.hostname, timeouts_of(config), envelope.mail_from,
                                        envelope.recipients, message);
  if (!outcomes) {
    result.deferred = envelope.recipients;
    result.detail = outcomes.error().message;
    co_return result;
  }
  sort_outcomes(*outcomes, result);
  co_return result;
}

DeliveryQueue::DeliveryQueue(asio::io_context& io, Spool& spool, Store& store,
                             std::function<std::shared_ptr<const Config>()> config, dns::Resolver* resolver)
    : io_(io), spool_(spool), store_(store), config_(std::move(config)), resolver_(resolver), wake_(io) {}

void DeliveryQueue::start() {
  auto ids = spool_.list();
  if (!ids.empty()) spdlog::info("queue: {} message(s) in the spool from before; delivering", ids.size());
  {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    for (auto& id : ids) due_[id] = now;
  }
  asio::co_spawn(io_, run(), asio::detached);
}

void DeliveryQueue::stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
}

void DeliveryQueue::schedule(const std::string& id, std::chrono::steady_clock::duration delay) {
  std::lock_guard lock(mutex_);
  due_[id] = std::chrono::steady_clock::now() + delay;
}

void DeliveryQueue::flush() {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  for (auto& id : spool_.list())
    if (!in_flight_.count(id)) due_[id] = now;
}

std::size_t DeliveryQueue::size() {
  std::lock_guard lock(mutex_);
  return due_.size() + in_flight_.size();
}

asio::awaitable<void> DeliveryQueue::run() {
  // Polls twice a second: cheap, and it needs no cross-thread wake-ups.
  while (true) {
    wake_.expires_after(std::chrono::milliseconds(500));
    co_await wake_.async_wait(use_nothrow);
    std::vector<std::string> ready;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) co_return;
      auto now = std::chrono::steady_clock::now();
      for (auto it = due_.begin(); it != due_.end() && in_flight_.size() + ready.size() < max_parallel_;) {
        if (it->second <= now) {
          ready.push_back(it->first);
          in_flight_.insert(it->first);
          it = due_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& id : ready) asio::co_spawn(asio::make_strand(io_), deliver(id), asio::detached);
  }
}

asio::awaitable<void> DeliveryQueue::deliver(std::string id) {
  auto config = config_();
  auto loaded = spool_.load(id);
  if (!loaded) {
    if (spool_.contains(id)) spool_.set_aside(id);
    std::lock_guard lock(mutex_);
    in_flight_.erase(id);
    co_return;
  }
  auto [envelope, message] = std::move(*loaded);
  auto result = co_await attempt_delivery(*config, resolver_, envelope, message);
  envelope.attempts += 1;
  envelope.recipients = result.deferred;
  std::string status;
  auto age = std::chrono::system_clock::now() -
             std::chrono::system_clock::time_point(std::chrono::milliseconds(envelope.queued_at_ms));
  if (envelope.recipients.empty()) {
    spool_.remove(id);
    status = result.failed.empty() ? "delivered" : (result.delivered.empty() ? "failed" : "partial");
  } else if (age > config->max_queue_time) {
    spool_.remove(id);
    status = "expired";
    // Inbound: never a bounce; the copy stays in the store for `gatehouse release`.
    spdlog::warn("queue: {} expired after {} attempts: {}", id, envelope.attempts, result.detail);
  } else {
    auto updated = spool_.update(envelope);
    if (!updated) spdlog::error("queue: cannot update {}: {}", id, updated.error().message);
    status = "queued";
  }
  if (!result.failed.empty() && envelope.direction == "outbound")
    spdlog::warn("queue: outbound {} failed for {}: {}", id, fmt::join(result.failed, ", "), result.detail);
  store_.update_delivery(DeliveryUpdate{id, status, envelope.attempts, result.detail});
  spdlog::info("queue: id={} attempt={} status={} detail=\"{}\"", id, envelope.attempts, status, result.detail);
  std::lock_guard lock(mutex_);
  in_flight_.erase(id);
  if (status == "queued") {
    auto& schedule = config->retry_schedule;
    std::size_t index = std::min<std::size_t>(static_cast<std::size_t>(envelope.attempts - 1), schedule.size() - 1);
    due_[id] = std::chrono::steady_clock::now() + (schedule.empty() ? std::chrono::seconds(60) : schedule[index]);
  }
}

}  // namespace gatehouse::delivery
