// White and black lists ([lists] and [domain.lists]): client IPs and networks (IPv4 and IPv6),
// sender domains with their subdomains, sender addresses and patterns. A white-listed sender is
// accepted without further scoring (never without the antivirus); the white list wins over the
// black list. The envelope sender (RFC 5321 §4.1.1.2) is what is matched: it can be forged, so
// white-list domains only together with checks that authenticate them, or by IP.
#include "checks/builtin.hpp"

namespace gatehouse::checks {
namespace {

class ListsCheck final : public Check {
 public:
  std::string_view name() const override { return "lists"; }
  Stage stage() const override { return Stage::mail; }
  int cost() const override { return 1; }
  std::string_view reply_kind() const override { return "blacklist"; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    const auto& policy = *context.policy;
    const auto& settings = policy.check("lists");
    if (auto entry = policy.whitelist.match(context.client_ip, context.mail_from); !entry.empty()) {
      outcome.add(settings, "whitelisted", entry);
    } else if (auto listed = policy.blacklist.match(context.client_ip, context.mail_from); !listed.empty()) {
      outcome.add(settings, "blacklisted", listed);
    }
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_lists_check() { return std::make_unique<ListsCheck>(); }

}  // namespace gatehouse::checks
