// read_some_within (common/async.hpp): a read with a deadline that never drops bytes, even when they
// arrive just as the deadline passes. (A plain `read || timer` would discard a read that completes
// second; on one thread Asio's reactor happens to complete a ready read before a due timer, so this
// test states the property rather than reproducing that race.)
#include "common/async.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <thread>

namespace gatehouse {
namespace {

using namespace std::chrono_literals;
using Socket = asio::local::stream_protocol::socket;

TEST(ReadSomeWithin, TimesOutWithNothingAndReadsWhatIsThere) {
  asio::io_context io;
  Socket reader(io), writer(io);
  asio::local::connect_pair(reader, writer);
  char buffer[16];
  auto first = asio::co_spawn(io, read_some_within(reader, asio::buffer(buffer), 30ms), asio::use_future);
  io.run();
  EXPECT_FALSE(first.get().has_value());
  asio::write(writer, asio::buffer(std::string("abc")));
  io.restart();
  auto second = asio::co_spawn(io, read_some_within(reader, asio::buffer(buffer), 1s), asio::use_future);
  io.run();
  auto result = second.get();
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(std::get<0>(*result));
  EXPECT_EQ(std::string(buffer, std::get<1>(*result)), "abc");
}

TEST(ReadSomeWithin, NoByteLostWhenDeadlinesKeepExpiringDuringWrites) {
  // A writer sends bytes one by one while the reader's deadlines are tiny, so reads and timers
  // finish together again and again. Every byte must arrive, in order.
  asio::io_context io;
  Socket reader(io), writer(io);
  asio::local::connect_pair(reader, writer);
  constexpr int count = 3000;
  std::thread sender([&writer] {
    for (int i = 0; i < count; ++i) {
      char byte = static_cast<char>('a' + i % 26);
      asio::write(writer, asio::buffer(&byte, 1));
      if (i % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(20 + i % 50));
    }
  });
  std::string received;
  auto done = asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    char buffer[64];
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (received.size() < count && std::chrono::steady_clock::now() < give_up) {
      auto read = co_await read_some_within(reader, asio::buffer(buffer), std::chrono::microseconds(30));
      if (read && !std::get<0>(*read)) received.append(buffer, std::get<1>(*read));
    }
  }, asio::use_future);
  io.run();
  done.get();
  sender.join();
  ASSERT_EQ(received.size(), static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) ASSERT_EQ(received[i], static_cast<char>('a' + i % 26)) << "at " << i;
}

}  // namespace
}  // namespace gatehouse
