// The gateway: what the daemon does with each SMTP transaction. The network layer
// (smtp/server.cpp) turns bytes into session events; a ConnectionHandler answers them — relay
// control and recipient validation at RCPT (passing the back-end's answer through live), the
// engine's verdict after DATA, durable spooling, the hand-off to the back-end before the final
// reply, and the log row and stored copy of every transaction.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "checks/greylisting.hpp"
#include "config/config.hpp"
#include "delivery/backend_client.hpp"
#include "delivery/backend_pool.hpp"
#include "delivery/queue.hpp"
#include "delivery/spool.hpp"
#include "engine/engine.hpp"
#include "engine/policy.hpp"
#include "engine/reputation.hpp"
#include "smtp/session.hpp"
#include "store/store.hpp"

namespace gatehouse::dns {
class Resolver;
}
namespace gatehouse::content {
class OcrPool;
}
namespace gatehouse::classifier {
class BackgroundLearner;
}

namespace gatehouse::engine {

struct ClientInfo {
  std::string ip;
  std::uint16_t port = 0;
  std::string ptr;             // reverse DNS name, "" when none
  std::string ptr_error;       // "" or why the PTR lookup failed (timeout, servfail)
  std::string local_ip;
  std::uint16_t local_port = 0;
  std::string tls_version, tls_cipher;   // set after STARTTLS
};

// Answers of the back-end to RCPT, remembered for when it cannot be asked.
class RecipientCache {
 public:
  void remember(const std::string& address, const smtp::Reply& reply);
  std::optional<smtp::Reply> recall(const std::string& address);

 private:
  struct Entry {
    smtp::Reply reply;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

class Gateway {
 public:
  Gateway(boost::asio::io_context& io, std::shared_ptr<const Config> config, Store& store, delivery::Spool& spool,
          delivery::DeliveryQueue& queue, dns::Resolver* resolver);

  // The configuration in force: the file's with the web's lists and settings laid over it
  // (engine/runtime_policy.hpp).
  std::shared_ptr<const Config> config() const;
  std::shared_ptr<const Config> file_config() const;       // the file's alone
  std::shared_ptr<const DomainTable> domains() const;
  void set_config(std::shared_ptr<const Config> config);   // the file's (start, SIGHUP)
  void refresh_runtime_state();                            // after the state database changed

  Store& store() { return store_; }
  delivery::Spool& spool() { return spool_; }
  delivery::DeliveryQueue& queue() { return queue_; }
  delivery::BackendPool& pool() { return pool_; }
  RecipientCache& recipient_cache() { return recipient_cache_; }
  Reputation& reputation() { return reputation_; }
  checks::Greylist& greylist() { return greylist_; }
  const Engine& engine() const { return engine_; }
  dns::Resolver* resolver() { return resolver_; }
  boost::asio::io_context& io() { return io_; }
  // The adaptive classifier's model and learner (null when [classifier] enabled = false).
  void set_classifier(classifier::BackgroundLearner* learner) { classifier_ = learner; }
  classifier::BackgroundLearner* classifier() { return classifier_; }
  // The OCR workers (null when [ocr] enabled = false at start).
  void set_ocr(content::OcrPool* ocr) { ocr_ = ocr; }
  content::OcrPool* ocr() { return ocr_; }

 private:
  boost::asio::io_context& io_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Config> file_config_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<const DomainTable> domains_;
  Store& store_;
  delivery::Spool& spool_;
  delivery::DeliveryQueue& queue_;
  delivery::BackendPool pool_;
  RecipientCache recipient_cache_;
  Reputation reputation_;
  checks::Greylist greylist_;
  Engine engine_;
  dns::Resolver* resolver_;
  classifier::BackgroundLearner* classifier_ = nullptr;
  content::OcrPool* ocr_ = nullptr;
};

std::string annotate_message(std::string message, const content::HeaderSection& headers, const Verdict& verdict,
                             const FilterPolicy& policy, const std::string& hostname);

// One per client connection; answers the session's events.
class ConnectionHandler {
 public:
  ConnectionHandler(Gateway& gateway, ClientInfo client);
  ~ConnectionHandler();

  boost::asio::awaitable<smtp::Reply> on_helo(const smtp::HeloEvent& event);
  boost::asio::awaitable<smtp::Reply> on_mail(const smtp::MailEvent& event);
  boost::asio::awaitable<smtp::Reply> on_rcpt(const smtp::RcptEvent& event);
  boost::asio::awaitable<smtp::Reply> on_message(smtp::MessageEvent& event, const smtp::Session& session);
  boost::asio::awaitable<void> on_reset();   // the transaction was abandoned
  void set_tls(std::string version, std::string cipher);
  ClientInfo& client() { return client_; }
  // What the checks know about the connection; the network layer records protocol abuse here.
  checks::ConnectionState& state() { return state_; }

 private:
  struct Transaction;
  boost::asio::awaitable<void> release_backend(bool reset);
  boost::asio::awaitable<smtp::Reply> handle_message(smtp::MessageEvent& event, const smtp::Session& session);
  void log_abandoned();
  // Greylisting of an otherwise accepted recipient (docs/filtering.md "Greylisting"): the 451 reply
  // when it is deferred; adds the explanation to `verdict`.
  boost::asio::awaitable<std::optional<smtp::Reply>> greylist(const RecipientDecision& decision,
                                                              const FilterPolicy& policy, const Config& config,
                                                              Verdict& verdict);
  // `config` and `policy` must outlive the checks' run (the caller holds the configuration).
  checks::CheckContext check_context(const Config& config, const FilterPolicy& policy) const;
  TransactionRecord transaction_record() const;   // the fields every log row of the transaction has
  std::string received_header(const smtp::Session& session) const;
  void learn_from(const std::string& message, const content::HeaderSection& headers, const Verdict& verdict,
                  const FilterPolicy& policy);

  Gateway& gateway_;
  ClientInfo client_;
  std::string helo_;
  checks::ConnectionState state_;
  std::string last_disposition_;   // of the last message (accept, tag, reject, tempfail)
  std::unique_ptr<Transaction> transaction_;
};

}  // namespace gatehouse::engine
