// The clamd INSTREAM protocol (clamd(8)): request framing, reply parsing, scanner addresses; and the
// client against small in-process clamd stand-ins on unix sockets (clean, infected, silent, absent).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "checks/antivirus/clamd_client.hpp"
#include "checks/antivirus/clamd_protocol.hpp"
#include "common/async.hpp"

namespace gatehouse::clamd {
namespace {

using namespace std::string_literals;

// The whole request the encoder produces.
std::string encode(std::string_view data, std::size_t chunk_size) {
  InstreamEncoder encoder(data, chunk_size);
  std::string out;
  int pieces = 0;
  while (!encoder.done() && pieces++ < 10000) {
    auto piece = encoder.next();
    out += piece.header;
    out += piece.payload;
  }
  return out;
}

TEST(ClamdProtocol, ChunkLengthIsFourBytesBigEndian) {
  EXPECT_EQ(chunk_length(0), "\0\0\0\0"s);
  EXPECT_EQ(chunk_length(1), "\0\0\0\x01"s);
  EXPECT_EQ(chunk_length(0x01020304), "\x01\x02\x03\x04"s);
  EXPECT_EQ(chunk_length(0xffffffffu), "\xff\xff\xff\xff"s);
}

TEST(ClamdProtocol, RequestIsCommandChunksAndZeroTerminator) {
  EXPECT_EQ(encode("abcdefg", 3), "zINSTREAM\0"s + "\0\0\0\x03" "abc"s + "\0\0\0\x03" "def"s + "\0\0\0\x01" "g"s + "\0\0\0\0"s);
  // Exactly one chunk's worth: no empty chunk before the terminator.
  EXPECT_EQ(encode("abc", 3), "zINSTREAM\0"s + "\0\0\0\x03" "abc"s + "\0\0\0\0"s);
  // No data at all: the command and the terminator.
  EXPECT_EQ(encode("", 3), "zINSTREAM\0\0\0\0\0"s);
}

TEST(ClamdProtocol, LargeDataKeepsEveryByteInOrder) {
  std::string data;
  for (int i = 0; i < 200000; ++i) data += static_cast<char>(i * 7);
  const std::string request = encode(data, default_chunk_size);
  std::string payload;
  std::size_t position = instream_command.size();
  int chunks = 0;
  for (;;) {
    ASSERT_LE(position + 4, request.size());
    const auto* p = reinterpret_cast<const unsigned char*>(request.data() + position);
    const std::size_t length = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
    position += 4;
    if (length == 0) break;
    EXPECT_LE(length, default_chunk_size);
    payload += request.substr(position, length);
    position += length;
    ++chunks;
  }
  EXPECT_EQ(position, request.size());
  EXPECT_EQ(payload, data);
  EXPECT_EQ(chunks, 4);   // 3 × 64 KiB + the rest
}

TEST(ClamdProtocol, RepliesAreCompleteAtTheirNul) {
  EXPECT_FALSE(complete_reply("stream: O"));
  EXPECT_EQ(complete_reply("stream: OK\0"s), "stream: OK");
  EXPECT_EQ(complete_reply("stream: OK\0trailing"s), "stream: OK");
  // Endless text without a NUL ends at the limit (and then parses as an error).
  EXPECT_EQ(complete_reply(std::string(10, 'x'), 10), std::string(10, 'x'));
}

TEST(ClamdProtocol, ParsesCleanInfectedAndErrorReplies) {
  auto clean = parse_reply("stream: OK\0"s);
  EXPECT_EQ(clean.kind, ScanReply::Kind::clean);
  EXPECT_EQ(clean.failure, ScanReply::Failure::none);

  auto infected = parse_reply("stream: Win.Test.EICAR_HDB-1 FOUND");
  EXPECT_EQ(infected.kind, ScanReply::Kind::infected);
  EXPECT_EQ(infected.text, "Win.Test.EICAR_HDB-1");
  EXPECT_EQ(parse_reply("stream: Local.EICAR-Test-File.UNOFFICIAL FOUND\n").text, "Local.EICAR-Test-File.UNOFFICIAL");
  // A request number (IDSESSION) in front is skipped.
  EXPECT_EQ(parse_reply("3: stream: Eicar FOUND").text, "Eicar");

  auto limit = parse_reply("INSTREAM size limit exceeded. ERROR");
  EXPECT_EQ(limit.kind, ScanReply::Kind::error);
  EXPECT_EQ(limit.failure, ScanReply::Failure::scanner);
  EXPECT_EQ(limit.text, "INSTREAM size limit exceeded.");
  EXPECT_EQ(parse_reply("stream: Can't allocate memory ERROR").text, "Can't allocate memory");
}

TEST(ClamdProtocol, AnythingElseIsAnErrorNeverClean) {
  for (std::string reply : {"", "stream: ok", "OK", "stream: FOUND", "UNKNOWN COMMAND", "stream: OK extra", "PONG"}) {
    auto parsed = parse_reply(reply);
    EXPECT_EQ(parsed.kind, ScanReply::Kind::error) << reply;
    EXPECT_FALSE(parsed.text.empty()) << reply;
  }
  // Control characters in a reply never reach logs or SMTP replies.
  auto odd = parse_reply("stream: Bad\r\nName FOUND");
  EXPECT_EQ(odd.kind, ScanReply::Kind::infected);
  EXPECT_EQ(odd.text, "Bad??Name");
}

TEST(ClamdProtocol, ScannerAddresses) {
  auto unix_prefixed = ScannerAddress::parse("unix:/run/clamav/clamd.ctl");
  ASSERT_TRUE(unix_prefixed);
  EXPECT_EQ(unix_prefixed->kind, ScannerAddress::Kind::unix_socket);
  EXPECT_EQ(unix_prefixed->path, "/run/clamav/clamd.ctl");
  auto plain = ScannerAddress::parse("/var/run/clamav/clamd.ctl");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->path, "/var/run/clamav/clamd.ctl");
  auto tcp = ScannerAddress::parse("tcp:127.0.0.1:3310");
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->kind, ScannerAddress::Kind::tcp);
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 3310);
  auto v6 = ScannerAddress::parse("tcp:[::1]:3310");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");

  for (std::string bad : std::initializer_list<std::string>{"", "clamd.ctl", "unix:", "unix:relative/path", "tcp:127.0.0.1", "tcp:127.0.0.1:0",
                          "tcp:127.0.0.1:65536", "tcp:localhost:3310", "tcp:::1:3310", "tcp:[::1]", "/" + std::string(200, 'x')}) {
    EXPECT_FALSE(ScannerAddress::parse(bad)) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// The client against stand-ins on a unix socket.

class ClamdClient : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/gh-clamd-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
    socket_path_ = directory_ + "/clamd.sock";
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  using Protocol = asio::local::stream_protocol;

  // A clamd stand-in that accepts one connection, reads the request up to its terminator and
  // answers `reply` (or nothing, holding the connection open, when `reply` is empty). The request
  // payload it received is kept in `received_`.
  asio::awaitable<void> serve_once(Protocol::acceptor& acceptor, std::string reply) {
    auto [accept_error, socket] = co_await acceptor.async_accept(use_nothrow);
    if (accept_error) co_return;
    std::string command(instream_command.size(), '\0');
    auto [command_error, command_bytes] = co_await asio::async_read(socket, asio::buffer(command), use_nothrow);
    if (command_error || command != instream_command) co_return;
    for (;;) {
      unsigned char length_bytes[4];
      auto [length_error, n] = co_await asio::async_read(socket, asio::buffer(length_bytes), use_nothrow);
      if (length_error) co_return;
      const std::size_t length = (std::size_t{length_bytes[0]} << 24) | (std::size_t{length_bytes[1]} << 16) |
                                 (std::size_t{length_bytes[2]} << 8) | length_bytes[3];
      if (length == 0) break;
      std::string chunk(length, '\0');
      auto [chunk_error, m] = co_await asio::async_read(socket, asio::buffer(chunk), use_nothrow);
      if (chunk_error) co_return;
      received_ += chunk;
    }
    if (reply.empty()) {
      // Never answer: wait until the client gives up and closes.
      char byte;
      co_await socket.async_read_some(asio::buffer(&byte, 1), use_nothrow);
      co_return;
    }
    reply += '\0';
    co_await asio::async_write(socket, asio::buffer(reply), use_nothrow);
  }

  ScanReply scan_with(std::string reply, std::string_view data, std::chrono::milliseconds timeout, bool listen = true) {
    asio::io_context io;
    Protocol::acceptor acceptor(io);
    if (listen) {
      acceptor.open();
      acceptor.bind(Protocol::endpoint(socket_path_));
      acceptor.listen();
      asio::co_spawn(io, serve_once(acceptor, std::move(reply)), asio::detached);
    }
    auto future = asio::co_spawn(io, scan("unix:" + socket_path_, data, timeout, 1000), asio::use_future);
    io.run_for(std::chrono::seconds(10));
    EXPECT_EQ(future.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    return future.get();
  }

  std::string directory_;
  std::string socket_path_;
  std::string received_;
};

TEST_F(ClamdClient, CleanMessageIsSentWholeAndReportedClean) {
  const std::string message = "Subject: hi\r\n\r\n" + std::string(5000, 'a') + "\r\n";
  auto reply = scan_with("stream: OK", message, std::chrono::seconds(5));
  EXPECT_EQ(reply.kind, ScanReply::Kind::clean) << reply.text;
  EXPECT_EQ(received_, message);
}

TEST_F(ClamdClient, InfectedReplyNamesTheSignature) {
  auto reply = scan_with("stream: Eicar-Signature FOUND", "X5O!P%@AP", std::chrono::seconds(5));
  EXPECT_EQ(reply.kind, ScanReply::Kind::infected);
  EXPECT_EQ(reply.text, "Eicar-Signature");
}

TEST_F(ClamdClient, ScannerErrorIsAnError) {
  auto reply = scan_with("INSTREAM size limit exceeded. ERROR", "data", std::chrono::seconds(5));
  EXPECT_EQ(reply.kind, ScanReply::Kind::error);
  EXPECT_EQ(reply.failure, ScanReply::Failure::scanner);
}

TEST_F(ClamdClient, SilentScannerTimesOutWithinTheBudget) {
  const auto started = std::chrono::steady_clock::now();
  auto reply = scan_with("", "data", std::chrono::milliseconds(300));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(reply.kind, ScanReply::Kind::error);
  EXPECT_EQ(reply.failure, ScanReply::Failure::timeout);
  EXPECT_NE(reply.text.find("within 300ms"), std::string::npos) << reply.text;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST_F(ClamdClient, NothingListeningIsUnreachable) {
  auto reply = scan_with("", "data", std::chrono::seconds(5), false);
  EXPECT_EQ(reply.kind, ScanReply::Kind::error);
  EXPECT_EQ(reply.failure, ScanReply::Failure::unreachable);
  EXPECT_NE(reply.text.find(socket_path_), std::string::npos) << reply.text;
}

TEST(ClamdClientAddress, BadAddressIsAnErrorNotAnException) {
  asio::io_context io;
  auto future = asio::co_spawn(io, scan("tcp:nowhere", "data", std::chrono::seconds(1)), asio::use_future);
  io.run_for(std::chrono::seconds(5));
  auto reply = future.get();
  EXPECT_EQ(reply.kind, ScanReply::Kind::error);
  EXPECT_EQ(reply.failure, ScanReply::Failure::address);
}

}  // namespace
}  // namespace gatehouse::clamd
