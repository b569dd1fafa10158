// Small helpers for Asio C++20 coroutines: a completion token that returns errors as values
// instead of throwing, and a deadline for any awaitable operation. The deadline races the operation
// against a timer and waits for both to settle, so no operation outlives the coroutine frame that
// started it.
#pragma once
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>

namespace gatehouse {

namespace asio = boost::asio;
using boost::system::error_code;

// co_await op(..., use_nothrow) yields std::tuple<error_code, ...>.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// The result of `operation`, or nullopt if `timeout` passed first (the operation is cancelled).
template <class T>
asio::awaitable<std::optional<T>> with_timeout(asio::awaitable<T> operation, std::chrono::steady_clock::duration timeout) {
  using namespace asio::experimental::awaitable_operators;
  // No co_await inside larger expressions anywhere in this code base: g++ 12 miscompiles some of
  // them (temporaries destroyed twice). Name the result first.
  asio::any_io_executor executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, timeout);
  auto result = co_await (std::move(operation) || timer.async_wait(use_nothrow));
  if (result.index() == 0) co_return std::get<0>(std::move(result));
  co_return std::nullopt;
}

}  // namespace gatehouse
