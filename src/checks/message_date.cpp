// The Date check (RFC 5322 §3.3, §3.6.1): a Date field that cannot be read, or that lies far in the
// future or the past. Bulk senders stamp wrong dates (a stale template, a clock set to push the
// message to the top of a mailbox); mail clients with a wrong clock exist too, so these only score.
#include <gmime/gmime.h>

#include <chrono>
#include <fmt/format.h>

#include "checks/builtin.hpp"

namespace gatehouse::checks {
namespace {

constexpr auto allowed_future = std::chrono::hours(24);       // time zones mislabelled, clock skew
constexpr auto allowed_past = std::chrono::hours(24 * 30);    // delayed, resent, queued for long

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
    GDateTime* parsed = g_mime_utils_header_decode_date(date->c_str());
    if (!parsed) {
      outcome.add(policy, "invalid", fmt::format("unreadable Date: {}", date->substr(0, 80)));
      co_return outcome;
    }
    const auto when = std::chrono::system_clock::from_time_t(g_date_time_to_unix(parsed));
    g_date_time_unref(parsed);
    const auto now = std::chrono::system_clock::now();
    const auto hours = [](auto duration) { return std::chrono::duration_cast<std::chrono::hours>(duration).count(); };
    if (when > now + allowed_future) outcome.add(policy, "future", fmt::format("Date {} hours ahead", hours(when - now)));
    else if (when < now - allowed_past) outcome.add(policy, "past", fmt::format("Date {} days old", hours(now - when) / 24));
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_message_date_check() { return std::make_unique<MessageDateCheck>(); }

}  // namespace gatehouse::checks
