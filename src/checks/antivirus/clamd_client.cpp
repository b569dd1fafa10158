// The asynchronous clamd client: the sockets around clamd_protocol. See clamd_client.hpp.
#include "checks/antivirus/clamd_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <sys/un.h>

#include <array>
#include <optional>

#include "common/async.hpp"

namespace gatehouse::clamd {
namespace {

ScanReply failure(ScanReply::Failure why, std::string text) { return ScanReply{ScanReply::Kind::error, why, std::move(text)}; }

std::string describe_timeout(std::chrono::milliseconds timeout) {
  if (timeout.count() % 1000 == 0) return fmt::format("{}s", timeout.count() / 1000);
  return fmt::format("{}ms", timeout.count());
}

// Connect, send the INSTREAM request, read the reply. Cancelled (operations aborted) when the time
// budget runs out; the caller's with_timeout() then reports the time-out.
template <class Socket>
asio::awaitable<ScanReply> exchange(Socket socket, typename Socket::endpoint_type endpoint, std::string where,
                                    std::string_view data, std::size_t chunk_size) {
  auto [connect_error] = co_await socket.async_connect(endpoint, use_nothrow);
  if (connect_error) co_return failure(ScanReply::Failure::unreachable, fmt::format("cannot connect to {}: {}", where, connect_error.message()));

  InstreamEncoder encoder(data, chunk_size);
  error_code write_error;
  while (!encoder.done()) {
    const InstreamEncoder::Piece piece = encoder.next();
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(piece.header), asio::buffer(piece.payload)};
    auto [error, written] = co_await asio::async_write(socket, buffers, use_nothrow);
    (void)written;
    if (error) {
      // clamd answers and closes when the stream exceeds its StreamMaxLength: its reply may be
      // waiting even though our write failed.
      write_error = error;
      break;
    }
  }

  std::string received;
  std::array<char, 512> buffer;
  for (;;) {
    if (auto reply = complete_reply(received)) co_return parse_reply(*reply);
    auto [read_error, count] = co_await socket.async_read_some(asio::buffer(buffer), use_nothrow);
    received.append(buffer.data(), count);
    if (read_error) break;
  }
  if (!received.empty()) co_return parse_reply(received);   // closed after a reply without its NUL
  if (write_error) co_return failure(ScanReply::Failure::connection, fmt::format("sending to {} failed: {}", where, write_error.message()));
  co_return failure(ScanReply::Failure::connection, fmt::format("{} closed the connection without a reply", where));
}

}  // namespace

asio::awaitable<ScanReply> scan(std::string address_text, std::string_view data, std::chrono::milliseconds timeout,
                                std::size_t chunk_size) {
  auto address = ScannerAddress::parse(address_text);
  if (!address) co_return failure(ScanReply::Failure::address, fmt::format("clamd address \"{}\": {}", address_text, address.error().message));
  asio::any_io_executor executor = co_await asio::this_coro::executor;
  const std::string where = fmt::format("clamd at {}", address->text);

  std::optional<ScanReply> result;
  if (address->kind == ScannerAddress::Kind::unix_socket) {
    using Protocol = asio::local::stream_protocol;
    if (address->path.size() >= sizeof(sockaddr_un{}.sun_path))
      co_return failure(ScanReply::Failure::address, fmt::format("clamd address \"{}\": socket path too long", address_text));
    auto operation = exchange(Protocol::socket(executor), Protocol::endpoint(address->path), where, data, chunk_size);
    result = co_await with_timeout(std::move(operation), timeout);
  } else {
    error_code parse_error;
    const auto ip = asio::ip::make_address(address->host, parse_error);
    if (parse_error) co_return failure(ScanReply::Failure::address, fmt::format("clamd address \"{}\": {}", address_text, parse_error.message()));
    auto operation = exchange(asio::ip::tcp::socket(executor), asio::ip::tcp::endpoint(ip, address->port), where, data,
                              chunk_size);
    result = co_await with_timeout(std::move(operation), timeout);
  }
  if (!result) co_return failure(ScanReply::Failure::timeout, fmt::format("no answer from {} within {}", where, describe_timeout(timeout)));
  co_return std::move(*result);
}

}  // namespace gatehouse::clamd
