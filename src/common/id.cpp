// Transaction IDs: see id.hpp.
#include "common/id.hpp"

#include <atomic>
#include <random>

namespace gatehouse {
namespace {
constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford base32
constexpr int kTimeChars = 10;                                     // 50 bits >= 48 bits of ms
constexpr int kRandomChars = 4;                                    // 20 bits

int decode_char(char c) {
  for (int i = 0; i < 32; ++i)
    if (kAlphabet[i] == c || (c >= 'a' && c <= 'z' && kAlphabet[i] == c - 'a' + 'A')) return i;
  return -1;
}
}  // namespace

std::string transaction_id_at(std::chrono::system_clock::time_point when, std::uint32_t random_bits) {
  std::uint64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  std::string id(kTimeChars + kRandomChars, '0');
  for (int i = kTimeChars - 1; i >= 0; --i) {
    id[i] = kAlphabet[ms & 31];
    ms >>= 5;
  }
  for (int i = kTimeChars + kRandomChars - 1; i >= kTimeChars; --i) {
    id[i] = kAlphabet[random_bits & 31];
    random_bits >>= 5;
  }
  return id;
}

std::string new_transaction_id() {
  // A per-process random start plus a counter: unique within the process even within one
  // millisecond, and unpredictable enough across processes.
  static std::atomic<std::uint32_t> counter{std::random_device{}()};
  return transaction_id_at(std::chrono::system_clock::now(), counter.fetch_add(1, std::memory_order_relaxed));
}

std::optional<std::chrono::system_clock::time_point> transaction_id_time(std::string_view id) {
  if (!is_transaction_id(id)) return std::nullopt;
  std::uint64_t ms = 0;
  for (int i = 0; i < kTimeChars; ++i) ms = (ms << 5) | static_cast<std::uint64_t>(decode_char(id[i]));
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

bool is_transaction_id(std::string_view text) {
  if (text.size() != kTimeChars + kRandomChars) return false;
  for (char c : text)
    if (decode_char(c) < 0) return false;
  return true;
}

}  // namespace gatehouse
