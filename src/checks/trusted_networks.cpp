// Trusted networks ([server] trusted_networks): clients there are our own (they may relay), so the
// sender checks do not judge them; their mail is accepted without scoring (antivirus still runs).
#include "checks/builtin.hpp"

namespace gatehouse::checks {
namespace {

class TrustedNetworksCheck final : public Check {
 public:
  std::string_view name() const override { return "trusted_networks"; }
  Stage stage() const override { return Stage::connect; }
  int cost() const override { return 0; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    const bool trusted = (context.connection && context.connection->trusted) ||
                         in_networks(context.config->trusted_networks, context.client_ip);
    if (trusted) outcome.add(context.policy->check("trusted_networks"), "trusted", context.client_ip);
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_trusted_networks_check() { return std::make_unique<TrustedNetworksCheck>(); }

}  // namespace gatehouse::checks
