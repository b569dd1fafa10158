// Small helpers for Asio C++20 coroutines: a completion token that returns errors as values
// instead of throwing, and a watchdog that cancels an operation when its deadline passes.
#pragma once
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>

namespace gatehouse {

namespace asio = boost::asio;
using boost::system::error_code;

// co_await op(..., use_nothrow) yields std::tuple<error_code, ...>.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// Cancels whatever `on_expire` cancels when armed and not disarmed in time. Must live on the
// same strand as the operations it guards.
class Watchdog {
 public:
  Watchdog(asio::any_io_executor executor, std::function<void()> on_expire)
      : timer_(executor), on_expire_(std::move(on_expire)) {}
  void arm(std::chrono::steady_clock::duration timeout) {
    expired_ = false;
    timer_.expires_after(timeout);
    timer_.async_wait([this](error_code ec) {
      if (ec) return;
      expired_ = true;
      on_expire_();
    });
  }
  void disarm() { timer_.cancel(); }
  bool expired() const { return expired_; }

 private:
  asio::steady_timer timer_;
  std::function<void()> on_expire_;
  bool expired_ = false;
};

}  // namespace gatehouse
