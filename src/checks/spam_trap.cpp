// Spam traps ([traps] addresses): nobody legitimate writes to them. A message to one is refused,
// and the client IP earns a bad mark for [traps] bad_mark that raises the score of its other mail
// (the reputation check).
#include <algorithm>
#include <fmt/format.h>

#include "checks/builtin.hpp"
#include "engine/reputation.hpp"
#include "smtp/command.hpp"

namespace gatehouse::checks {
namespace {

class SpamTrapCheck final : public Check {
 public:
  std::string_view name() const override { return "spam_trap"; }
  Stage stage() const override { return Stage::rcpt; }
  int cost() const override { return 0; }
  std::string_view reply_kind() const override { return "spam_trap"; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    const auto& traps = context.config->traps.addresses;
    const std::string recipient = smtp::to_lower_ascii(context.recipient);
    if (recipient.empty() || std::find(traps.begin(), traps.end(), recipient) == traps.end()) co_return outcome;
    outcome.add(context.policy->check("spam_trap"), "hit", recipient);
    if (context.reputation)
      context.reputation->mark(context.client_ip, fmt::format("hit spam trap {}", recipient), context.config->traps.bad_mark);
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_spam_trap_check() { return std::make_unique<SpamTrapCheck>(); }

}  // namespace gatehouse::checks
