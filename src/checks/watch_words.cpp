// The content black list and watch words ([[watch_words]] and [[domain.watch_words]];
// docs/content.md "Watch words"): the entries of the recipient domain's policy found in the
// message's normalised text (subject and body, content/normalize.hpp, and the text of its images
// when the ocr check read them), each contributing its
// action: a score, or a decision ("reject" with the reply kind watch_words, "tempfail", "accept").
#include <algorithm>

#include "checks/builtin.hpp"
#include "content/analysis.hpp"
#include "content/watch_words.hpp"

namespace gatehouse::checks {
namespace {

class WatchWordsCheck final : public Check {
 public:
  std::string_view name() const override { return "watch_words"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 2; }

  std::pair<double, double> score_range(const Config&, const FilterPolicy& policy) const override {
    double low = 0, high = 0;
    for (const auto& word : policy.watch_words) {
      if (word.action.kind != Action::Kind::score) continue;
      if (word.action.score < 0) low += word.action.score;
      else high += word.action.score;
    }
    return {low, high};
  }

  bool may_decide(const Config&, const FilterPolicy& policy) const override {
    if (policy.check(name()).mandatory) return !policy.watch_words.empty();
    return std::any_of(policy.watch_words.begin(), policy.watch_words.end(), [](const WatchWord& word) { return word.action.decides(); });
  }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    const FilterPolicy& policy = *context.policy;
    if (policy.watch_words.empty() || !context.content) co_return outcome;
    std::shared_ptr<const content::WatchWordMatcher> matcher = policy.watch_word_matcher;
    if (!matcher) {   // a policy built in code rather than loaded (tests): compile it now
      auto compiled = content::WatchWordMatcher::compile(policy.watch_words);
      if (!compiled) {
        outcome.error = compiled.error().message;
        co_return outcome;
      }
      matcher = *compiled;
    }
    std::vector<std::size_t> found = matcher->find(context.content->normalized_text);
    // The text of the message's images, when the ocr check read some.
    if (!context.image_text.empty()) {
      for (std::size_t index : matcher->find(context.image_text))
        if (std::find(found.begin(), found.end(), index) == found.end()) found.push_back(index);
      std::sort(found.begin(), found.end());   // file order
    }
    // Decisions first (a reject wins over an accept found with it), then the scores, in file order.
    auto rank = [&](std::size_t index) {
      switch (policy.watch_words[index].action.kind) {
        case Action::Kind::reject: return 0;
        case Action::Kind::tempfail: return 1;
        case Action::Kind::accept: return 2;
        case Action::Kind::score: break;
      }
      return 3;
    };
    std::stable_sort(found.begin(), found.end(), [&](std::size_t a, std::size_t b) { return rank(a) < rank(b); });
    for (std::size_t index : found) {
      const WatchWord& word = policy.watch_words[index];
      outcome.contributions.push_back({"matched", word.action, word.label()});
    }
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_watch_words_check() { return std::make_unique<WatchWordsCheck>(); }

}  // namespace gatehouse::checks
