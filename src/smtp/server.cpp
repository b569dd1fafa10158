// The SMTP listener and connection driver. See server.hpp. Timeouts follow RFC 5321 §4.5.3.2;
// the connection limits answer 421 4.7.0 and blocked clients 421 4.7.1 (§3.8, §4.2.3, RFC 3463
// §3.8); the greeting pause follows §4.3.1 (the client waits for the greeting); STARTTLS follows
// RFC 3207.
#include "smtp/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/async.hpp"
#include "dns/resolver.hpp"
#include "smtp/proxy_protocol.hpp"
#include "smtp/session.hpp"

namespace gatehouse::smtp {

using asio::ip::tcp;

struct Server::Listener {
  ListenerConfig config;
  tcp::acceptor acceptor;
  Listener(asio::io_context& io, ListenerConfig c) : config(std::move(c)), acceptor(io) {}
};

Server::Server(asio::io_context& io, std::vector<asio::io_context*> workers, engine::Gateway& gateway)
    : io_(io), workers_(std::move(workers)), gateway_(gateway) {
  if (workers_.empty()) workers_.push_back(&io_);
}
Server::~Server() = default;

Status Server::bind(const Config& config) {
  for (auto& lc : config.listeners) {
    auto listener = std::make_unique<Listener>(io_, lc);
    error_code ec;
    auto address = asio::ip::make_address(lc.address, ec);
    if (ec) return Error{fmt::format("listen {}: bad address: {}", lc.text, ec.message())};
    tcp::endpoint endpoint(address, lc.port);
    listener->acceptor.open(endpoint.protocol(), ec);
    if (!ec) listener->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && address.is_v6()) listener->acceptor.set_option(asio::ip::v6_only(true), ec);
    if (!ec) listener->acceptor.bind(endpoint, ec);
    if (!ec) listener->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Error{fmt::format("listen {}: {}", lc.text, ec.message())};
    listeners_.push_back(std::move(listener));
  }
  return Ok{};
}

Status Server::load_tls(const Config& config) {
  if (!config.tls_configured()) return Ok{};
  try {
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::single_dh_use);
    context->use_certificate_chain_file(config.tls_certificate.string());
    context->use_private_key_file(config.tls_key.string(), asio::ssl::context::pem);
    std::lock_guard lock(mutex_);
    tls_ = std::move(context);
    return Ok{};
  } catch (const std::exception& e) {
    return Error{fmt::format("TLS certificate {} / key {}: {}", config.tls_certificate.string(), config.tls_key.string(),
                             e.what())};
  }
}

void Server::start() {
  for (auto& listener : listeners_) {
    spdlog::info("listening on {} (starttls={}, proxy_protocol={})", listener->config.text,
                 listener->config.starttls == TlsPolicy::off        ? "off"
                 : listener->config.starttls == TlsPolicy::optional ? "optional"
                                                                     : "required",
                 listener->config.proxy_protocol);
    asio::co_spawn(io_, accept_loop(*listener), asio::detached);
  }
}

void Server::shutdown() {
  stopping_ = true;
  for (auto& listener : listeners_) {
    error_code ignored;
    listener->acceptor.close(ignored);
  }
  std::map<std::uint64_t, std::function<void()>> hooks;
  {
    std::lock_guard lock(mutex_);
    hooks = shutdown_hooks_;
  }
  for (auto& [id, hook] : hooks) hook();
}

asio::awaitable<void> Server::accept_loop(Listener& listener) {
  while (!stopping_) {
    asio::io_context& worker = *workers_[next_worker_++ % workers_.size()];
    tcp::socket socket(worker);
    auto [ec] = co_await listener.acceptor.async_accept(socket, use_nothrow);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      spdlog::warn("accept on {}: {}", listener.config.text, ec.message());
      // Out of file descriptors and similar: do not spin.
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    asio::co_spawn(worker, serve(std::move(socket), listener.config), asio::detached);
  }
}

bool Server::admit(const std::string& ip, std::string& refusal) {
  auto config = gateway_.config();
  std::lock_guard lock(mutex_);
  if (active_.load() >= config->max_connections) {
    refusal = fmt::format("421 4.7.0 {} Error: too many connections, try again later\r\n", config->hostname);
    return false;
  }
  auto& count = per_ip_[ip];
  if (count >= config->max_connections_per_ip) {
    if (count == 0) per_ip_.erase(ip);
    refusal = fmt::format("421 4.7.0 {} Error: too many connections from {}\r\n", config->hostname, ip);
    return false;
  }
  ++count;
  ++active_;
  return true;
}

void Server::release(const std::string& ip) {
  std::lock_guard lock(mutex_);
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
  --active_;
}

