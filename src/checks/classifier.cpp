// The `classifier` check: the adaptive classifier's spam probability for the message
// (classifier/classifier.hpp), reported as a probability band — spam_certain, spam_999, spam_99, spam_95,
// spam_80, spam_50, ham_95, ham_99 — whose scores [filter.checks.classifier] sets; between 0.05
// and 0.5 it adds nothing. It stays silent until [classifier] min_learned ham and spam messages
// have been learned. The explanation names the features that weighed most each way.
#include "content/analysis.hpp"
#include <cmath>
#include <fmt/format.h>

#include <optional>

#include "checks/builtin.hpp"
#include "classifier/classifier.hpp"
#include "classifier/tokenizer.hpp"

namespace gatehouse::checks {
namespace {

// Beyond 0.999 the probability saturates; the spam test's own tail still tells a message with a
// little spam evidence from one with overwhelming evidence: below 1e-80, "spam_certain". Measured
// by cross-validation on the corpus's training split (bench/weights/classifier_cv.py): no ham got
// below 1e-64 (p >= 0.5), about 57 % of the spam gets below 1e-80.
constexpr double certain_log10_spam_tail = -80.0;

double log10_spam_tail(const classifier::Classification& result) { return result.log_spam_tail / std::log(10.0); }

// The band of a classification, or "" when it is in none.
std::string_view band_of(const classifier::Classification& result) {
  const double probability = result.probability;
  if (probability >= 0.999 && log10_spam_tail(result) <= certain_log10_spam_tail) return "spam_certain";
  if (probability >= 0.999) return "spam_999";
  if (probability >= 0.99) return "spam_99";
  if (probability >= 0.95) return "spam_95";
  if (probability >= 0.80) return "spam_80";
  if (probability > 0.50) return "spam_50";   // exactly 0.5: no opinion (nothing known)
  if (probability <= 0.01) return "ham_99";
  if (probability <= 0.05) return "ham_95";
  return {};
}

std::string explain(const classifier::Classification& result) {
  std::string spam_like, ham_like;
  std::size_t spam_count = 0, ham_count = 0;
  constexpr std::size_t kShown = 5;
  for (const auto& clue : result.clues) {
    auto& list = clue.probability >= 0.5 ? spam_like : ham_like;
    auto& count = clue.probability >= 0.5 ? spam_count : ham_count;
    if (count == kShown) continue;
    ++count;
    list += fmt::format("{}\"{}\" {:.2f}", list.empty() ? "" : ", ", clue.feature, clue.probability);
  }
  std::string text = fmt::format("probability {:.4f}", result.probability);
  if (result.probability >= 0.999) text += fmt::format(" (spam test tail 1e{:.0f})", log10_spam_tail(result));
  if (!spam_like.empty()) text += "; spam-like: " + spam_like;
  if (!ham_like.empty()) text += "; ham-like: " + ham_like;
  return text;
}

class ClassifierCheck final : public Check {
 public:
  std::string_view name() const override { return "classifier"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 20; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.classifier || !context.config->classifier.enabled) {
      outcome.note = "no learned tokens loaded";
      co_return outcome;
    }
    const auto totals = context.classifier->totals();
    const std::size_t needed = context.config->classifier.min_learned;
    if (totals.spam < needed || totals.ham < needed) {
      outcome.note = fmt::format("not enough training: {} spam and {} ham learned, {} of each needed", totals.spam,
                                 totals.ham, needed);
      co_return outcome;
    }
    std::optional<content::MessageAnalysis> own_analysis;
    const content::MessageAnalysis* analysis = context.content;
    if (!analysis) analysis = &own_analysis.emplace(content::analyse_message(context.message));
    std::optional<content::HeaderSection> own_headers;
    const content::HeaderSection* headers = context.headers;
    if (!headers) headers = &own_headers.emplace(content::parse_headers(context.message));
    auto features = classifier::tokenize(*analysis, *headers, {}, context.image_text);
    if (context.load_classifier_features && !context.image_text.empty()) context.load_classifier_features(features);
    auto result = classifier::classify(*context.classifier, features);
    std::string_view band = band_of(result);
    if (band.empty()) outcome.note = explain(result) + " (unsure)";
    else outcome.add(context.policy->check(name()), std::string(band), explain(result));
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_classifier_check() { return std::make_unique<ClassifierCheck>(); }

}  // namespace gatehouse::checks
