// Authentication for the web administration: argon2id password hashes (libsodium's
// crypto_pwhash_str), random session tokens, constant-time comparison, the login rate limiter and
// the session cookie (RFC 6265: HttpOnly, SameSite=Strict, Secure under TLS, Path=/).
#pragma once
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace gatehouse::web {

inline constexpr std::string_view session_cookie_name = "gatehouse_session";
inline constexpr std::size_t min_password_length = 10;
inline constexpr std::size_t max_password_length = 1024;

// sodium_init(), once per process; an error when libsodium cannot start.
Status init_crypto();
// An argon2id hash (OPSLIMIT/MEMLIMIT_INTERACTIVE: 2 passes over 64 MiB) in crypto_pwhash_str's
// self-describing format.
Result<std::string> hash_password(std::string_view password);
bool verify_password(const std::string& hash, std::string_view password);
// Spends the time of one verification, so an unknown user name answers as slowly as a known one.
void verify_nothing(std::string_view password);
// A user name: 1 to 64 of A-Z a-z 0-9 . _ @ -, not starting with '-'.
bool valid_username(std::string_view name);
// Why a new password is not acceptable, or "" when it is.
std::string password_problem(std::string_view password);

// 256 random bits (randombytes_buf), base64url without padding (43 characters).
std::string random_token();
// Hex SHA-256 of a token: what the store keeps of a session cookie.
std::string token_hash(std::string_view token);
// Constant-time equality (sodium_memcmp) of two secrets.
bool equal_secret(std::string_view a, std::string_view b);

// The value of cookie `name` in a Cookie header ("a=1; gatehouse_session=xyz"), RFC 6265 §5.4.
std::optional<std::string> cookie_value(std::string_view header, std::string_view name);
// The Set-Cookie value that sets (or, with an empty value, clears) the session cookie.
std::string session_cookie(std::string_view value, std::chrono::seconds max_age, bool secure);

// Failed logins per client IP and per user name in a sliding window: at `max_failures` within
// `window` either key is refused until its oldest failure leaves the window. In memory; bounded.
class LoginLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  LoginLimiter(std::size_t max_failures, std::chrono::seconds window) : max_failures_(max_failures), window_(window) {}
  void configure(std::size_t max_failures, std::chrono::seconds window);
  // How long to wait (at least 1 s) when the IP or the user is over the limit; nullopt when not.
  std::optional<std::chrono::seconds> blocked(const std::string& ip, const std::string& user, Clock::time_point now);
  void failed(const std::string& ip, const std::string& user, Clock::time_point now);
  // A successful login forgets the user's failures (the IP's stay).
  void succeeded(const std::string& user);

 private:
  using Failures = std::map<std::string, std::deque<Clock::time_point>>;
  std::optional<std::chrono::seconds> wait_for(Failures& failures, const std::string& key, Clock::time_point now);
  void forget_old(Failures& failures, Clock::time_point now);

  std::mutex mutex_;
  std::size_t max_failures_;
  std::chrono::seconds window_;
  Failures by_ip_, by_user_;
};

}  // namespace gatehouse::web
