// The `html_obfuscation` check: HTML written to show a reader one text and a filter another.
// Findings: hidden_text (a meaningful amount of text a mail reader would not show: display:none,
// visibility:hidden, opacity:0, tiny fonts, the background's colour; content/html.hpp) and
// split_words (words cut apart by comments, empty or hidden elements or zero-width characters,
// "Vi<!-- -->agra"). A short hidden preheader, as newsletters carry, stays below the threshold.
// Scores only by default; see docs/content.md "HTML and URLs".
#include <fmt/format.h>

#include "checks/builtin.hpp"
#include "content/analysis.hpp"

namespace gatehouse::checks {
namespace {

// Hidden text counts when it is at least this long and at least this share of the visible text.
constexpr std::size_t min_hidden_chars = 200;
constexpr double min_hidden_share = 0.25;
constexpr std::size_t min_split_words = 3;

class HtmlObfuscationCheck final : public Check {
 public:
  std::string_view name() const override { return "html_obfuscation"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 1; }
  std::pair<double, double> score_range(const Config&, const FilterPolicy& policy) const override {
    return action_score_range(policy.check("html_obfuscation"));
  }
  bool may_decide(const Config&, const FilterPolicy& policy) const override {
    return actions_decide(policy.check("html_obfuscation"));
  }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.content || !context.content->html.parsed) co_return outcome;
    const auto& html = context.content->html;
    const CheckPolicy& policy = context.policy->check("html_obfuscation");
    if (html.hidden_chars >= min_hidden_chars &&
        static_cast<double>(html.hidden_chars) >= min_hidden_share * static_cast<double>(html.visible_chars)) {
      std::string sample = html.hidden_text.substr(0, 60);
      while (!sample.empty() && (static_cast<unsigned char>(sample.back()) & 0xC0) == 0x80) sample.pop_back();
      if (!sample.empty() && static_cast<unsigned char>(sample.back()) >= 0xC0) sample.pop_back();
      for (char& c : sample)
        if (c == '\n' || c == '"') c = ' ';
      outcome.add(policy, "hidden_text",
                  fmt::format("{} hidden characters, {} visible: \"{}…\"", html.hidden_chars, html.visible_chars, sample));
    }
    if (html.split_words >= min_split_words)
      outcome.add(policy, "split_words", fmt::format("{} words split by tags, comments or invisible characters", html.split_words));
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_html_obfuscation_check() { return std::make_unique<HtmlObfuscationCheck>(); }

}  // namespace gatehouse::checks
