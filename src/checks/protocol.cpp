// Protocol abuse seen by the network layer: an early talker (sent before our banner, RFC 5321
// §4.3.1 says the client waits for the greeting), pipelining without it being offered (RFC 2920
// §3.1: only after EHLO advertised PIPELINING) and many protocol errors.
#include <fmt/format.h>

#include "checks/builtin.hpp"

namespace gatehouse::checks {
namespace {

class ProtocolCheck final : public Check {
 public:
  std::string_view name() const override { return "protocol"; }
  Stage stage() const override { return Stage::helo; }
  int cost() const override { return 0; }
  int reject_code() const override { return 550; }
  std::string_view reject_enhanced() const override { return "5.5.1"; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.connection) co_return outcome;
    const auto& state = *context.connection;
    const auto& settings = context.policy->check("protocol");
    if (state.early_talker) outcome.add(settings, "early_talker", "sent data before the greeting");
    if (state.unoffered_pipelining) outcome.add(settings, "unoffered_pipelining", "pipelined commands without PIPELINING");
    if (state.errors >= 3) outcome.add(settings, "many_errors", fmt::format("{} protocol errors", state.errors));
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_protocol_check() { return std::make_unique<ProtocolCheck>(); }

}  // namespace gatehouse::checks
