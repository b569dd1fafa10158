// The web administration's HTTP/1.1 server (RFC 9112) in the daemon: Boost.Beast on the daemon's
// first io_context, one C++20 coroutine per connection like the SMTP listener, HTTPS when
// [web] tls_certificate and tls_key are set. Bounded: header and body size limits (431 / 413),
// a read deadline per request and an idle deadline between kept-alive requests, a cap on open
// connections (503). Requests are answered by the Api (api.hpp) on a small thread pool, since its
// store queries and password hashing block; the event loop never waits for them.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"
#include "web/api.hpp"

namespace gatehouse::web {

class Server {
 public:
  Server(boost::asio::io_context& io, Api& api, Api::ConfigSource config);
  ~Server();

  // Binds every [web] listener (before privileges are dropped). Errors name the address.
  Status bind(const Config& config);
  // Loads (or reloads, on SIGHUP) the certificate when [web] has one; the previous one stays on failure.
  Status load_tls(const Config& config);
  void start();
  // Stops accepting; connections close after their current request.
  void shutdown();
  // Waits for the requests being answered on the thread pool (before the store goes away).
  void join();
  std::size_t active_connections() const;

 private:
  struct Listener;
  struct Shared;
  boost::asio::awaitable<void> accept_loop(Listener& listener);
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
  template <class Stream>
  boost::asio::awaitable<void> exchange(Stream& stream, std::string client_ip, bool secure);

  boost::asio::io_context& io_;
  Api& api_;
  Api::ConfigSource config_;
  boost::asio::thread_pool pool_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace gatehouse::web
