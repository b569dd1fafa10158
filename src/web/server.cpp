// The web server's connections. See server.hpp. Message syntax and persistence follow RFC 9112
// (§9.3 persistent connections, §9.6 closing), status codes RFC 9110 §15 and RFC 6585 (431).
#include "web/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/async.hpp"
#include "common/metrics.hpp"
#include "web/static_files.hpp"

namespace gatehouse::web {

namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

struct Server::Listener {
  ListenerConfig config;
  tcp::acceptor acceptor;
  Listener(asio::io_context& io, ListenerConfig c) : config(std::move(c)), acceptor(io) {}
};

// What the connections' coroutines share with the server; held by each, so a connection that
// outlives the server (its frame destroyed with the io_context) touches nothing freed.
struct Server::Shared {
  std::atomic<std::size_t> active{0};
  std::atomic<bool> stopping{false};
};

namespace {
std::string normalize_ip(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  return address.to_string();
}

http::response<http::string_body> to_beast(Response response, unsigned version, bool keep_alive) {
  http::response<http::string_body> out{static_cast<http::status>(response.status), version};
  out.set(http::field::server, "gatehouse");
  if (!response.content_type.empty()) out.set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) out.insert(name, value);
  out.body() = std::move(response.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

Response parse_failure(const error_code& ec, const std::string& client_ip) {
  int status = 400;
  std::string message = fmt::format("malformed request: {}", ec.message());
  if (ec == http::error::header_limit) status = 431, message = "request header fields too large";
  else if (ec == http::error::body_limit) status = 413, message = "request body too large";
  Response response = Response::error(status, message);
  spdlog::info("web: bad request from {}: {} {}", client_ip, status, message);
  metrics::gateway().http_requests.with({std::to_string(status)}).inc();
  return response;
}
}  // namespace

Server::Server(asio::io_context& io, Api& api, Api::ConfigSource config)
    : io_(io), api_(api), config_(std::move(config)), pool_(config_()->web.threads), shared_(std::make_shared<Shared>()) {}

Server::~Server() {
  shutdown();
  join();
}

Status Server::bind(const Config& config) {
  if (!config.web.enabled) return Ok{};
  for (const auto& lc : config.web.listeners) {
    auto listener = std::make_unique<Listener>(io_, lc);
    error_code ec;
    auto address = asio::ip::make_address(lc.address, ec);
    if (ec) return Error{fmt::format("web.listen {}: bad address: {}", lc.text, ec.message())};
    tcp::endpoint endpoint(address, lc.port);
    listener->acceptor.open(endpoint.protocol(), ec);
    if (!ec) listener->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && address.is_v6()) listener->acceptor.set_option(asio::ip::v6_only(true), ec);
    if (!ec) listener->acceptor.bind(endpoint, ec);
    if (!ec) listener->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Error{fmt::format("web.listen {}: {}", lc.text, ec.message())};
    listeners_.push_back(std::move(listener));
  }
  return Ok{};
}

Status Server::load_tls(const Config& config) {
  if (!config.web.enabled || !config.web.tls_configured()) return Ok{};
  try {
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                         asio::ssl::context::single_dh_use);
    context->use_certificate_chain_file(config.web.tls_certificate.string());
    context->use_private_key_file(config.web.tls_key.string(), asio::ssl::context::pem);
    std::lock_guard lock(mutex_);
    tls_ = std::move(context);
    return Ok{};
  } catch (const std::exception& e) {
    return Error{fmt::format("web TLS certificate {} / key {}: {}", config.web.tls_certificate.string(),
                             config.web.tls_key.string(), e.what())};
  }
}

void Server::start() {
  bool tls;
  {
    std::lock_guard lock(mutex_);
    tls = tls_ != nullptr;
  }
  if (!listeners_.empty()) {
    const auto directory = static_dir(config_()->web);
    std::error_code ec;
    if (std::filesystem::is_regular_file(directory / "index.html", ec))
      spdlog::info("web: the browser interface from {}", directory.string());
    else
      spdlog::warn("web: no browser interface at {} (not built: scripts/build.sh); the API works without it",
                   directory.string());
  }
  for (auto& listener : listeners_) {
    spdlog::info("web: listening on {}://{}/", tls ? "https" : "http", listener->config.text);
    asio::co_spawn(io_, accept_loop(*listener), asio::detached);
  }
}

void Server::shutdown() {
  shared_->stopping = true;
  for (auto& listener : listeners_) {
    error_code ignored;
    listener->acceptor.close(ignored);
  }
}

void Server::join() { pool_.join(); }

std::size_t Server::active_connections() const { return shared_->active.load(); }