std::string Server::screen(const std::string& ip, const Config& config) {
  if (auto block = gateway_.reputation().blocked(ip)) {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(block->until - engine::Reputation::Clock::now());
    spdlog::info("client={} refused: blocked ({}) for {}s more", ip, block->reason, std::max<long long>(left.count(), 0));
    return fmt::format("421 4.7.1 {} Service not available: client [{}] blocked: {}, closing connection\r\n",
                       config.hostname, ip, block->reason);
  }
  const std::size_t limit = config.abuse.max_connections_per_minute;
  if (limit > 0) {
    std::size_t count = gateway_.reputation().count_connection(ip);
    if (count > limit) {
      spdlog::info("client={} refused: {} connections in the last minute (limit {})", ip, count, limit);
      return fmt::format("421 4.7.0 {} Error: too many connections per minute from [{}], try again later\r\n",
                         config.hostname, ip);
    }
  }
  return {};
}

namespace {
// A client that has shown abuse gets its replies late (tarpitting).
bool suspicious(const checks::ConnectionState& state) {
  return state.early_talker || state.unoffered_pipelining || state.errors >= 3 || state.unknown_recipients > 0;
}

std::string normalize_ip(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  return address.to_string();
}
}  // namespace

asio::awaitable<void> Server::serve(tcp::socket socket, ListenerConfig listener) {
  auto executor = co_await asio::this_coro::executor;
  const auto connected_at = std::chrono::steady_clock::now();
  auto config = gateway_.config();
  error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) co_return;
  auto local = socket.local_endpoint(ec);
  socket.set_option(tcp::no_delay(true), ec);

  engine::ClientInfo client;
  client.ip = normalize_ip(remote.address());
  client.port = remote.port();
  client.local_ip = normalize_ip(local.address());
  client.local_port = local.port();

  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;
  auto shutting_down = std::make_shared<std::atomic<bool>>(false);
  auto write_all = [&](std::string bytes) -> asio::awaitable<bool> {
    auto write = [&]() -> asio::awaitable<error_code> {
      error_code wec;
      if (tls) std::tie(wec, std::ignore) = co_await asio::async_write(*tls, asio::buffer(bytes), use_nothrow);
      else std::tie(wec, std::ignore) = co_await asio::async_write(socket, asio::buffer(bytes), use_nothrow);
      co_return wec;
    };
    auto result = co_await with_timeout(write(), config->command_timeout);
    co_return result && !*result;
  };

  // The PROXY header names the real client (only on listeners that expect one).
  std::string early_bytes;
  if (listener.proxy_protocol) {
    std::string received;
    while (true) {
      char buffer[512];
      auto read = co_await with_timeout(socket.async_read_some(asio::buffer(buffer), use_nothrow), std::chrono::seconds(10));
      if (!read || std::get<0>(*read)) {
        spdlog::info("proxy protocol from {}: no header ({})", client.ip,
                     read ? std::get<0>(*read).message() : std::string("timeout"));
        co_return;
      }
      received.append(buffer, std::get<1>(*read));
      auto parsed = parse_proxy_header(received);
      if (parsed.state == ProxyParseState::need_more) continue;
      if (parsed.state == ProxyParseState::invalid) {
        spdlog::warn("proxy protocol from {}: {}; closing", client.ip, parsed.error);
        co_return;
      }
      if (!parsed.header.local) {
        client.ip = parsed.header.source_ip;
        client.port = parsed.header.source_port;
      }
      early_bytes = received.substr(parsed.consumed);
      break;
    }
  }

  // Trusted networks (our own hosts) are exempt from every abuse measure.
  const bool trusted = gateway_.domains()->trusted(client.ip);
  std::string refusal;
  if (!stopping_ && !trusted) refusal = screen(client.ip, *config);
  if (!refusal.empty() || stopping_ || !admit(client.ip, refusal)) {
    if (refusal.empty()) refusal = fmt::format("421 4.3.2 {} Service shutting down\r\n", config->hostname);
    spdlog::info("connection from {} refused: {}", client.ip, refusal.substr(0, refusal.size() - 2));
    co_await write_all(refusal);
    co_return;
  }
  std::uint64_t connection_id;
  {
    std::lock_guard lock(mutex_);
    connection_id = next_connection_++;
    shutdown_hooks_[connection_id] = [shutting_down] { *shutting_down = true; };
  }
  struct Cleanup {
    Server* server;
    std::string ip;
    std::uint64_t id;
    ~Cleanup() {
      {
        std::lock_guard lock(server->mutex_);
        server->shutdown_hooks_.erase(id);
      }
      server->release(ip);
    }
  } cleanup{this, client.ip, connection_id};

  if (auto* resolver = gateway_.resolver()) {
    dns::Resolver::ClientName name = co_await resolver->client_name(client.ip);
    client.ptr = std::move(name.name);
    client.ptr_error = std::move(name.error);
  }

  // Early talkers (RFC 5321 §4.3.1: the client waits for the greeting; postscreen's pregreet
  // test): an untrusted client's greeting waits pregreet_pause, counted from the connection,
  // reading meanwhile. Whatever arrives before the greeting (the PROXY header's leftovers too)
  // marks the client; it is kept and answered after the greeting, so the session goes on and the
  // protocol check refuses at RCPT. Without a pause a non-blocking look (FIONREAD) right before
  // the greeting still notices bytes already there, at no cost.
  bool early_talker = false;
  if (!trusted) {
    // Clients that passed before and sent clean mail are not made to wait again (pregreet_ttl).
    const auto pause = config->abuse.pregreet_pause;
    if (pause.count() > 0 && !gateway_.reputation().known_good(client.ip)) {
      // Waiting for readability (not reading) races the deadline, so nothing read can be lost
      // when the timer wins; the bytes are then read without blocking.
      const auto deadline = connected_at + pause;
      char pregreet[1024];
      error_code nbec;
      socket.non_blocking(true, nbec);
      while (early_bytes.size() < 65536) {
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) break;
        auto ready = co_await with_timeout(socket.async_wait(tcp::socket::wait_read, use_nothrow), deadline - now);
        if (!ready) break;  // the pause is over
        error_code rec = std::get<0>(*ready);
        std::size_t n = 0;
        if (!rec) n = socket.read_some(asio::buffer(pregreet), rec);
        if (rec == asio::error::would_block || rec == asio::error::try_again) continue;
        if (rec) {
          spdlog::info("client={} disconnected before the greeting ({} bytes sent before it)", client.ip,
                       early_bytes.size());
          co_return;
        }
        early_bytes.append(pregreet, n);
      }
      socket.non_blocking(false, nbec);
    }
    error_code available_ec;
    std::size_t waiting = socket.available(available_ec);
    if (available_ec) waiting = 0;
    if (!early_bytes.empty() || waiting > 0) {
      early_talker = true;
      spdlog::info("client={} early talker: {} bytes before the greeting", client.ip, early_bytes.size() + waiting);
    }
  }

  SessionSettings settings;
  settings.hostname = config->hostname;
  settings.max_message_size = config->max_message_size;
  settings.max_recipients = config->max_recipients;
  settings.max_errors = config->max_errors;
  settings.max_rsets = trusted ? 0 : config->abuse.max_rsets;
  {
    std::lock_guard lock(mutex_);
    settings.offer_starttls = tls_ && listener.starttls != TlsPolicy::off;
  }
  settings.require_tls = listener.starttls == TlsPolicy::required;
  Session session(settings);
  engine::ConnectionHandler handler(gateway_, client);
  handler.state().early_talker = early_talker;
  // What the session noticed, copied where the checks read it.
  auto note_abuse = [&] {
    auto& state = handler.state();
    state.errors = session.errors();
    state.rsets = session.rsets();
    if (session.unoffered_pipelining() && !state.unoffered_pipelining && !trusted) {
      state.unoffered_pipelining = true;
      spdlog::info("client={} helo=\"{}\" pipelined commands without PIPELINING being offered", client.ip,
                   session.helo_name());
    }
  };
  const auto tarpit_delay = std::min<std::chrono::steady_clock::duration>(config->abuse.tarpit_delay,
                                                                          config->command_timeout / 2);
  session.greet(Reply{220, "", fmt::format("{} {}", config->hostname, config->banner)});
  if (!early_bytes.empty()) session.receive(early_bytes);
  if (*shutting_down || stopping_) session.shutdown();

  std::string buffer(4096, '\0');
  bool connected = true;
  while (true) {
    note_abuse();
    if (session.has_output()) {
      // Tarpit: a client that has shown abuse waits for each reply (not for the last one, so
      // that closing frees the connection at once). Slices of a second notice a shutdown.
      if (tarpit_delay.count() > 0 && !trusted && !session.closing() && suspicious(handler.state())) {
        auto until = std::chrono::steady_clock::now() + tarpit_delay;
        while (!*shutting_down) {
          auto now = std::chrono::steady_clock::now();
          if (now >= until) break;
          asio::steady_timer timer(executor, std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::seconds(1)));
          co_await timer.async_wait(use_nothrow);
        }
      }
      // (Results of co_await are named first: g++ 12 mishandles co_await inside larger expressions.)
      std::string output = session.take_output();
      bool written = co_await write_all(std::move(output));
      if (!written) {
        connected = false;
        session.connection_lost();
      }
    }
    if (auto& pending = session.pending()) {
      if (auto* helo = std::get_if<HeloEvent>(&*pending)) {
        Reply reply = co_await handler.on_helo(*helo);
        session.resolve(reply);
      } else if (auto* mail = std::get_if<MailEvent>(&*pending)) {
        // Messages per minute and client IP, counted at MAIL (whether accepted or not).
        const std::size_t limit = config->abuse.max_messages_per_minute;
        std::size_t count = 0;
        if (!trusted && limit > 0) count = gateway_.reputation().count_message(client.ip);
        if (count > limit) {
          spdlog::info("client={} MAIL refused: {} messages in the last minute (limit {})", client.ip, count, limit);
          session.resolve(Reply{451, "4.7.1", "Too many messages, slow down"});
        } else {
          Reply reply = co_await handler.on_mail(*mail);
          session.resolve(reply);
        }
      } else if (auto* rcpt = std::get_if<RcptEvent>(&*pending)) {
        Reply reply = co_await handler.on_rcpt(*rcpt);
        session.resolve(reply);
      } else if (std::holds_alternative<MessageEvent>(*pending)) {
        auto event = std::move(std::get<MessageEvent>(*pending));
        Reply reply = co_await handler.on_message(event, session);
        session.resolve(reply);
      } else if (std::holds_alternative<ResetEvent>(*pending)) {
        co_await handler.on_reset();
        session.resolve(Reply{});
      } else if (std::holds_alternative<StartTlsEvent>(*pending)) {
        std::shared_ptr<asio::ssl::context> context;
        {
          std::lock_guard lock(mutex_);
          context = tls_;
        }
        tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket, *context);
        auto handshake =
            co_await with_timeout(tls->async_handshake(asio::ssl::stream_base::server, use_nothrow), config->command_timeout);
        if (!handshake || std::get<0>(*handshake)) {
          spdlog::info("TLS handshake with {} failed: {}", client.ip,
                       handshake ? std::get<0>(*handshake).message() : std::string("timeout"));
          connected = false;
          session.connection_lost();
          if (session.pending()) {
            co_await handler.on_reset();
            session.resolve(Reply{});
          }
          break;
        }
        SSL* ssl = tls->native_handle();
        handler.set_tls(SSL_get_version(ssl), SSL_get_cipher_name(ssl));
        session.tls_established();
      }
      if (!connected) break;
      continue;
    }
    if (session.closing() || !connected) break;
    if (*shutting_down) session.shutdown();
    if (session.closing()) continue;  // flush the 421

    // Read in slices of at most a second, so a shutdown request is noticed promptly; the idle
    // deadline of RFC 5321 §4.5.3.2 is kept across slices.
    auto idle_deadline = std::chrono::steady_clock::now() + (session.in_data() ? config->data_timeout : config->command_timeout);
    std::optional<std::tuple<error_code, std::size_t>> read;
    while (true) {
      auto slice = std::min<std::chrono::steady_clock::duration>(idle_deadline - std::chrono::steady_clock::now(),
                                                                 std::chrono::seconds(1));
      // (read_some_within, not with_timeout: bytes arriving as a slice ends must not be dropped.)
      if (tls) read = co_await read_some_within(*tls, asio::buffer(buffer), slice);
      else read = co_await read_some_within(socket, asio::buffer(buffer), slice);
      if (read || *shutting_down || std::chrono::steady_clock::now() >= idle_deadline) break;
    }
    if (!read) {
      if (*shutting_down && std::chrono::steady_clock::now() < idle_deadline) {
        session.shutdown();
        continue;
      }
      spdlog::info("client {} timed out", client.ip);
      session.timeout();
      continue;
    }
    auto [rec, n] = *read;
    if (rec) {
      session.connection_lost();
      connected = false;
      continue;
    }
    session.receive(std::string_view(buffer.data(), n));
  }
  if (session.pending() && std::holds_alternative<ResetEvent>(*session.pending())) co_await handler.on_reset();
  else if (session.in_transaction() || !connected) co_await handler.on_reset();
  note_abuse();
  if (session.too_many_rsets())
    spdlog::info("client={} helo=\"{}\" closed: too many RSET commands ({})", client.ip, session.helo_name(), session.rsets());
  if (session.errors() > 0)  // bad input is answered, and logged once per connection
    spdlog::info("client={} helo=\"{}\" protocol_errors={} closed={}", client.ip, session.helo_name(), session.errors(),
                 session.errors() >= config->max_errors ? "too many errors" : "normally");
  if (tls && connected) co_await with_timeout(tls->async_shutdown(use_nothrow), std::chrono::seconds(5));
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace gatehouse::smtp
