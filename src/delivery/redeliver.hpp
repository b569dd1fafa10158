// Delivery of a message's stored copy (the store keeps one of every message): `release` of a
// rejected message, `resend` of one delivered before, `replay` of a time window. Shared by the
// command line (src/cli/recovery.cpp, on an io_context of its own) and the daemon's web API
// (src/web/api_recovery.cpp, on the daemon's event loop): the copy goes to its recipients' current
// back-end, and the outcome is recorded in the log row (delivery status, attempts, detail).
#pragma once
#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"
#include "delivery/spool.hpp"
#include "store/store.hpp"

namespace gatehouse {
struct DomainTable;
namespace dns { class Resolver; }
}  // namespace gatehouse

namespace gatehouse::delivery {

// What is delivered: the envelope (recipients, current back-end) and the stored message.
struct StoredCopy {
  SpoolEnvelope envelope;
  std::string message;
};

// The stored copy of `record` addressed to its recipients' current back-end. Errors (without the
// ID): no stored copy, no accepted recipients, a recipient domain no longer served.
Result<StoredCopy> stored_copy(Store& store, const DomainTable& domains, const TransactionRecord& record);

struct Redelivery {
  bool delivered = false;   // every recipient accepted it
  std::string backend;      // where it went
  std::string detail;       // the back-end's answer, or why it did not get there
  std::string status;       // the log row's delivery status now: `action` or "`action` failed"
  int attempts = 0;         // the log row's attempts now
};

// Delivers `copy` once and records the outcome in the log row of `record` (delivery status
// `action` — "released", "resent", "replayed" — or "`action` failed", one more attempt, the
// back-end's answer). `resolver` is needed for outbound mail only (back-end "mx").
boost::asio::awaitable<Redelivery> redeliver(const Config& config, dns::Resolver* resolver, Store& store,
                                             const TransactionRecord& record, const StoredCopy& copy,
                                             const std::string& action);

// Both of the above on an io_context of its own, blocking (the command line).
Result<Redelivery> redeliver_blocking(const Config& config, Store& store, const DomainTable& domains,
                                      const TransactionRecord& record, const std::string& action);

// What `replay` delivers: every accepted or tagged message with a stored copy received between
// `since` and `until` (for one recipient domain unless `domain` is empty), oldest first.
std::vector<TransactionRecord> replay_selection(Store& store, Clock::time_point since, Clock::time_point until,
                                                const std::string& domain);

}  // namespace gatehouse::delivery
