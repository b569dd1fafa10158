// The one reader of times in queries (common/time_text.hpp), shared by the command line and the API.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "common/time_text.hpp"

namespace gatehouse {
namespace {

using namespace std::chrono;

sys_seconds at(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

TEST(TimeText, Rfc3339WithZoneAndFraction) {
  auto t = parse_time_text("2026-11-23T10:14:05.250+01:00", {UnzonedTime::utc, false});
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(*t, at(2026, 11, 23, 9, 14, 5) + milliseconds(250));
  EXPECT_EQ(*parse_time_text("2026-11-23T10:14Z"), at(2026, 11, 23, 10, 14, 0));
  EXPECT_EQ(*parse_time_text("2026-11-23", {UnzonedTime::utc, false}), at(2026, 11, 23, 0, 0, 0));
}

TEST(TimeText, UnzonedIsUtcOrLocalAsAsked) {
  ::setenv("TZ", "America/New_York", 1);
  ::tzset();
  auto utc = parse_time_text("2026-11-23T10:00", {UnzonedTime::utc, false});
  auto local = parse_time_text("2026-11-23T10:00", {UnzonedTime::local, false});
  ::unsetenv("TZ");
  ::tzset();
  ASSERT_TRUE(utc && local);
  EXPECT_EQ(*local - *utc, hours(5));   // New York is UTC-5 in November
}

TEST(TimeText, RelativeNowAndEpochMilliseconds) {
  const auto before = system_clock::now();
  auto two_hours = parse_time_text("-2h");
  ASSERT_TRUE(two_hours);
  EXPECT_LE(*two_hours, before - hours(2) + seconds(5));
  EXPECT_GE(*two_hours, before - hours(2) - seconds(5));
  EXPECT_TRUE(parse_time_text("7d"));
  EXPECT_TRUE(parse_time_text("now"));
  EXPECT_FALSE(parse_time_text("1700000000000"));   // a bare number only where the caller allows it
  auto epoch = parse_time_text("1700000000000", {UnzonedTime::utc, true});
  ASSERT_TRUE(epoch);
  EXPECT_EQ(duration_cast<milliseconds>(epoch->time_since_epoch()).count(), 1700000000000);
}

TEST(TimeText, BadInputSaysWhatWouldDo) {
  for (const char* text : {"yesterday", "2026-13-01", "2026-11-23T25:00", "-2y", ""}) {
    auto t = parse_time_text(text);
    ASSERT_FALSE(t) << text;
    EXPECT_NE(t.error().message.find("2026-11-23T10:14"), std::string::npos) << t.error().message;
  }
}

}  // namespace
}  // namespace gatehouse
