// The SMTP listener: accepts connections on every configured address, enforces the connection
// limits, reads an optional PROXY protocol header, performs STARTTLS (RFC 3207) and feeds the
// sans-I/O Session, handing its events to the gateway. Asio C++20 coroutines; each connection runs
// on its own strand, the io_context on one thread per core.
//
// It is also the first line against protocol abuse ([abuse] in the configuration; clients in
// trusted_networks are exempt): blocked IPs and per-IP connection rates are refused at connect,
// the greeting waits pregreet_pause and notes early talkers (RFC 5321 §4.3.1), the session's
// findings (unoffered pipelining, RSETs, errors) are copied into the connection state the checks
// read, MAIL is rate limited per IP, and replies to clients that showed abuse are tarpitted.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"
#include "engine/gateway.hpp"

namespace gatehouse::smtp {

class Server {
 public:
  // `io` runs the acceptors; each connection is served on one of `workers` (round robin), every
  // worker io_context being run by exactly one thread, so a connection needs no strand.
  Server(boost::asio::io_context& io, std::vector<boost::asio::io_context*> workers, engine::Gateway& gateway);
  ~Server();

  // Binds every listener (before privileges are dropped). Errors name the address.
  Status bind(const Config& config);
  void start();
  // Loads (or reloads, on SIGHUP) the TLS certificate; on failure the previous one stays.
  Status load_tls(const Config& config);
  // Stops accepting; idle sessions get 421 now, busy ones when their transaction ends.
  void shutdown();
  std::size_t active_connections() const { return active_.load(); }

 private:
  struct Listener;
  boost::asio::awaitable<void> accept_loop(Listener& listener);
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, ListenerConfig listener);
  bool admit(const std::string& ip, std::string& refusal);
  // The refusal (421 reply) for an untrusted client that is blocked or over its connection rate,
  // or "" to go on. Counts the connection.
  std::string screen(const std::string& ip, const Config& config);
  void release(const std::string& ip);

  boost::asio::io_context& io_;
  std::vector<boost::asio::io_context*> workers_;
  std::size_t next_worker_ = 0;
  engine::Gateway& gateway_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::map<std::string, std::size_t> per_ip_;
  std::map<std::uint64_t, std::function<void()>> shutdown_hooks_;
  std::uint64_t next_connection_ = 0;
  std::atomic<std::size_t> active_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace gatehouse::smtp
