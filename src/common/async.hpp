// Small helpers for Asio C++20 coroutines: a completion token that returns errors as values
// instead of throwing, a deadline for any awaitable operation, two operations awaited at once, and a read with a deadline that
// never drops bytes. The deadline races the operation
// against a timer and waits for both to settle, so no operation outlives the coroutine frame that
// started it.
#pragma once
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/error.hpp>
#include <tuple>
#include <utility>
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

namespace detail {
template <class T>
asio::awaitable<std::optional<T>> as_optional(asio::awaitable<T> operation) {
  T value = co_await std::move(operation);
  co_return std::optional<T>(std::move(value));
}
}  // namespace detail

// The results of two operations run at the same time, once both are done. Should one throw, the
// other is cancelled and the exception propagates.
template <class A, class B>
asio::awaitable<std::pair<A, B>> both(asio::awaitable<A> first, asio::awaitable<B> second) {
  using namespace asio::experimental::awaitable_operators;
  // Results need not be default-constructible: each travels in an optional.
  auto results = co_await (detail::as_optional(std::move(first)) && detail::as_optional(std::move(second)));
  co_return std::pair<A, B>(std::move(*std::get<0>(results)), std::move(*std::get<1>(results)));
}

// One read_some from `stream`, or nullopt when `timeout` passed first with nothing read. Unlike
// with_timeout(stream.async_read_some(...)), which keeps only the first result, both results are
// looked at: a read that completed with data wins even when the timer completed first.
template <class Stream>
asio::awaitable<std::optional<std::tuple<error_code, std::size_t>>> read_some_within(
    Stream& stream, asio::mutable_buffer buffer, std::chrono::steady_clock::duration timeout) {
  asio::any_io_executor executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, timeout);
  auto group = asio::experimental::make_parallel_group(stream.async_read_some(buffer, asio::deferred),
                                                       timer.async_wait(asio::deferred));
  auto [order, read_error, bytes, timer_error] =
      co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
  (void)order;
  (void)timer_error;
  if (bytes > 0 || read_error != asio::error::operation_aborted) co_return std::tuple{read_error, bytes};
  co_return std::nullopt;
}

}  // namespace gatehouse
