// Obfuscated text (docs/content.md "Normalised text and obfuscation"): the tricks the normaliser
// (content/normalize.hpp) undid in the subject and body, counted, as findings. Each finding needs
// enough of its trick that ordinary mail does not show it: a German, Russian or Greek newsletter,
// soft hyphens, emoji sequences, prices, dates and addresses score nothing. The hidden HTML text and
// words split by markup are the html_obfuscation check's (content/html.hpp).
#include <fmt/format.h>

#include "checks/builtin.hpp"
#include "content/analysis.hpp"

namespace gatehouse::checks {
namespace {

// How much of each trick makes a finding.
constexpr std::size_t min_invisible_chars = 3;   // one stray zero-width space can come from an editor
constexpr std::size_t min_mixed_script_words = 1;
constexpr std::size_t min_confusables = 1;
constexpr std::size_t min_leet_words = 2;        // one could be a code or a postcode ("SW1A")
constexpr std::size_t min_spaced_words = 1;      // already four letters or more (five when dotted)

class ObfuscationCheck final : public Check {
 public:
  std::string_view name() const override { return "obfuscation"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.content) co_return outcome;
    const auto& counts = context.content->obfuscation;
    const auto& settings = context.policy->check(name());
    if (counts.invisible_chars >= min_invisible_chars)
      outcome.add(settings, "invisible_chars", fmt::format("{} invisible characters inside words", counts.invisible_chars));
    if (counts.mixed_script_words >= min_mixed_script_words)
      outcome.add(settings, "mixed_scripts", fmt::format("{} words mixing Latin, Cyrillic or Greek letters", counts.mixed_script_words));
    if (counts.confusables >= min_confusables)
      outcome.add(settings, "confusables", fmt::format("{} look-alike or styled letters", counts.confusables));
    if (counts.leet_words >= min_leet_words)
      outcome.add(settings, "leet", fmt::format("{} words with digits or symbols for letters", counts.leet_words));
    if (counts.spaced_words >= min_spaced_words)
      outcome.add(settings, "spaced_letters", fmt::format("{} words spelt out letter by letter", counts.spaced_words));
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_obfuscation_check() { return std::make_unique<ObfuscationCheck>(); }

}  // namespace gatehouse::checks
