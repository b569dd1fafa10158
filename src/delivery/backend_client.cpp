// SMTP/LMTP client towards the back-end (RFC 5321 §3.3 transactions, §4.5.2 transparency,
// RFC 2033 LMTP per-recipient replies, RFC 2920 pipelining of RCPT not used: one round trip per
// command keeps replies attributable). See backend_client.hpp.
#include "delivery/backend_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "common/async.hpp"
#include "smtp/command.hpp"
#include "smtp/data_reader.hpp"
#include "smtp/reply_parser.hpp"

namespace gatehouse::delivery {

using smtp::Reply;

struct BackendConnection::Transport {
  explicit Transport(asio::any_io_executor ex) : tcp(ex), local(ex) {}
  asio::ip::tcp::socket tcp;
  asio::local::stream_protocol::socket local;
  bool is_local = false;
  smtp::ReplyParser parser;

  void close() {
    error_code ignored;
    if (is_local) local.close(ignored);
    else tcp.close(ignored);
  }
  asio::awaitable<std::tuple<error_code, std::size_t>> read_some(asio::mutable_buffer buffer) {
    if (is_local) co_return co_await local.async_read_some(buffer, use_nothrow);
    co_return co_await tcp.async_read_some(buffer, use_nothrow);
  }
  asio::awaitable<std::tuple<error_code, std::size_t>> write_all(asio::const_buffer buffer) {
    if (is_local) co_return co_await asio::async_write(local, buffer, use_nothrow);
    co_return co_await asio::async_write(tcp, buffer, use_nothrow);
  }
};

BackendConnection::BackendConnection(std::unique_ptr<Transport> transport, BackendAddress address, Timeouts timeouts)
    : transport_(std::move(transport)), address_(std::move(address)), timeouts_(timeouts),
      last_used_(std::chrono::steady_clock::now()) {}

BackendConnection::~BackendConnection() {
  if (transport_) transport_->close();
}

asio::awaitable<Status> BackendConnection::write(std::string bytes, std::chrono::seconds timeout) {
  auto written = co_await with_timeout(transport_->write_all(asio::buffer(bytes)), timeout);
  if (!written || std::get<0>(*written)) {
    healthy_ = false;
    co_return Error{!written ? "timeout writing to " + address_.text
                             : fmt::format("write to {}: {}", address_.text, std::get<0>(*written).message())};
  }
  co_return Ok{};
}

asio::awaitable<Result<Reply>> BackendConnection::read_reply(std::chrono::seconds timeout) {
  while (true) {
    if (auto reply = transport_->parser.next()) {
      last_used_ = std::chrono::steady_clock::now();
      if (reply->code == 0) {
        healthy_ = false;
        co_return Error{fmt::format("malformed reply from {}: {}", address_.text, reply->text)};
      }
      if (reply->code == 421) healthy_ = false;
      co_return *reply;
    }
    char buffer[4096];
    auto received = co_await with_timeout(transport_->read_some(asio::buffer(buffer)), timeout);
    if (!received || std::get<0>(*received)) {
      healthy_ = false;
      co_return Error{!received ? "timeout waiting for " + address_.text
                                : fmt::format("read from {}: {}", address_.text, std::get<0>(*received).message())};
    }
    std::size_t n = std::get<1>(*received);
    transport_->parser.feed(std::string_view(buffer, n));
  }
}

asio::awaitable<Result<Reply>> BackendConnection::command(std::string line, std::chrono::seconds timeout) {
  if (!healthy_) co_return Error{"connection to " + address_.text + " is not usable"};
  line += "\r\n";
  auto written = co_await write(std::move(line), timeout);
  if (!written) co_return written.error();
  co_return co_await read_reply(timeout);
}

asio::awaitable<Result<std::unique_ptr<BackendConnection>>> BackendConnection::open(
    asio::any_io_executor executor, const BackendAddress& address, std::string helo_name, Timeouts timeouts) {
  auto transport = std::make_unique<Transport>(executor);
  Transport* raw = transport.get();
  auto connect = [raw, &address, executor]() -> asio::awaitable<error_code> {
    if (address.kind == BackendAddress::Kind::lmtp_unix) {
      raw->is_local = true;
      auto [ec] = co_await raw->local.async_connect(asio::local::stream_protocol::endpoint(address.path), use_nothrow);
      co_return ec;
    }
    asio::ip::tcp::resolver resolver(executor);
    auto [ec, endpoints] = co_await resolver.async_resolve(address.host, std::to_string(address.port), use_nothrow);
    if (ec) co_return ec;
    auto [cec, chosen] = co_await asio::async_connect(raw->tcp, endpoints, use_nothrow);
    if (!cec) raw->tcp.set_option(asio::ip::tcp::no_delay(true), cec);
    co_return cec;
  };
  auto connected = co_await with_timeout(connect(), timeouts.connect);
  if (!connected || *connected)
    co_return Error{!connected ? "timeout connecting to " + address.text
                               : fmt::format("connect to {}: {}", address.text, connected->message())};

  std::unique_ptr<BackendConnection> connection(new BackendConnection(std::move(transport), address, timeouts));
  auto greeting = co_await connection->read_reply(timeouts.command);
  if (!greeting) co_return greeting.error();
  if (greeting->code != 220) co_return Error{fmt::format("{} greeted with {}", address.text, greeting->summary())};
  std::string greeting_command = (address.lmtp() ? "LHLO " : "EHLO ") + helo_name;
  auto ehlo = co_await connection->command(std::move(greeting_command), timeouts.command);
  if (!ehlo) co_return ehlo.error();
  if (ehlo->code != 250) {
    if (address.lmtp()) co_return Error{fmt::format("{} refused LHLO: {}", address.text, ehlo->summary())};
    std::string helo_command = "HELO " + helo_name;
    ehlo = co_await connection->command(std::move(helo_command), timeouts.command);
    if (!ehlo) co_return ehlo.error();
    if (ehlo->code != 250) co_return Error{fmt::format("{} refused HELO: {}", address.text, ehlo->summary())};
  }
  // Capabilities: every line after the first.
  std::string_view text = ehlo->text;
  bool first = true;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string keyword = smtp::to_lower_ascii(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (std::exchange(first, false)) continue;
    auto& caps = connection->capabilities_;
    if (keyword == "pipelining") caps.pipelining = true;
    else if (keyword == "8bitmime") caps.eightbitmime = true;
    else if (keyword == "smtputf8") caps.smtputf8 = true;
    else if (keyword == "chunking") caps.chunking = true;
    else if (keyword.rfind("size", 0) == 0) {
      caps.size = true;
      if (keyword.size() > 5) caps.max_size = std::strtoull(keyword.c_str() + 5, nullptr, 10);
    }
  }
  co_return std::move(connection);
}

asio::awaitable<Result<Reply>> BackendConnection::mail(std::string sender, bool eightbit, bool smtputf8,
                                                       std::uint64_t size) {
  std::string line = "MAIL FROM:<" + sender + ">";
  if (capabilities_.size && size) line += fmt::format(" SIZE={}", size);
  if (eightbit && capabilities_.eightbitmime) line += " BODY=8BITMIME";
  if (smtputf8 && capabilities_.smtputf8) line += " SMTPUTF8";
  co_return co_await command(line, timeouts_.command);
}

asio::awaitable<std::pair<Result<Reply>, Result<Reply>>> BackendConnection::mail_and_rcpt(
    std::string sender, bool eightbit, bool smtputf8, std::uint64_t size, std::string recipient) {
  if (!capabilities_.pipelining) {
    auto mail_reply = co_await mail(std::move(sender), eightbit, smtputf8, size);
    if (!mail_reply || !mail_reply->positive()) co_return std::pair{mail_reply, Result<Reply>(Error{"MAIL not accepted"})};
    auto rcpt_reply = co_await rcpt(std::move(recipient));
    co_return std::pair{mail_reply, rcpt_reply};
  }
  // RFC 2920: MAIL and RCPT in one write, their replies in order.
  std::string lines = "MAIL FROM:<" + sender + ">";
  if (capabilities_.size && size) lines += fmt::format(" SIZE={}", size);
  if (eightbit && capabilities_.eightbitmime) lines += " BODY=8BITMIME";
  if (smtputf8 && capabilities_.smtputf8) lines += " SMTPUTF8";
  lines += "\r\nRCPT TO:<" + recipient + ">\r\n";
  auto written = co_await write(std::move(lines), timeouts_.command);
  if (!written) co_return std::pair{Result<Reply>(written.error()), Result<Reply>(written.error())};
  auto mail_reply = co_await read_reply(timeouts_.command);
  if (!mail_reply) co_return std::pair{mail_reply, Result<Reply>(mail_reply.error())};
  auto rcpt_reply = co_await read_reply(timeouts_.command);
  co_return std::pair{mail_reply, rcpt_reply};
}

asio::awaitable<Result<Reply>> BackendConnection::rcpt(std::string recipient) {
  co_return co_await command("RCPT TO:<" + recipient + ">", timeouts_.command);
}

asio::awaitable<Result<std::vector<Reply>>> BackendConnection::data(const std::string& message,
                                                                     std::size_t accepted_recipients) {
  if (capabilities_.chunking) {
    // RFC 3030: one BDAT LAST carries the whole message without waiting for a 354 and without
    // dot-stuffing — a round trip and a copy less than DATA.
    std::string chunk = fmt::format("BDAT {} LAST\r\n", message.size());
    chunk += message;
    auto written = co_await write(std::move(chunk), timeouts_.data);
    if (!written) co_return written.error();
  } else {
    auto go_ahead = co_await command("DATA", timeouts_.command);
    if (!go_ahead) co_return go_ahead.error();
    if (go_ahead->code != 354) co_return std::vector<Reply>{*go_ahead};
    std::string stuffed = smtp::dot_stuff(message);
    auto written = co_await write(std::move(stuffed), timeouts_.data);
    if (!written) co_return written.error();
  }
  std::vector<Reply> replies;
  std::size_t expected = address_.lmtp() ? std::max<std::size_t>(1, accepted_recipients) : 1;
  for (std::size_t i = 0; i < expected; ++i) {
    auto reply = co_await read_reply(timeouts_.data);
    if (!reply) {
      if (replies.empty()) co_return reply.error();
      // LMTP: the recipients without a reply are in doubt; report them as temporary failures.
      replies.push_back(Reply{451, "4.4.2", reply.error().message});
      healthy_ = false;
      continue;
    }
    replies.push_back(*reply);
  }
  co_return replies;
}

asio::awaitable<Result<Reply>> BackendConnection::rset() { co_return co_await command("RSET", timeouts_.command); }

asio::awaitable<void> BackendConnection::quit() {
  if (healthy_) {
    auto reply = co_await command("QUIT", std::chrono::seconds(5));
    (void)reply;
  }
  healthy_ = false;
  transport_->close();
}

asio::awaitable<Result<std::vector<RecipientOutcome>>> deliver_once(
    asio::any_io_executor executor, const BackendAddress& address, const std::string& helo_name,
    BackendConnection::Timeouts timeouts, const std::string& sender, const std::vector<std::string>& recipients,
    const std::string& message) {
  auto opened = co_await BackendConnection::open(executor, address, helo_name, timeouts);
  if (!opened) co_return opened.error();
  auto& connection = *opened;
  bool eightbit = std::any_of(message.begin(), message.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  auto mail = co_await connection->mail(sender, eightbit, false, message.size());
  if (!mail) co_return mail.error();
  std::vector<RecipientOutcome> outcomes;
  if (!mail->positive()) {
    for (auto& r : recipients) outcomes.push_back({r, *mail});
    co_await connection->quit();
    co_return outcomes;
  }
  std::vector<std::size_t> accepted;
  for (auto& r : recipients) {
    auto reply = co_await connection->rcpt(r);
    if (!reply) co_return reply.error();
    outcomes.push_back({r, *reply});
    if (reply->positive()) accepted.push_back(outcomes.size() - 1);
  }
  if (!accepted.empty()) {
    auto replies = co_await connection->data(message, accepted.size());
    if (!replies) co_return replies.error();
    for (std::size_t i = 0; i < accepted.size(); ++i)
      outcomes[accepted[i]].reply = (*replies)[std::min(i, replies->size() - 1)];
  }
  co_await connection->quit();
  co_return outcomes;
}

}  // namespace gatehouse::delivery
