// Who the message says it is from and to (RFC 5322 §3.6.2, §3.6.3) against the envelope (RFC 5321
// §3.3): a header From in another organisation than the envelope sender (score only — mailing lists,
// newsletters and forwarders do it all the time), a display name that shows an address other than
// the real one ("service@bank.example" <x@elsewhere.test>), undisclosed recipients, and a To
// address made up to look like them (<Undisclosed.Recipients@example.test>: RFC 5322 §A.1.3 writes
// hidden recipients as an empty group, "undisclosed-recipients:;", which mail programs do; only
// mass mailers invent a mailbox of that name).
#include <fmt/format.h>

#include "checks/builtin.hpp"
#include "common/organizational_domain.hpp"
#include "content/analysis.hpp"
#include "common/text.hpp"

namespace gatehouse::checks {
namespace {

// An address-looking word in a display name: "PayPal Service <service@paypal.com>" has none,
// "service@paypal.com" <x@evil.test> has one.
std::string address_in_name(std::string_view name) {
  const auto at = name.find('@');
  if (at == std::string_view::npos || at == 0) return {};
  auto is_address_char = [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '+'; };
  std::size_t start = at, end = at + 1;
  while (start > 0 && is_address_char(static_cast<unsigned char>(name[start - 1]))) --start;
  while (end < name.size() && is_address_char(static_cast<unsigned char>(name[end]))) ++end;
  if (start == at || end == at + 1) return {};
  std::string found = to_lower_ascii(name.substr(start, end - start));
  return found.find('.', found.find('@')) == std::string::npos ? std::string() : found;
}

// A mailbox whose local part says "undisclosed" (Undisclosed.Recipients@, undisclosed-list@).
bool undisclosed_mailbox(std::string_view address) {
  const auto at = address.rfind('@');
  if (at == std::string_view::npos) return false;
  return to_lower_ascii(address.substr(0, at)).find("undisclosed") != std::string::npos;
}

class HeaderAddressesCheck final : public Check {
 public:
  std::string_view name() const override { return "header_addresses"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.content) co_return outcome;
    const auto& mime = context.content->mime;
    const CheckPolicy& policy = context.policy->check(name());
    if (!mime.from.empty()) {
      const auto& from = mime.from.front();
      const std::string header_domain = domain_of_address(from.address);
      const std::string envelope_domain = domain_of_address(context.mail_from);
      if (!envelope_domain.empty() && !header_domain.empty() &&
          organizational_domain(envelope_domain) != organizational_domain(header_domain))
        outcome.add(policy, "from_mismatch", fmt::format("envelope {} vs From {}", envelope_domain, header_domain));
      if (const std::string shown = address_in_name(from.name); !shown.empty() && shown != to_lower_ascii(from.address))
        outcome.add(policy, "display_name_address", fmt::format("From shows {} but is {}", shown, from.address));
    }
    if (mime.undisclosed_recipients) outcome.add(policy, "undisclosed_recipients", "no recipient in To or Cc");
    for (const auto* list : {&mime.to, &mime.cc}) {
      auto fake = std::find_if(list->begin(), list->end(), [](const auto& m) { return undisclosed_mailbox(m.address); });
      if (fake != list->end()) {
        outcome.add(policy, "fake_undisclosed", fmt::format("a mailbox named like hidden recipients: {}", fake->address));
        break;
      }
    }
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_header_addresses_check() { return std::make_unique<HeaderAddressesCheck>(); }

}  // namespace gatehouse::checks
