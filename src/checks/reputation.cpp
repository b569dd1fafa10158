// Dynamic reputation (engine/reputation.hpp): a client IP that hit a spam trap carries a bad mark
// for [traps] bad_mark, which raises the score of its other mail; one blocked for harvesting is
// refused until the block ends.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "checks/builtin.hpp"
#include "engine/reputation.hpp"

namespace gatehouse::checks {
namespace {

class ReputationCheck final : public Check {
 public:
  std::string_view name() const override { return "reputation"; }
  Stage stage() const override { return Stage::connect; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.reputation) co_return outcome;
    const auto& settings = context.policy->check("reputation");
    if (auto block = context.reputation->blocked(context.client_ip)) {
      outcome.add(settings, "blocked", fmt::format("{} {}", context.client_ip, block->reason));
    } else if (auto mark = context.reputation->marked(context.client_ip)) {
      outcome.add(settings, "marked", fmt::format("{} {}", context.client_ip, mark->reason));
    }
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_reputation_check() { return std::make_unique<ReputationCheck>(); }

}  // namespace gatehouse::checks
