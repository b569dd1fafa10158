// Transaction IDs: short, unique, sortable by time. 14 characters of Crockford base32 —
// 48 bits of milliseconds since the Unix epoch followed by 22 bits of randomness — so that
// `ORDER BY id` is `ORDER BY time` and a sender can quote it on the phone without ambiguity.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gatehouse {

std::string new_transaction_id();
std::string transaction_id_at(std::chrono::system_clock::time_point when, std::uint32_t random_bits);
// The time encoded in an ID, or nullopt if the text is not an ID.
std::optional<std::chrono::system_clock::time_point> transaction_id_time(std::string_view id);
bool is_transaction_id(std::string_view text);

}  // namespace gatehouse
