// The retry queue: delivers spooled messages that could not be handed to the back-end during the
// client's transaction (back-end down or slow), and outbound mail from trusted networks. Retries
// follow [delivery].retry_schedule until [delivery].max_queue_time. Inbound mail is never bounced:
// a message that finally cannot be delivered stays in the store, marked expired, for release.
// Outbound mail that finally fails is reported to its local sender only.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>
#include <set>
#include <string>

#include "config/config.hpp"
#include "delivery/backend_client.hpp"
#include "delivery/spool.hpp"
#include "store/store.hpp"

namespace gatehouse::dns {
class Resolver;
}

namespace gatehouse::delivery {

// Delivers one spooled message once to where its envelope says. Recipients that still need a
// retry remain in `envelope.recipients`; the returned text describes the attempt.
struct AttemptResult {
  std::vector<std::string> delivered, failed, deferred;
  std::string detail;
};
boost::asio::awaitable<AttemptResult> attempt_delivery(const Config& config, dns::Resolver* resolver,
                                                       const SpoolEnvelope& envelope, const std::string& message);

class DeliveryQueue {
 public:
  DeliveryQueue(boost::asio::io_context& io, Spool& spool, Store& store,
                std::function<std::shared_ptr<const Config>()> config, dns::Resolver* resolver);

  // Schedules everything already in the spool (recovery after a crash or restart) and starts.
  void start();
  void stop();
  // Delivery of `id` is due after `delay`.
  void schedule(const std::string& id, std::chrono::steady_clock::duration delay);
  // Every queued message is due now (`gatehouse queue flush`, SIGUSR1).
  void flush();
  std::size_t size();

  // For the web administration (src/web/api_queue.cpp): the queued messages, and acting on one.
  struct Entry {
    SpoolEnvelope envelope;
    std::optional<std::chrono::system_clock::time_point> next_attempt;   // none while being delivered
    bool in_flight = false;
    std::string problem;   // the file cannot be read
  };
  std::vector<Entry> entries(std::size_t limit);
  enum class Change { done, not_queued, in_flight };
  Change retry_now(const std::string& id);   // due now
  Change remove(const std::string& id);      // out of the queue (the store keeps its copy)
  // For deliveries outside the queue (src/delivery/redeliver.hpp from the daemon): its event loop
  // and resolver.
  boost::asio::io_context& io() { return io_; }
  dns::Resolver* resolver() const { return resolver_; }

 private:
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> deliver(std::string id);
  void notify_local_sender(const Config& config, const SpoolEnvelope& original,
                           const std::vector<std::string>& undelivered, const std::string& detail);

  boost::asio::io_context& io_;
  Spool& spool_;
  Store& store_;
  std::function<std::shared_ptr<const Config>()> config_;
  dns::Resolver* resolver_;
  std::mutex mutex_;
  std::map<std::string, std::chrono::steady_clock::time_point> due_;
  std::set<std::string> in_flight_;
  boost::asio::steady_timer wake_;
  bool stopped_ = false;
  std::size_t max_parallel_ = 32;
};

}  // namespace gatehouse::delivery
