// Delivery of a message's stored copy. See redeliver.hpp.
#include "delivery/redeliver.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <algorithm>
#include <fmt/format.h>
#include <memory>

#include "common/text.hpp"
#include "delivery/queue.hpp"
#include "dns/resolver.hpp"
#include "engine/policy.hpp"

namespace gatehouse::delivery {

Result<StoredCopy> stored_copy(Store& store, const DomainTable& domains, const TransactionRecord& record) {
  auto message = store.message(record.id);
  if (!message) return Error{"no stored copy of the message (rejected before DATA, or pruned)"};
  if (record.recipients.empty()) return Error{"the transaction has no accepted recipients"};
  StoredCopy copy;
  copy.envelope.id = record.id;
  copy.envelope.mail_from = record.mail_from;
  copy.envelope.recipients = record.recipients;
  copy.envelope.direction = record.direction;
  if (record.direction == "outbound") {
    copy.envelope.backend = "mx";
  } else {
    const DomainConfig* domain = domains.find(domain_of_address(record.recipients.front()));
    if (!domain) return Error{fmt::format("domain {} is no longer served", domain_of_address(record.recipients.front()))};
    copy.envelope.backend = domain->backend.text;
  }
  copy.message = std::move(*message);
  return copy;
}

boost::asio::awaitable<Redelivery> redeliver(const Config& config, dns::Resolver* resolver, Store& store,
                                             const TransactionRecord& record, const StoredCopy& copy,
                                             const std::string& action) {
  auto result = co_await attempt_delivery(config, resolver, copy.envelope, copy.message);
  Redelivery outcome;
  outcome.delivered = result.deferred.empty() && result.failed.empty();
  outcome.backend = copy.envelope.backend;
  outcome.detail = result.detail;
  outcome.status = outcome.delivered ? action : action + " failed";
  outcome.attempts = record.delivery_attempts + 1;
  store.update_delivery(DeliveryUpdate{record.id, outcome.status, outcome.attempts, outcome.detail});
  co_return outcome;
}

Result<Redelivery> redeliver_blocking(const Config& config, Store& store, const DomainTable& domains,
                                      const TransactionRecord& record, const std::string& action) {
  auto copy = stored_copy(store, domains, record);
  if (!copy) return copy.error();
  boost::asio::io_context io;
  std::unique_ptr<dns::Resolver> resolver;
  if (copy->envelope.backend == "mx")
    resolver = std::make_unique<dns::Resolver>(io.get_executor(), config.nameservers, config.dns_timeout);
  auto future = boost::asio::co_spawn(io, redeliver(config, resolver.get(), store, record, *copy, action),
                                      boost::asio::use_future);
  io.run();
  return future.get();
}

std::vector<TransactionRecord> replay_selection(Store& store, Clock::time_point since, Clock::time_point until,
                                                const std::string& domain) {
  std::vector<TransactionRecord> selected;
  SearchQuery query;
  query.since = since;
  query.until = until;
  query.domain = domain;
  query.limit = 1000;
  for (query.offset = 0;; query.offset += query.limit) {
    auto page = store.search(query);
    for (auto& r : page)
      if ((r.disposition == "accept" || r.disposition == "tag") && r.has_message) selected.push_back(std::move(r));
    if (page.size() < query.limit) break;
  }
  std::reverse(selected.begin(), selected.end());
  return selected;
}

}  // namespace gatehouse::delivery
