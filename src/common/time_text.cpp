// Reading times written in queries. See time_text.hpp.
#include "common/time_text.hpp"

#include <charconv>
#include <ctime>
#include <fmt/format.h>
#include <regex>
#include <string>

namespace gatehouse {

Result<std::chrono::system_clock::time_point> parse_time_text(std::string_view view, TimeTextOptions options) {
  using namespace std::chrono;
  const std::string text(view);
  const auto now = system_clock::now();
  const Error unreadable{fmt::format(
      "cannot read the time \"{}\": use 2026-11-23T10:14[:00][Z|+01:00], 2026-11-23, now, or -2h/-30m/-7d{}", text,
      options.epoch_milliseconds ? ", or milliseconds since 1970" : "")};
  if (text == "now") return now;
  if (options.epoch_milliseconds && !text.empty() && text.size() <= 18 &&
      text.find_first_not_of("0123456789") == std::string::npos) {
    std::int64_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return system_clock::time_point(duration_cast<system_clock::duration>(milliseconds(value)));
  }
  static const std::regex relative(R"(^-?(\d{1,6})\s*([smhdw])$)");
  std::smatch m;
  if (std::regex_match(text, m, relative)) {
    const long long n = std::stoll(m[1]);
    const char unit = m[2].str()[0];
    const seconds amount = unit == 's' ? seconds(n) : unit == 'm' ? minutes(n) : unit == 'h' ? hours(n)
                         : unit == 'd' ? hours(24 * n) : hours(24 * 7 * n);
    return now - amount;
  }
  static const std::regex absolute(
      R"(^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$)");
  if (!std::regex_match(text, m, absolute)) return unreadable;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = m[4].matched ? std::stoi(m[4]) : 0;
  tm.tm_min = m[5].matched ? std::stoi(m[5]) : 0;
  tm.tm_sec = m[6].matched ? std::stoi(m[6]) : 0;
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return unreadable;
  std::time_t t;
  if (m[8].matched) {
    t = timegm(&tm);
    const std::string zone = m[8];
    if (zone != "Z" && zone != "z") {
      const int sign = zone[0] == '-' ? -1 : 1;
      std::string digits;
      for (char c : zone.substr(1))
        if (c != ':') digits += c;
      t -= sign * (std::stoi(digits.substr(0, 2)) * 3600 + std::stoi(digits.substr(2, 2)) * 60);
    }
  } else if (options.unzoned == UnzonedTime::utc) {
    t = timegm(&tm);
  } else {
    tm.tm_isdst = -1;
    t = std::mktime(&tm);
  }
  auto time = system_clock::from_time_t(t);
  if (m[7].matched) {
    const std::string fraction = m[7].str() + "000";
    time += milliseconds(std::stoi(fraction.substr(0, 3)));
  }
  return time;
}

std::string format_local_time(std::chrono::system_clock::time_point when) {
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

}  // namespace gatehouse
