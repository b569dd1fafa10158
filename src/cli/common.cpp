// Helpers shared by the subcommands: configuration loading with readable errors, time parsing
// and formatting for --since/--until and tables.
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <regex>

#include "cli/commands.hpp"

namespace gatehouse::cli {

std::string default_config_path() {
  if (const char* env = std::getenv("GATEHOUSE_CONFIG"); env && *env) return env;
  if (std::filesystem::exists("etc/gatehouse.toml")) return "etc/gatehouse.toml";
  return "/etc/gatehouse/gatehouse.toml";
}

std::optional<Config> load_or_report(const std::string& path) {
  auto config = load_config(path);
  if (!config) {
    std::cerr << "gatehouse: configuration error:\n" << config.error().message << "\n";
    return std::nullopt;
  }
  return std::move(*config);
}

Result<std::chrono::system_clock::time_point> parse_time(const std::string& text) {
  using namespace std::chrono;
  auto now = system_clock::now();
  if (text == "now") return now;
  static const std::regex relative(R"(^-?(\d+)\s*([smhdw])$)");
  std::smatch m;
  if (std::regex_match(text, m, relative)) {
    long long n = std::stoll(m[1]);
    char unit = m[2].str()[0];
    seconds amount = unit == 's' ? seconds(n) : unit == 'm' ? minutes(n) : unit == 'h' ? hours(n)
                   : unit == 'd' ? hours(24 * n) : hours(24 * 7 * n);
    return now - amount;
  }
  static const std::regex absolute(
      R"(^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$)");
  if (!std::regex_match(text, m, absolute))
    return Error{fmt::format("cannot read the time \"{}\": use 2026-11-23T10:14[:00][Z|+01:00], 2026-11-23, now, or -2h/-30m/-7d",
                             text)};
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = m[4].matched ? std::stoi(m[4]) : 0;
  tm.tm_min = m[5].matched ? std::stoi(m[5]) : 0;
  tm.tm_sec = m[6].matched ? std::stoi(m[6]) : 0;
  std::time_t t;
  if (m[7].matched) {
    t = timegm(&tm);
    std::string zone = m[7];
    if (zone != "Z") {
      int sign = zone[0] == '-' ? -1 : 1;
      std::string digits;
      for (char c : zone.substr(1))
        if (c != ':') digits += c;
      int offset = std::stoi(digits.substr(0, 2)) * 3600 + std::stoi(digits.substr(2, 2)) * 60;
      t -= sign * offset;
    }
  } else {
    tm.tm_isdst = -1;
    t = std::mktime(&tm);  // the viewer's local time zone
  }
  return system_clock::from_time_t(t);
}

std::string format_time(std::chrono::system_clock::time_point when) {
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

}  // namespace gatehouse::cli
