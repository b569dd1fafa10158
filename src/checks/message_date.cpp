// The Date check (RFC 5322 §3.3, §3.6.1): a Date field that cannot be read, that lies far in the
// future or the past, or whose time zone is missing or one no place on Earth has. Bulk senders stamp
// wrong dates (a stale template, a clock set to push the message to the top of a mailbox, a zone
// made up by a mass mailer: "-1900"); mail clients with a wrong clock exist too, so these only score.
#include <cctype>
#include <chrono>
#include <fmt/format.h>

#include "checks/builtin.hpp"
#include "common/text.hpp"
#include "content/headers.hpp"

namespace gatehouse::checks {
namespace {

constexpr auto allowed_future = std::chrono::hours(24);       // time zones mislabelled, clock skew
constexpr auto allowed_past = std::chrono::hours(24 * 30);    // delayed, resent, queued for long

// What a Date field says about its zone (RFC 5322 §3.3: zone = ("+" / "-") 4DIGIT, or one of the
// obsolete names of §4.3).
enum class Zone { valid, absurd, missing };

// Real UTC offsets run from -12:00 to +14:00 in whole, half and three-quarter hours (the tz
// database); an offset of 19 hours or of 37 minutes was made up.
bool real_offset(int hours, int minutes) {
  return hours <= 14 && (minutes == 0 || minutes == 15 || minutes == 30 || minutes == 45);
}

Zone zone_of(std::string_view date) {
  // Comments ("(PDT)") follow the zone: cut them off, then read the last word.
  if (auto comment = date.find('('); comment != std::string_view::npos) date = date.substr(0, comment);
  while (!date.empty() && std::isspace(static_cast<unsigned char>(date.back()))) date.remove_suffix(1);
  const auto space = date.find_last_of(" \t");
  const std::string_view last = space == std::string_view::npos ? date : date.substr(space + 1);
  if (last.size() == 5 && (last[0] == '+' || last[0] == '-') &&
      std::all_of(last.begin() + 1, last.end(), [](unsigned char c) { return std::isdigit(c); })) {
    const int hours = (last[1] - '0') * 10 + (last[2] - '0');
    const int minutes = (last[3] - '0') * 10 + (last[4] - '0');
    return real_offset(hours, minutes) ? Zone::valid : Zone::absurd;
  }
  // obs-zone (§4.3): UT, GMT, the North American names and the military letters.
  static constexpr std::string_view names[] = {"ut", "gmt", "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt"};
  const std::string lower = to_lower_ascii(last);
  if (std::find(std::begin(names), std::end(names), lower) != std::end(names)) return Zone::valid;
  if (lower.size() == 1 && std::isalpha(static_cast<unsigned char>(lower[0])) && lower != "j") return Zone::valid;
  return Zone::missing;
}

class MessageDateCheck final : public Check {
 public:
  std::string_view name() const override { return "message_date"; }
  Stage stage() const override { return Stage::data; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.headers) co_return outcome;
    auto date = context.headers->first("Date");
    if (!date) co_return outcome;   // header_structure scores a missing Date
    const CheckPolicy& policy = context.policy->check(name());
    const auto parsed = content::date_field_time(*date);
    if (!parsed) {
      outcome.add(policy, "invalid", fmt::format("unreadable Date: {}", date->substr(0, 80)));
      co_return outcome;
    }
    switch (zone_of(*date)) {
      case Zone::absurd: outcome.add(policy, "bad_zone", fmt::format("no place has the time zone of Date: {}", date->substr(0, 80))); break;
      case Zone::missing: outcome.add(policy, "no_zone", fmt::format("no time zone in Date: {}", date->substr(0, 80))); break;
      case Zone::valid: break;
    }
    const auto when = *parsed;
    const auto now = context.arrival == std::chrono::system_clock::time_point{} ? std::chrono::system_clock::now()
                                                                                 : context.arrival;
    const auto hours = [](auto duration) { return std::chrono::duration_cast<std::chrono::hours>(duration).count(); };
    if (when > now + allowed_future) outcome.add(policy, "future", fmt::format("Date {} hours ahead", hours(when - now)));
    else if (when < now - allowed_past) outcome.add(policy, "past", fmt::format("Date {} days old", hours(now - when) / 24));
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_message_date_check() { return std::make_unique<MessageDateCheck>(); }

}  // namespace gatehouse::checks
