// The retry queue. See queue.hpp. Delivery follows RFC 5321 §4.5.4 (retry strategy) and §5.1
// (MX lookup, implicit MX) for outbound mail.
#include "delivery/queue.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/async.hpp"
#include "common/id.hpp"
#include "delivery/maildir.hpp"
#include "dns/resolver.hpp"
#include "engine/policy.hpp"
#include <fmt/chrono.h>
#include "smtp/command.hpp"

namespace gatehouse::delivery {

namespace {

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

// The IPv4 and IPv6 addresses of a mail exchanger, looked up with gatehouse's own resolver.
asio::awaitable<Result<std::vector<std::string>>> exchanger_addresses(dns::Resolver* resolver, const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) co_return std::vector<std::string>{host};
  if (!resolver) co_return std::vector<std::string>{host};  // no resolver: let the system resolve it
  std::vector<std::string> addresses;
  std::string problem;
  auto v4 = co_await resolver->a(host);
  addresses.insert(addresses.end(), v4.records.begin(), v4.records.end());
  if (!v4.ok() && v4.status != dns::DnsStatus::nodata) problem = v4.error;
  auto v6 = co_await resolver->aaaa(host);
  addresses.insert(addresses.end(), v6.records.begin(), v6.records.end());
  if (addresses.empty())
    co_return Error{fmt::format("no address for mail exchanger {}{}", host, problem.empty() ? "" : ": " + problem)};
  co_return addresses;
}

}  // namespace

asio::awaitable<AttemptResult> attempt_delivery(const Config& config, dns::Resolver* resolver,
                                                const SpoolEnvelope& envelope, const std::string& message) {
  AttemptResult result;
  auto executor = co_await asio::this_coro::executor;
  if (envelope.backend == "mx") {
    // Group by recipient domain; each domain is its own delivery.
    std::map<std::string, std::vector<std::string>> by_domain;
    for (auto& r : envelope.recipients) by_domain[domain_of_address(r)].push_back(r);
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
        // The exchanger's addresses come from the configured resolver ([dns] nameservers), like
        // the MX records themselves; the system resolver may not know the name at all.
        auto addresses = co_await exchanger_addresses(resolver, host);
        if (!addresses) {
          last_error = addresses.error().message;
          continue;  // next MX
        }
        for (auto& ip : *addresses) {
          BackendAddress address;
          address.kind = BackendAddress::Kind::smtp;
          address.host = ip;
          address.port = config.outbound_port;
          address.text = fmt::format("smtp:{}[{}]:{}", host, ip, config.outbound_port);
          auto outcomes = co_await deliver_once(executor, address, config.hostname, timeouts_of(config),
                                                envelope.mail_from, recipients, message);
          if (!outcomes) {
            last_error = outcomes.error().message;
            continue;  // next address, then next MX
          }
          sort_outcomes(*outcomes, result);
          settled = true;
          break;
        }
        if (settled) break;
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
  // A message still in the journal (its live hand-off did not succeed) gets its own queue file.
  if (auto handed = spool_.hand_over(id); !handed)
    spdlog::error("queue: cannot move {} from the journal to the queue: {}", id, handed.error().message);
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

std::vector<DeliveryQueue::Entry> DeliveryQueue::entries(std::size_t limit) {
  auto ids = spool_.list();
  if (ids.size() > limit) ids.resize(limit);
  std::vector<Entry> out;
  for (auto& id : ids) {
    Entry entry;
    if (auto loaded = spool_.load(id)) entry.envelope = std::move(loaded->first);
    else {
      entry.envelope.id = id;
      entry.problem = loaded.error().message;
    }
    std::lock_guard lock(mutex_);
    entry.in_flight = in_flight_.count(id) > 0;
    if (auto due = due_.find(id); due != due_.end()) {
      auto wait = std::max(due->second - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero());
      entry.next_attempt = std::chrono::system_clock::now() +
                           std::chrono::duration_cast<std::chrono::system_clock::duration>(wait);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

DeliveryQueue::Change DeliveryQueue::retry_now(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (in_flight_.count(id)) return Change::in_flight;
  std::error_code ec;   // a queue file (not a message of the journal, being delivered live)
  if (!std::filesystem::exists(spool_.path_of(id), ec)) return Change::not_queued;
  due_[id] = std::chrono::steady_clock::now();
  return Change::done;
}

DeliveryQueue::Change DeliveryQueue::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (in_flight_.count(id)) return Change::in_flight;
  std::error_code ec;   // a queue file (not a message of the journal, being delivered live)
  if (!std::filesystem::exists(spool_.path_of(id), ec)) return Change::not_queued;
  due_.erase(id);
  spool_.remove(id);
  return Change::done;
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
    for (auto& id : ready) asio::co_spawn(io_, deliver(id), asio::detached);
  }
}

void DeliveryQueue::notify_local_sender(const Config& config, const SpoolEnvelope& original,
                                        const std::vector<std::string>& undelivered, const std::string& detail) {
  if (original.mail_from.empty()) return;  // never notify about a notice
  auto table = build_domain_table(config, &store_);
  const DomainConfig* domain = table->find(domain_of_address(original.mail_from));
  if (!domain) {
    spdlog::warn("queue: {} undeliverable for {}; sender {} is not local, no notice sent", original.id,
                 fmt::join(undelivered, ", "), original.mail_from);
    return;
  }
  SpoolEnvelope notice;
  notice.id = new_transaction_id();
  notice.mail_from = "";
  notice.recipients = {original.mail_from};
  notice.backend = domain->backend.text;
  notice.domain = domain->name;
  notice.direction = "inbound";
  notice.queued_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
  std::string body = fmt::format(
      "From: Mail Delivery System <MAILER-DAEMON@{0}>\r\nTo: <{1}>\r\nSubject: Undelivered mail: {2}\r\n"
      "Date: {3}\r\nMessage-ID: <{4}@{0}>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\n"
      "This is gatehouse at {0}.\r\n\r\nYour message {2} could not be delivered to:\r\n\r\n{5}\r\n\r\n"
      "Last answer: {6}\r\n\r\nThe message is kept on the gateway; your administrator can resend it with\r\n"
      "  gatehouse resend {2}\r\n",
      config.hostname, original.mail_from, original.id, fmt::format("{:%a, %d %b %Y %H:%M:%S +0000}", fmt::gmtime(std::time(nullptr))),
      notice.id, fmt::format("  {}", fmt::join(undelivered, "\r\n  ")), detail);
  if (auto stored = spool_.store_blocking(notice, body); !stored) {
    spdlog::error("queue: cannot spool the notice for {}: {}", original.id, stored.error().message);
    return;
  }
  TransactionRecord record;
  record.id = notice.id;
  record.time = Clock::now();
  record.mail_from = "";
  record.recipients = notice.recipients;
  record.subject = "Undelivered mail: " + original.id;
  record.size = body.size();
  record.disposition = "accept";
  record.reason = "notice to local sender";
  record.direction = "inbound";
  record.domain = domain->name;
  record.backend = notice.backend;
  record.delivery_status = "queued";
  store_.record(std::move(record), body);
  schedule(notice.id, std::chrono::seconds(0));
  spdlog::info("queue: notice {} to local sender {} about {}", notice.id, original.mail_from, original.id);
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
  if (envelope.direction == "outbound") {
    // The only notice gatehouse ever sends: to a local sender, about its own outbound mail.
    std::vector<std::string> undelivered = result.failed;
    if (status == "expired") undelivered.insert(undelivered.end(), envelope.recipients.begin(), envelope.recipients.end());
    if (!undelivered.empty()) notify_local_sender(*config, envelope, undelivered, result.detail);
  }
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
