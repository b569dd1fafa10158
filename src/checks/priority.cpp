// The priority check: a message that marks itself urgent — X-Priority 1 or 2 (the field Outlook,
// Eudora and most mail programs write; 1 is "Highest"), X-MSMail-Priority High, Importance high or
// Priority urgent (RFC 2156 §5.3, the X.400 mapping fields). People mark a message urgent for a
// colleague now and then; bulk mailers mark every one, to be opened first. On the training split:
// 1 ham against 67 spam. Scores only.
#include <fmt/format.h>

#include "checks/builtin.hpp"
#include "common/text.hpp"

namespace gatehouse::checks {
namespace {

// The field and value that mark the message urgent, or "" when none does.
std::string urgent_mark(const content::HeaderSection& headers) {
  if (auto value = headers.first("X-Priority")) {
    const auto text = trim_ascii_whitespace(*value);
    if (!text.empty() && (text[0] == '1' || text[0] == '2') && (text.size() == 1 || !(text[1] >= '0' && text[1] <= '9')))
      return "X-Priority: " + std::string(text.substr(0, 40));
  }
  const std::pair<std::string_view, std::string_view> named[] = {
      {"X-MSMail-Priority", "high"}, {"Importance", "high"}, {"Priority", "urgent"}};
  for (const auto& [field, urgent] : named) {
    if (auto value = headers.first(field); value && to_lower_ascii(trim_ascii_whitespace(*value)) == urgent)
      return fmt::format("{}: {}", field, trim_ascii_whitespace(*value));
  }
  return {};
}

class PriorityCheck final : public Check {
 public:
  std::string_view name() const override { return "priority"; }
  Stage stage() const override { return Stage::data; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.headers) co_return outcome;
    if (const std::string mark = urgent_mark(*context.headers); !mark.empty())
      outcome.add(context.policy->check(name()), "high", fmt::format("marked urgent: {}", mark));
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_priority_check() { return std::make_unique<PriorityCheck>(); }

}  // namespace gatehouse::checks