asio::awaitable<void> Server::accept_loop(Listener& listener) {
  auto shared = shared_;
  while (!shared->stopping) {
    tcp::socket socket(io_);
    auto [ec] = co_await listener.acceptor.async_accept(socket, use_nothrow);
    if (ec) {
      if (shared->stopping || ec == asio::error::operation_aborted) co_return;
      spdlog::warn("web: accept on {}: {}", listener.config.text, ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Server::serve(tcp::socket socket) {
  auto shared = shared_;
  auto config = config_();
  error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) co_return;
  const std::string client_ip = normalize_ip(remote.address());
  if (shared->active.load() >= config->web.max_connections) {
    spdlog::warn("web: connection from {} refused: {} connections open (web.max_connections)", client_ip,
                 shared->active.load());
    auto response = to_beast(Response::error(503, "too many connections, try again later"), 11, false);
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(5));
    co_await http::async_write(stream, response, use_nothrow);
    co_return;
  }
  ++shared->active;
  struct Release {
    std::shared_ptr<Shared> shared;
    ~Release() { --shared->active; }
  } release{shared};
  socket.set_option(tcp::no_delay(true), ec);

  std::shared_ptr<asio::ssl::context> tls;
  {
    std::lock_guard lock(mutex_);
    tls = tls_;
  }
  if (!tls) {
    beast::tcp_stream stream(std::move(socket));
    co_await exchange(stream, client_ip, false);
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
  beast::get_lowest_layer(stream).expires_after(config->web.read_timeout);
  auto [handshake_error] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_nothrow);
  if (handshake_error) {
    spdlog::info("web: TLS handshake with {} failed: {}", client_ip, handshake_error.message());
    co_return;
  }
  co_await exchange(stream, client_ip, true);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
  co_await stream.async_shutdown(use_nothrow);
}

template <class Stream>
asio::awaitable<void> Server::exchange(Stream& stream, std::string client_ip, bool secure) {
  auto shared = shared_;
  beast::flat_buffer buffer;
  bool first = true;
  while (!shared->stopping) {
    auto config = config_();
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(config->web.max_header_size, UINT32_MAX)));
    parser.body_limit(config->web.max_body_size);
    // The first request within read_timeout of the connection; later ones may wait idle_timeout.
    beast::get_lowest_layer(stream).expires_after(first ? config->web.read_timeout : config->web.idle_timeout);
    first = false;
    auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    (void)read_bytes;
    if (read_error) {
      if (read_error == http::error::end_of_stream || read_error == beast::error::timeout ||
          read_error == asio::error::connection_reset || read_error == asio::error::eof ||
          read_error == asio::error::operation_aborted || read_error == asio::ssl::error::stream_truncated)
        co_return;   // the client went away or stayed silent
      auto response = to_beast(parse_failure(read_error, client_ip), 11, false);
      beast::get_lowest_layer(stream).expires_after(config->web.read_timeout);
      co_await http::async_write(stream, response, use_nothrow);
      // Lingering close (RFC 9112 §9.6): the client may still be sending the request we refused;
      // closing with unread data would reset the connection before it reads our answer.
      error_code ignored;
      beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
      std::size_t drained = 0;
      char sink[16384];
      while (drained < 8 * config->web.max_body_size) {
        auto [drain_error, n] =
            co_await beast::get_lowest_layer(stream).async_read_some(asio::buffer(sink), use_nothrow);
        if (drain_error) break;
        drained += n;
      }
      co_return;
    }
    auto& message = parser.get();
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.client_ip = client_ip;
    request.secure = secure;
    for (const auto& field : message) {
      std::string name(field.name_string());
      for (char& c : name)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      auto& value = request.headers[name];
      if (!value.empty()) value += name == "cookie" ? "; " : ", ";
      value += std::string(field.value());
    }
    request.body = std::move(message.body());
    const bool keep_alive = message.keep_alive() && !shared->stopping;
    const unsigned version = message.version();

    Response response;
    if (!parse_target(request.target, request.path, request.query)) {
      response = Response::error(400, "malformed request target");
      spdlog::info("web: bad request from {}: malformed target", client_ip);
      metrics::gateway().http_requests.with({"400"}).inc();
    } else {
      // The API blocks (store queries, password hashing): it runs on the pool, this coroutine
      // resumes here afterwards.
      Api& api = api_;
      auto answer = [&api, &request]() -> asio::awaitable<Response> {
        try {
          co_return api.handle(request);
        } catch (const std::exception& e) {
          spdlog::error("web: {} {}: {}", request.method, request.path, e.what());
          co_return Response::error(500, "internal error");
        }
      };
      Response answered = co_await asio::co_spawn(pool_, answer(), asio::use_awaitable);
      response = std::move(answered);
    }
    if (request.method == "HEAD") response.body.clear();
    auto out = to_beast(std::move(response), version, keep_alive);
    beast::get_lowest_layer(stream).expires_after(config->web.read_timeout);
    auto [write_error, written] = co_await http::async_write(stream, out, use_nothrow);
    (void)written;
    if (write_error || !keep_alive) co_return;
  }
}

}  // namespace gatehouse::web
