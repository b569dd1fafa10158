// Times as people and programs write them in a query: `gatehouse log search --since`, `replay`,
// and the web API's from/to. One reader, so that the command line and the API accept the same
// spellings: "now"; relative to now ("-2h", "30m", "-7d", "2w": s, m, h, d, w back in time);
// RFC 3339 ("2026-11-23T10:14:00Z", with an offset, fractional seconds, or no zone) and a bare date
// ("2026-11-23", midnight); and, where the caller allows it, milliseconds since the Unix epoch.
#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace gatehouse {

// How a time written without a zone is read: in UTC (the API: a program sends it) or in the local
// time zone (the command line: a person types it).
enum class UnzonedTime { utc, local };

struct TimeTextOptions {
  UnzonedTime unzoned = UnzonedTime::local;
  bool epoch_milliseconds = false;   // a bare number is milliseconds since the epoch
};

Result<std::chrono::system_clock::time_point> parse_time_text(std::string_view text, TimeTextOptions options = {});

// "2026-11-23 10:14:05" in the local time zone: how the command line and the log's JSON show a time.
std::string format_local_time(std::chrono::system_clock::time_point when);

}  // namespace gatehouse
