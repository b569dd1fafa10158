// The adaptive classifier's statistics. See classifier.hpp.
// f(w) = (s·x + n·p(w)) / (s + n) with p(w) = b(w) / (b(w) + g(w)), b and g the feature's share of
// spam and ham messages and n the messages that had it (Robinson, "A statistical approach to the
// spam problem", 2003). Combining: H = C⁻¹(−2 Σ ln f(w), 2N), S = C⁻¹(−2 Σ ln(1 − f(w)), 2N),
// I = (1 + H − S) / 2 with C⁻¹ the chi-square survival function (Fisher's method); when both H and
// S are far in their tails (strong evidence both ways) the balance of ln S against ln H decides.
#include "classifier/classifier.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

namespace gatehouse::classifier {

void Model::replace(Table table, Totals totals) {
  std::unique_lock lock(mutex_);
  table_ = std::move(table);
  totals_ = totals;
}

namespace {
std::uint64_t add_clamped(std::uint64_t value, int delta) {
  if (delta < 0 && value < static_cast<std::uint64_t>(-delta)) return 0;
  return value + delta;
}
}  // namespace

void Model::apply(const CountChange& change) {
  std::unique_lock lock(mutex_);
  totals_.spam = add_clamped(totals_.spam, change.spam);
  totals_.ham = add_clamped(totals_.ham, change.ham);
  for (std::uint64_t feature : change.features) {
    if (change.spam < 0 || change.ham < 0) {
      auto it = table_.find(feature);
      if (it == table_.end()) continue;
      it->second.spam = static_cast<std::uint32_t>(add_clamped(it->second.spam, change.spam));
      it->second.ham = static_cast<std::uint32_t>(add_clamped(it->second.ham, change.ham));
      if (it->second.spam == 0 && it->second.ham == 0) table_.erase(it);
      continue;
    }
    TokenCounts& counts = table_[feature];
    counts.spam += change.spam;
    counts.ham += change.ham;
    counts.last_seen_day = std::max(counts.last_seen_day, change.day);
  }
}

Totals Model::totals() const {
  std::shared_lock lock(mutex_);
  return totals_;
}

std::size_t Model::size() const {
  std::shared_lock lock(mutex_);
  return table_.size();
}

std::vector<TokenCounts> Model::lookup(const std::vector<Feature>& features, Totals& totals) const {
  std::vector<TokenCounts> counts(features.size());
  std::shared_lock lock(mutex_);
  totals = totals_;
  for (std::size_t i = 0; i < features.size(); ++i)
    if (auto it = table_.find(features[i].hash); it != table_.end()) counts[i] = it->second;
  return counts;
}

double feature_probability(const TokenCounts& counts, const Totals& totals, const Parameters& parameters) {
  const double n = static_cast<double>(counts.spam) + counts.ham;
  if (n == 0 || totals.spam == 0 || totals.ham == 0) return parameters.unknown_probability;
  const double spam_ratio = std::min(1.0, static_cast<double>(counts.spam) / totals.spam);
  const double ham_ratio = std::min(1.0, static_cast<double>(counts.ham) / totals.ham);
  const double p = spam_ratio / (spam_ratio + ham_ratio);
  const double s = parameters.unknown_strength;
  return (s * parameters.unknown_probability + n * p) / (s + n);
}

double chi2_survival(double x2, int degrees) {
  // For even degrees of freedom the survival function is a finite sum (Abramowitz & Stegun 26.4.21).
  const double m = x2 / 2.0;
  double term = std::exp(-m);
  double sum = term;
  for (int i = 1; i < degrees / 2; ++i) {
    term *= m / i;
    sum += term;
  }
  return std::min(sum, 1.0);
}

double log_chi2_survival(double x2, int degrees) {
  const double m = x2 / 2.0;
  if (m <= 0) return 0.0;
  // ln(e^{-m} Σ_{i<k} m^i / i!), the sum taken in log space so that it never underflows to 0.
  const double log_m = std::log(m);
  // Term i is ln(m^i / i!), built from term i - 1 (no lgamma per term: a message can use 1000 clues).
  double largest = -m, sum = 0;
  std::vector<double> terms;
  terms.reserve(static_cast<std::size_t>(std::max(degrees / 2, 1)));
  double term = 0.0;
  for (int i = 0; i < std::max(degrees / 2, 1); ++i) {
    if (i > 0) term += log_m - std::log(static_cast<double>(i));
    terms.push_back(term);
    largest = std::max(largest, term);
  }
  for (double term : terms) sum += std::exp(term - largest);
  return std::min(0.0, -m + largest + std::log(sum));
}

namespace {
struct Combined {
  double probability = 0.5;
  double log_ham_tail = 0;    // ln H
  double log_spam_tail = 0;   // ln S
};

Combined combine_tails(const std::vector<double>& probabilities) {
  Combined combined;
  if (probabilities.empty()) return combined;
  double sum_log_f = 0, sum_log_not_f = 0;   // ln Π f(w), ln Π (1 − f(w))
  for (double f : probabilities) {
    f = std::clamp(f, 1e-9, 1 - 1e-9);
    sum_log_f += std::log(f);
    sum_log_not_f += std::log(1.0 - f);
  }
  const int degrees = 2 * static_cast<int>(probabilities.size());
  // H is near 1 when the f(w) are not unusually small (nothing ham-like), S likewise for spam.
  const double log_h = log_chi2_survival(-2.0 * sum_log_f, degrees);
  const double log_s = log_chi2_survival(-2.0 * sum_log_not_f, degrees);
  combined.log_ham_tail = log_h;
  combined.log_spam_tail = log_s;
  const double h = std::exp(log_h), s = std::exp(log_s);
  const double robinson = std::clamp((1.0 + h - s) / 2.0, 0.0, 1.0);
  // Strong evidence both ways (both tests far in their tails) gives Robinson's 0.5 whatever the
  // balance: there, weigh the two tails against each other in log space instead, blended in as
  // both fall below 1 % so that the result stays continuous.
  constexpr double saturated = 0.01;
  const double blend = std::clamp(1.0 - std::max(h, s) / saturated, 0.0, 1.0);
  combined.probability = robinson;
  if (blend == 0.0) return combined;
  const double balance = log_s / (log_h + log_s);   // 1: the spam tail is by far the stronger
  combined.probability = std::clamp(robinson + blend * (balance - 0.5), 0.0, 1.0);
  return combined;
}
}  // namespace

double combine(const std::vector<double>& probabilities) { return combine_tails(probabilities).probability; }

Classification classify(const Model& model, const std::vector<Feature>& features, const Parameters& parameters) {
  Classification result;
  result.features = features.size();
  Totals totals;
  std::vector<TokenCounts> counts = model.lookup(features, totals);
  struct Candidate {
    std::size_t index;
    double probability;
    double strength;
  };
  std::vector<Candidate> candidates;
  for (std::size_t i = 0; i < features.size(); ++i) {
    if (counts[i].spam == 0 && counts[i].ham == 0) continue;
    double f = feature_probability(counts[i], totals, parameters);
    double strength = std::abs(f - 0.5);
    if (strength >= parameters.minimum_strength) candidates.push_back({i, f, strength});
  }
  const std::size_t used = std::min(candidates.size(), parameters.max_discriminators);
  std::partial_sort(candidates.begin(), candidates.begin() + used, candidates.end(), [&](auto& a, auto& b) {
    if (a.strength != b.strength) return a.strength > b.strength;
    return features[a.index].hash < features[b.index].hash;   // deterministic among equals
  });
  std::vector<double> probabilities;
  probabilities.reserve(used);
  for (std::size_t i = 0; i < used; ++i) {
    const auto& candidate = candidates[i];
    probabilities.push_back(candidate.probability);
    result.clues.push_back({features[candidate.index].text, candidate.probability, counts[candidate.index].spam,
                            counts[candidate.index].ham});
  }
  const Combined combined = combine_tails(probabilities);
  result.probability = combined.probability;
  result.log_ham_tail = combined.log_ham_tail;
  result.log_spam_tail = combined.log_spam_tail;
  return result;
}

std::int32_t today() {
  using namespace std::chrono;
  return static_cast<std::int32_t>(duration_cast<days>(system_clock::now().time_since_epoch()).count());
}

}  // namespace gatehouse::classifier
