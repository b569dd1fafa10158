// The salutation check: a letter that greets nobody in particular — "Dear Friend", "Dear Sir/Madam",
// "Dear Valued Customer", "Dear Beneficiary". People write to someone by name, or to a list by its
// name; a bulk mailer writing to a million addresses cannot, and the greeting that stands in for a
// name is its mark (advance-fee letters, business offers, "winner" notices). Read on the normalised
// text (content/normalize.hpp: case-folded, obfuscation undone), subject and body. Scores only: a
// shop or a bank writing to its customers may greet them so.
#include <re2/re2.h>

#include <fmt/format.h>

#include "checks/builtin.hpp"
#include "content/analysis.hpp"

namespace gatehouse::checks {
namespace {

// "dear" + an optional adjective + a word for "whoever reads this" (the greeting is the one capture
// group). The text is case-folded. Not "Dear Reader" (newsletters) nor "Dear Friends" (a club or a
// list writing to its members): on the training split those were ham as often as spam.
const RE2& generic_greeting() {
  static const RE2 pattern(
      R"((\bdear\s+(?:(?:valued|future|fellow|potential|prospective|new|beloved|respected|esteemed)\s+)?)"
      R"((?:friend|sirs?|madam|sir\s*/\s*madam|sir\s+or\s+madam|customers?|members?|users?|subscribers?|)"
      R"(beneficiary|winner|homeowners?|colleagues?|investors?|webmaster|business\s+owners?|partners?|)"
      R"(account\s+holders?|shoppers?|travell?ers?|applicants?|candidates?|recipients?|consumers?|)"
      R"(entrepreneurs?|one|advertiser|internet\s+user|e-?mail\s+user|student|professional))\b)");
  return pattern;
}

class SalutationCheck final : public Check {
 public:
  std::string_view name() const override { return "salutation"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.content) co_return outcome;
    re2::StringPiece greeting;   // bookworm's RE2 captures into its own StringPiece
    if (RE2::PartialMatch(context.content->normalized_text, generic_greeting(), &greeting))
      outcome.add(context.policy->check(name()), "generic", fmt::format("greets nobody by name: \"{}\"", std::string_view(greeting.data(), greeting.size())));
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_salutation_check() { return std::make_unique<SalutationCheck>(); }

}  // namespace gatehouse::checks
