// Tests of transaction IDs (src/common/id.hpp): 14 characters of Crockford base32, unique, sorting
// by time, the time round trip, and validation of text that is not an ID.
#include "common/id.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <unordered_set>
#include <vector>

namespace gatehouse {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

TEST(TransactionId, FourteenUnambiguousCharacters) {
  for (int i = 0; i < 1000; ++i) {
    std::string id = new_transaction_id();
    ASSERT_EQ(id.size(), 14u) << id;
    for (char c : id) {
      EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) << id;
      EXPECT_EQ(std::string("ILOU").find(c), std::string::npos) << "ambiguous character in " << id;
    }
    EXPECT_TRUE(is_transaction_id(id)) << id;
  }
}

TEST(TransactionId, UniqueOver100kCalls) {
  std::unordered_set<std::string> seen;
  seen.reserve(100000);
  for (int i = 0; i < 100000; ++i) {
    auto id = new_transaction_id();
    ASSERT_TRUE(seen.insert(id).second) << "duplicate " << id << " after " << i << " calls";
  }
}

TEST(TransactionId, SortsByTime) {
  auto t = system_clock::time_point(std::chrono::milliseconds(1767225600000));  // 2026-01-01
  std::vector<std::string> ids;
  // Increasing times, with random parts that would sort the other way round.
  for (int i = 0; i < 200; ++i) ids.push_back(transaction_id_at(t + std::chrono::milliseconds(i * 37 + (i % 3)), 0xfffffu - i));
  for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_LT(ids[i - 1], ids[i]) << i;
  // One millisecond apart is enough, whatever the random part.
  EXPECT_LT(transaction_id_at(t, 0xfffff), transaction_id_at(t + 1ms, 0));
  // Over decades too.
  EXPECT_LT(transaction_id_at(system_clock::time_point(std::chrono::milliseconds(1)), 0),
            transaction_id_at(system_clock::time_point(std::chrono::milliseconds(4102444800000)), 0));
}

TEST(TransactionId, NewIdsFollowTheClock) {
  auto before = system_clock::now();
  auto id = new_transaction_id();
  auto after = system_clock::now();
  auto when = transaction_id_time(id);
  ASSERT_TRUE(when.has_value());
  EXPECT_GE(*when, std::chrono::time_point_cast<std::chrono::milliseconds>(before));
  EXPECT_LE(*when, after);
}

TEST(TransactionId, TimeRoundTrip) {
  for (std::int64_t ms : {std::int64_t{0}, std::int64_t{1}, std::int64_t{1767225600123}, std::int64_t{4102444800999}}) {
    auto t = system_clock::time_point(std::chrono::milliseconds(ms));
    auto id = transaction_id_at(t, 12345);
    auto back = transaction_id_time(id);
    ASSERT_TRUE(back.has_value()) << id;
    EXPECT_EQ(*back, t) << id;
  }
  // Lower case is accepted (an ID read out over the phone and typed in).
  auto id = transaction_id_at(system_clock::time_point(1767225600123ms), 99);
  std::string lower = id;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  EXPECT_EQ(transaction_id_time(lower), transaction_id_time(id));
}

TEST(TransactionId, RandomPartDistinguishesIdsOfOneMillisecond) {
  auto t = system_clock::now();
  EXPECT_NE(transaction_id_at(t, 1), transaction_id_at(t, 2));
  EXPECT_EQ(transaction_id_at(t, 1).substr(0, 10), transaction_id_at(t, 2).substr(0, 10));
}

TEST(TransactionId, RejectsBadInput) {
  std::string good = new_transaction_id();
  EXPECT_TRUE(is_transaction_id(good));
  EXPECT_FALSE(is_transaction_id(""));
  EXPECT_FALSE(is_transaction_id(good.substr(0, 13)));
  EXPECT_FALSE(is_transaction_id(good + "0"));
  for (char bad : {'I', 'L', 'O', 'U', '-', ' ', '.', '/', '\0', '\xc3'}) {
    std::string id = good;
    id[5] = bad;
    EXPECT_FALSE(is_transaction_id(id)) << "with " << int(static_cast<unsigned char>(bad));
    EXPECT_FALSE(transaction_id_time(id).has_value());
  }
  EXPECT_FALSE(is_transaction_id("../../etc/pass"));
  EXPECT_FALSE(transaction_id_time("not an id").has_value());
}

}  // namespace
}  // namespace gatehouse
