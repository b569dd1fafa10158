// See auth.hpp. Cookies follow RFC 6265 (§4.1 Set-Cookie syntax, §5.4 the Cookie header);
// SameSite is RFC 6265bis. Passwords: libsodium's argon2id (crypto_pwhash_str).
#include "web/auth.hpp"

#include <sodium.h>

#include <fmt/format.h>
#include <mutex>

namespace gatehouse::web {

Status init_crypto() {
  static std::once_flag once;
  static int result = 0;
  std::call_once(once, [] { result = sodium_init(); });
  if (result < 0) return Error{"libsodium cannot be initialised"};
  return Ok{};
}

Result<std::string> hash_password(std::string_view password) {
  if (auto ready = init_crypto(); !ready) return ready.error();
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return Error{"cannot hash the password: out of memory"};
  return std::string(hash);
}

bool verify_password(const std::string& hash, std::string_view password) {
  if (!init_crypto() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

void verify_nothing(std::string_view password) {
  static const std::string dummy = [] {
    auto hash = hash_password("gatehouse: no such user");
    return hash ? *hash : std::string();
  }();
  if (!dummy.empty()) (void)verify_password(dummy, password);
}

bool valid_username(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '-') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string password_problem(std::string_view password) {
  if (password.size() < min_password_length)
    return fmt::format("a password needs at least {} characters", min_password_length);
  if (password.size() > max_password_length)
    return fmt::format("a password may have at most {} characters", max_password_length);
  for (unsigned char c : password)
    if (c < 0x20 || c == 0x7f) return "a password must not contain control characters (a line break?)";
  return {};
}

std::string random_token() {
  (void)init_crypto();
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  char text[sodium_base64_ENCODED_LEN(sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, bytes, sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return text;
}

std::string token_hash(std::string_view token) {
  (void)init_crypto();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(token.data()), token.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

bool equal_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  // cookie-string = cookie-pair *( ";" SP cookie-pair ); lenient about spaces, as §5.4 reads.
  while (!header.empty()) {
    auto end = header.find(';');
    std::string_view pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
    auto equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    if (pair.substr(0, equals) != name) continue;
    std::string_view value = pair.substr(equals + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return std::string(value);
  }
  return std::nullopt;
}

std::string session_cookie(std::string_view value, std::chrono::seconds max_age, bool secure) {
  return fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", session_cookie_name, value,
                     value.empty() ? 0 : max_age.count(), secure ? "; Secure" : "");
}

void LoginLimiter::configure(std::size_t max_failures, std::chrono::seconds window) {
  std::lock_guard lock(mutex_);
  max_failures_ = max_failures;
  window_ = window;
}

void LoginLimiter::forget_old(Failures& failures, Clock::time_point now) {
  for (auto it = failures.begin(); it != failures.end();) {
    auto& times = it->second;
    while (!times.empty() && times.front() + window_ <= now) times.pop_front();
    it = times.empty() ? failures.erase(it) : std::next(it);
  }
}

std::optional<std::chrono::seconds> LoginLimiter::wait_for(Failures& failures, const std::string& key,
                                                           Clock::time_point now) {
  auto it = failures.find(key);
  if (it == failures.end()) return std::nullopt;
  auto& times = it->second;
  while (!times.empty() && times.front() + window_ <= now) times.pop_front();
  if (times.size() < max_failures_) return std::nullopt;
  // Free again when enough of the oldest failures have left the window.
  auto free_at = times[times.size() - max_failures_] + window_;
  auto wait = std::chrono::duration_cast<std::chrono::seconds>(free_at - now + std::chrono::milliseconds(999));
  return std::max(wait, std::chrono::seconds(1));
}

std::optional<std::chrono::seconds> LoginLimiter::blocked(const std::string& ip, const std::string& user,
                                                          Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (max_failures_ == 0) return std::nullopt;
  auto by_ip = wait_for(by_ip_, ip, now);
  auto by_user = wait_for(by_user_, user, now);
  if (by_ip && by_user) return std::max(*by_ip, *by_user);
  return by_ip ? by_ip : by_user;
}

void LoginLimiter::failed(const std::string& ip, const std::string& user, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  // Bounded: whoever tries many names or addresses makes old entries go sooner, never more memory.
  constexpr std::size_t max_keys = 10000;
  for (Failures* failures : {&by_ip_, &by_user_}) {
    if (failures->size() >= max_keys) forget_old(*failures, now);
    if (failures->size() >= max_keys) failures->erase(failures->begin());
  }
  auto remember = [&](Failures& failures, const std::string& key) {
    auto& times = failures[key];
    times.push_back(now);
    while (times.size() > max_failures_) times.pop_front();
  };
  remember(by_ip_, ip);
  remember(by_user_, user);
}

void LoginLimiter::succeeded(const std::string& user) {
  std::lock_guard lock(mutex_);
  by_user_.erase(user);
}

}  // namespace gatehouse::web
