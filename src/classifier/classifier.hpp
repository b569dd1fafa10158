// The adaptive classifier's statistics: per-feature spam and ham counts learned from messages, and
// the spam probability of a new message from them. Each feature's probability is Robinson's f(w)
// (a Bayesian estimate pulled towards 0.5 when a feature was seen rarely); the most telling
// features are combined with Fisher's chi-square method (Robinson 2003, as SpamBayes does), which
// gives two independent tests — "is this spam-like", "is this ham-like" — and reports their
// balance, so that a message with strong evidence both ways lands near 0.5 (unsure) instead of
// at an extreme. See docs/content.md ("Classifier").
#pragma once
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "classifier/tokenizer.hpp"

namespace gatehouse::classifier {

struct TokenCounts {
  std::uint32_t spam = 0;             // learned spam messages that had the feature
  std::uint32_t ham = 0;
  std::int32_t last_seen_day = 0;     // days since the Unix epoch of the last learned message with it
};

struct Totals {
  std::uint64_t spam = 0;             // spam messages learned
  std::uint64_t ham = 0;
};

// One change of the counts: a message learned (+1) or forgotten (-1) as spam and/or ham.
struct CountChange {
  std::vector<std::uint64_t> features;
  int spam = 0;
  int ham = 0;
  std::int32_t day = 0;
};

struct Parameters {
  double unknown_probability = 0.5;   // x in f(w): the probability of a feature never seen
  // s in f(w): how many messages' worth that prior weighs. 0.1, chosen by 5-fold cross-validation on
  // the corpus's training split (bench/weights/classifier_cv.py): against 0.45, 0.2 and 1 it put the
  // most spam above the most spam-like ham, where the reject line has to be.
  double unknown_strength = 0.1;
  double minimum_strength = 0.1;      // features with |f(w) - 0.5| below this are ignored
  std::size_t max_discriminators = 150;   // the most telling features used per message
};

// The learned counts in memory, shared by the SMTP sessions (readers) and the learner (writer).
class Model {
 public:
  using Table = std::unordered_map<std::uint64_t, TokenCounts>;

  void replace(Table table, Totals totals);   // after loading from the store
  void apply(const CountChange& change);       // counts never go below zero
  Totals totals() const;
  std::size_t size() const;
  // Counts of each feature (zero counts when unknown), read under one lock.
  std::vector<TokenCounts> lookup(const std::vector<Feature>& features, Totals& totals) const;

 private:
  mutable std::shared_mutex mutex_;
  Table table_;
  Totals totals_;
};

struct Clue {
  std::string feature;                // readable text
  double probability = 0.5;           // f(w)
  std::uint32_t spam = 0, ham = 0;
};

struct Classification {
  double probability = 0.5;           // spam probability in [0, 1]; 0.5 = no opinion
  double log_ham_tail = 0;            // ln H and ln S of the combining (see combine)
  double log_spam_tail = 0;
  std::vector<Clue> clues;            // the features used, most telling first
  std::size_t features = 0;           // distinct features of the message
};

// Robinson's f(w) for one feature.
double feature_probability(const TokenCounts& counts, const Totals& totals, const Parameters& parameters = {});

// P(chi-square with `degrees` (even) degrees of freedom ≥ x2).
double chi2_survival(double x2, int degrees);

// ln of chi2_survival, exact where chi2_survival underflows to 0.
double log_chi2_survival(double x2, int degrees);

// Fisher/Robinson combining of feature probabilities: (1 + S - H) / 2; when both tests are far in
// their tails, the balance ln S / (ln H + ln S).
double combine(const std::vector<double>& probabilities);

Classification classify(const Model& model, const std::vector<Feature>& features, const Parameters& parameters = {});

// Days since the Unix epoch, for TokenCounts::last_seen_day.
std::int32_t today();

}  // namespace gatehouse::classifier
