// The adaptive classifier (src/classifier, src/store/sqlite_token_store.cpp, src/checks/classifier.cpp):
// what the tokenizer extracts and leaves out, the chi-square maths, the token store's round trip,
// idempotent learning and ageing, and a classifier trained on generated mail telling unseen ham
// from unseen spam.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cmath>
#include <filesystem>
#include <random>

#include "checks/builtin.hpp"
#include "classifier/classifier.hpp"
#include "classifier/learner.hpp"
#include "classifier/tokenizer.hpp"
#include "store/token_store.hpp"

namespace gatehouse {
namespace {

using classifier::Feature;

bool has_feature(const std::vector<Feature>& features, std::string_view text) {
  return std::any_of(features.begin(), features.end(), [&](const Feature& f) { return f.text == text; });
}
bool any_feature_contains(const std::vector<Feature>& features, std::string_view part) {
  return std::any_of(features.begin(), features.end(),
                     [&](const Feature& f) { return f.text.find(part) != std::string::npos; });
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

TEST(ClassifierTokenizer, WordsAreLowerCasedAndOddRunsSummarised) {
  auto words = classifier::words_of("Buy CHEAP Viagra!! now... 1234567 it's a-ok " + std::string(45, 'x'));
  EXPECT_EQ(words, (std::vector<std::string>{"buy", "cheap", "viagra!!", "now", "num:7", "it's", "a-ok", "skip:x:40"}));
}

TEST(ClassifierTokenizer, HtmlTextSkipsMarkupScriptsAndDecodesEntities) {
  std::string text = classifier::html_to_text(
      "<html><style>p{color:red}</style><script>var hidden=1;</script><p>Fish &amp; chips&#33;</p><!-- secret --></html>");
  auto words = classifier::words_of(text);
  EXPECT_EQ(words, (std::vector<std::string>{"fish", "chips!"}));
}

TEST(ClassifierTokenizer, UrlHostsDropUserinfoPortAndCase) {
  auto hosts = classifier::url_hosts(
      "see http://user:pw@Promo.Example.COM:8080/x?y and <a href=\"https://shop.example.net/\">x</a> http://promo.example.com/");
  EXPECT_EQ(hosts, (std::vector<std::string>{"promo.example.com", "shop.example.net"}));
}

TEST(ClassifierTokenizer, MessageFeaturesCoverBodySubjectSenderLinksAndLeaveOutTrace) {
  std::string message =
      "Received: from relay.collector.example (relay.collector.example [192.0.2.7]) by mx.collector.example\r\n"
      "Delivered-To: victim@collector.example\r\n"
      "From: \"Deals Team\" <offers@mail.deals.example.co.uk>\r\n"
      "To: victim@collector.example\r\n"
      "Subject: Cheap watches\r\n"
      "Message-ID: <abc@mail.deals.example.co.uk>\r\n"
      "X-Mailer: Bulk Mailer Pro 4.2\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "Replica watches at low prices. Visit http://www.watches.example.org/buy today.\r\n";
  auto features = classifier::message_features(message);
  EXPECT_TRUE(has_feature(features, "replica"));
  EXPECT_TRUE(has_feature(features, "replica 1 watches"));          // OSB, adjacent
  EXPECT_TRUE(has_feature(features, "replica 3 low"));              // OSB, two words skipped
  EXPECT_TRUE(has_feature(features, "subject:cheap"));
  EXPECT_TRUE(has_feature(features, "from:org:example.co.uk"));
  EXPECT_TRUE(has_feature(features, "from:name:deals"));
  EXPECT_TRUE(has_feature(features, "url:org:example.org"));
  EXPECT_TRUE(has_feature(features, "mailer:bulk mailer pro"));
  EXPECT_TRUE(has_feature(features, "msgid:from_org"));
  // Trace fields and recipients describe the mailbox it was collected in, not the message.
  EXPECT_FALSE(any_feature_contains(features, "collector"));
  EXPECT_FALSE(any_feature_contains(features, "192.0.2.7"));
  // Features are distinct and their hashes match their texts.
  for (const auto& feature : features) EXPECT_EQ(feature.hash, classifier::feature_hash(feature.text));
  std::vector<std::uint64_t> hashes;
  for (const auto& feature : features) hashes.push_back(feature.hash);
  std::sort(hashes.begin(), hashes.end());
  EXPECT_EQ(std::adjacent_find(hashes.begin(), hashes.end()), hashes.end());
}

TEST(ClassifierTokenizer, HtmlOnlyMessageIsReadThroughItsText) {
  std::string message =
      "From: a@b.example\r\nSubject: hi\r\nContent-Type: text/html\r\n\r\n"
      "<html><body><font color=red>Lowest <b>mortgage</b> rates</font><a href='http://rates.example.biz/'>go</a></body></html>\r\n";
  auto features = classifier::message_features(message);
  EXPECT_TRUE(has_feature(features, "mortgage"));
  EXPECT_TRUE(has_feature(features, "html:only"));
  EXPECT_TRUE(has_feature(features, "html:tag:font"));
  EXPECT_TRUE(has_feature(features, "url:host:rates.example.biz"));
  EXPECT_FALSE(has_feature(features, "color"));   // attribute text is not body text
}

// ---------------------------------------------------------------------------------------------
// Maths

TEST(ClassifierMaths, ChiSquareSurvivalMatchesClosedForms) {
  EXPECT_DOUBLE_EQ(classifier::chi2_survival(0.0, 2), 1.0);
  EXPECT_NEAR(classifier::chi2_survival(4.0, 2), std::exp(-2.0), 1e-12);            // 2 dof: e^{-x/2}
  EXPECT_NEAR(classifier::chi2_survival(6.0, 4), std::exp(-3.0) * (1 + 3.0), 1e-12);  // 4 dof: e^{-m}(1+m)
  EXPECT_NEAR(classifier::chi2_survival(9.4877, 4), 0.05, 1e-4);                    // table value
}

TEST(ClassifierMaths, LogSurvivalStaysFiniteWhereTheSurvivalUnderflows) {
  for (double x2 : {0.5, 4.0, 30.0, 200.0})
    EXPECT_NEAR(classifier::log_chi2_survival(x2, 20), std::log(classifier::chi2_survival(x2, 20)), 1e-9);
  EXPECT_EQ(classifier::chi2_survival(4000.0, 40), 0.0);        // underflows in double
  const double deep = classifier::log_chi2_survival(4000.0, 40);
  EXPECT_TRUE(std::isfinite(deep));
  EXPECT_LT(deep, -1800.0);
  EXPECT_LT(classifier::log_chi2_survival(5000.0, 40), deep);   // and still ordered
  EXPECT_EQ(classifier::log_chi2_survival(0.0, 40), 0.0);
}

TEST(ClassifierMaths, LogSurvivalWithManyDegreesMatchesTheLgammaSum) {
  // ln(e^{-m} sum_{i<k} m^i / i!) written out with lgamma, for as many degrees as 1000 clues give.
  auto reference = [](double x2, int degrees) {
    const double m = x2 / 2;
    double largest = -1e300;
    std::vector<double> terms;
    for (int i = 0; i < degrees / 2; ++i) terms.push_back(i * std::log(m) - std::lgamma(i + 1.0));
    for (double t : terms) largest = std::max(largest, t);
    double sum = 0;
    for (double t : terms) sum += std::exp(t - largest);
    return std::min(0.0, -m + largest + std::log(sum));
  };
  for (double x2 : {10.0, 1500.0, 2000.0, 2600.0, 9000.0})
    EXPECT_NEAR(classifier::log_chi2_survival(x2, 2000), reference(x2, 2000), 1e-6 * std::max(1.0, x2)) << x2;
}

TEST(ClassifierMaths, SaturatedEvidenceBothWaysLeansToTheStrongerSide) {
  // 100 strong spam features against 40 strong ham ones: both tests are far in their tails.
  std::vector<double> mostly_spam(100, 0.99);
  mostly_spam.insert(mostly_spam.end(), 40, 0.01);
  std::vector<double> mostly_ham(40, 0.99);
  mostly_ham.insert(mostly_ham.end(), 100, 0.01);
  EXPECT_GT(classifier::combine(mostly_spam), 0.6);
  EXPECT_LT(classifier::combine(mostly_ham), 0.4);
  // Balanced: still unsure.
  std::vector<double> balanced(70, 0.99);
  balanced.insert(balanced.end(), 70, 0.01);
  EXPECT_NEAR(classifier::combine(balanced), 0.5, 0.01);
}

TEST(ClassifierMaths, RobinsonSmoothingPullsRareFeaturesTowardsHalf) {
  classifier::Totals totals{100, 100};
  EXPECT_DOUBLE_EQ(classifier::feature_probability({0, 0, 0}, totals), 0.5);
  // Seen in 5 spam, no ham: p = 1, n = 5 → (0.1·0.5 + 5) / 5.1.
  EXPECT_NEAR(classifier::feature_probability({5, 0, 0}, totals), (0.05 + 5) / 5.1, 1e-12);
  // Seen once: much closer to 0.5 than seen fifty times.
  EXPECT_LT(classifier::feature_probability({1, 0, 0}, totals), classifier::feature_probability({50, 0, 0}, totals));
  // Shares, not counts: 10 of 100 spam vs 10 of 1000 ham is spam-like.
  EXPECT_GT(classifier::feature_probability({10, 10, 0}, classifier::Totals{100, 1000}), 0.85);
}

TEST(ClassifierMaths, CombiningIsConfidentOnlyWhenTheEvidenceAgrees) {
  EXPECT_GT(classifier::combine(std::vector<double>(20, 0.95)), 0.999);
  EXPECT_LT(classifier::combine(std::vector<double>(20, 0.05)), 0.001);
  std::vector<double> mixed(10, 0.99);
  mixed.insert(mixed.end(), 10, 0.01);
  EXPECT_NEAR(classifier::combine(mixed), 0.5, 0.01);
  EXPECT_DOUBLE_EQ(classifier::combine({}), 0.5);
}

TEST(ClassifierMaths, ModelCountsNeverGoNegative) {
  classifier::Model model;
  model.apply({{1, 2}, 1, 0, 100});
  model.apply({{1}, -1, 0, 0});
  model.apply({{1}, -1, 0, 0});   // forgetting twice does not underflow
  EXPECT_EQ(model.totals().spam, 0u);
  EXPECT_EQ(model.size(), 1u);    // feature 1 removed, feature 2 kept
}

// ---------------------------------------------------------------------------------------------
// Store and learner

class TempDatabase {
 public:
  TempDatabase() {
    char pattern[] = "/tmp/gatehouse-classifier-XXXXXX";
    directory_ = mkdtemp(pattern);
    path_ = directory_ + "/gatehouse.db";
  }
  ~TempDatabase() { std::filesystem::remove_all(directory_); }
  const std::string& path() const { return path_; }

 private:
  std::string directory_, path_;
};

TEST(ClassifierStore, LearnLoadForgetRoundTrip) {
  TempDatabase db;
  auto store = open_sqlite_token_store(db.path());
  ASSERT_TRUE(store) << store.error().message;
  LearnRecord spam{"d1", "spam", "cli", {10, 0xffffffffffffffffull}, 1, 0, 20000};
  LearnRecord ham{"d2", "ham", "cli", {10, 11}, 0, 1, 20001};
  auto step = (*store)->learn({spam, ham});
  ASSERT_TRUE(step) << step.error().message;
  EXPECT_EQ(step->after, step->before + 1);
  auto snapshot = (*store)->load();
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->spam_messages, 1u);
  EXPECT_EQ(snapshot->ham_messages, 1u);
  ASSERT_EQ(snapshot->tokens.size(), 3u);
  auto find = [&](std::uint64_t hash) {
    return *std::find_if(snapshot->tokens.begin(), snapshot->tokens.end(), [&](auto& row) { return row.hash == hash; });
  };
  EXPECT_EQ(find(10).spam, 1u);
  EXPECT_EQ(find(10).ham, 1u);
  EXPECT_EQ(find(10).last_seen_day, 20001);
  EXPECT_EQ(find(0xffffffffffffffffull).spam, 1u);   // the full 64 bits survive SQLite's signed integers
  ASSERT_TRUE((*store)->learned("d1"));
  EXPECT_EQ((*store)->learned("d1")->label, "spam");

  LearnRecord forget{"d1", "", "", {10, 0xffffffffffffffffull}, -1, 0, 0};
  ASSERT_TRUE((*store)->learn({forget}));
  snapshot = (*store)->load();
  EXPECT_EQ(snapshot->spam_messages, 0u);
  EXPECT_EQ(snapshot->tokens.size(), 2u);
  EXPECT_FALSE((*store)->learned("d1"));

  ASSERT_TRUE((*store)->remember_inbound("abc@example.test", "TX1"));
  EXPECT_EQ((*store)->inbound_transaction("abc@example.test").value_or(""), "TX1");
  EXPECT_FALSE((*store)->inbound_transaction("other@example.test"));
}

TEST(ClassifierStore, AgeingDropsStaleTokensAndHalvesLargeCounts) {
  TempDatabase db;
  auto store = open_sqlite_token_store(db.path());
  ASSERT_TRUE(store);
  std::vector<LearnRecord> records;
  for (int i = 0; i < 4; ++i) records.push_back({"s" + std::to_string(i), "spam", "cli", {1, 2}, 1, 0, 1000});
  records.push_back({"old", "ham", "cli", {3}, 0, 1, 500});
  ASSERT_TRUE((*store)->learn(records));
  AgeingPolicy policy;
  policy.today = 1010;
  policy.max_age_days = 100;          // token 3 (day 500) is stale
  policy.max_learned = 3;             // 4 spam messages > 3: halve
  policy.forget_before = Clock::now() - std::chrono::hours(1);
  auto aged = (*store)->age(policy);
  ASSERT_TRUE(aged) << aged.error().message;
  EXPECT_TRUE(aged->halved);
  EXPECT_EQ(aged->tokens_removed, 1u);
  EXPECT_NE(aged->generation.after, aged->generation.before);
  auto snapshot = (*store)->load();
  EXPECT_EQ(snapshot->spam_messages, 2u);
  EXPECT_EQ(snapshot->ham_messages, 0u);
  ASSERT_EQ(snapshot->tokens.size(), 2u);
  for (const auto& row : snapshot->tokens) EXPECT_EQ(row.spam, 2u);
}

std::string generated_message(std::mt19937& random, bool spam, int serial) {
  static const std::vector<std::string> ham_words = {
      "meeting", "project", "schedule", "review",  "draft",  "budget",   "agenda", "notes",   "tomorrow",
      "team",    "report",  "minutes",  "release", "branch", "compiler", "patch",  "thanks",  "regards",
      "lunch",   "office",  "quarter",  "design",  "build",  "kernel",   "test",   "feedback"};
  static const std::vector<std::string> spam_words = {
      "cheap",  "pills",   "offer",   "click", "winner", "free",      "unsubscribe", "casino",   "loan",
      "credit", "viagra",  "discount", "money", "prize",  "guarantee", "limited",     "exclusive", "bonus",
      "order",  "now",     "deal",    "save",  "luxury", "replica",   "investment",  "urgent"};
  const auto& words = spam ? spam_words : ham_words;
  std::uniform_int_distribution<std::size_t> pick(0, words.size() - 1);
  std::string subject, body;
  for (int i = 0; i < 4; ++i) subject += words[pick(random)] + " ";
  for (int i = 0; i < 60; ++i) body += words[pick(random)] + (i % 12 == 11 ? "\r\n" : " ");
  return fmt::format(
      "From: {}\r\nSubject: {}\r\nMessage-ID: <{}.{}@{}>\r\nContent-Type: text/plain\r\n\r\n{}\r\n",
      spam ? "\"Promo\" <promo@deals.example.biz>" : "\"Colleague\" <colleague@corp.example.com>", subject,
      spam ? "s" : "h", serial, spam ? "deals.example.biz" : "corp.example.com", body);
}

TEST(ClassifierLearner, LearnsOnceMovesOnRelearnAndTellsUnseenMailApart) {
  TempDatabase db;
  auto store = open_sqlite_token_store(db.path());
  ASSERT_TRUE(store);
  classifier::Model model;
  classifier::Learner learner(**store, &model);
  ASSERT_TRUE(learner.load());
  std::mt19937 random(42);
  std::vector<std::string> ham, spam;
  for (int i = 0; i < 220; ++i) ham.push_back(generated_message(random, false, i));
  for (int i = 0; i < 220; ++i) spam.push_back(generated_message(random, true, i));
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(learner.learn(ham[i], classifier::Label::ham, "test").kind, classifier::LearnResult::Kind::learned);
    EXPECT_EQ(learner.learn(spam[i], classifier::Label::spam, "test").kind, classifier::LearnResult::Kind::learned);
  }
  // The same message again, in the same batch and after commit: not counted twice.
  EXPECT_EQ(learner.learn(ham[0], classifier::Label::ham, "test").kind, classifier::LearnResult::Kind::unchanged);
  ASSERT_TRUE(learner.commit());
  EXPECT_EQ(learner.learn(spam[0], classifier::Label::spam, "test").kind, classifier::LearnResult::Kind::unchanged);
  EXPECT_EQ(model.totals().ham, 200u);
  EXPECT_EQ(model.totals().spam, 200u);

  for (int i = 200; i < 220; ++i) {
    EXPECT_LT(classifier::classify(model, classifier::message_features(ham[i])).probability, 0.05) << ham[i];
    EXPECT_GT(classifier::classify(model, classifier::message_features(spam[i])).probability, 0.95) << spam[i];
  }

  // A spam lesson moved to ham (a release): counted once, as ham; automatic learning never overrides.
  EXPECT_EQ(learner.learn(spam[1], classifier::Label::ham, "release").kind, classifier::LearnResult::Kind::relearned);
  EXPECT_EQ(learner.learn(spam[1], classifier::Label::spam, "autolearn", true).kind,
            classifier::LearnResult::Kind::unchanged);
  ASSERT_TRUE(learner.commit());
  EXPECT_EQ(model.totals().spam, 199u);
  EXPECT_EQ(model.totals().ham, 201u);
  // Another process's view of the store agrees with the in-memory model.
  classifier::Model reloaded;
  classifier::Learner other(**store, &reloaded);
  ASSERT_TRUE(other.load());
  EXPECT_EQ(reloaded.size(), model.size());
  EXPECT_EQ(reloaded.totals().ham, 201u);
}

TEST(ClassifierLearner, DigestIgnoresAddedTraceFieldsAndLineEnds) {
  std::string message = "From: a@b.example\nMessage-ID: <1@b.example>\nSubject: x\n\nbody line\n";
  std::string relayed = "Received: from x by y; Fri, 27 Nov 2026 10:00:00 +0000\r\n"
                        "From: a@b.example\r\nMessage-ID: <1@b.example>\r\nSubject: x\r\n\r\nbody line\r\n";
  EXPECT_EQ(classifier::message_digest("From a@b.example Fri Nov 27 10:00:00 2026\n" + message),
            classifier::message_digest(relayed));
  EXPECT_NE(classifier::message_digest(message), classifier::message_digest(message + "more\n"));
}

TEST(ClassifierLearner, MessageIdsOfReferences) {
  EXPECT_EQ(classifier::message_ids_of("<a@x.example>\r\n <b@y.example> <no-at> junk"),
            (std::vector<std::string>{"a@x.example", "b@y.example"}));
}

// ---------------------------------------------------------------------------------------------
// The check

checks::CheckOutcome run_check(checks::CheckContext& context) {
  auto check = checks::make_classifier_check();
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, check->run(context), boost::asio::use_future);
  io.run();
  return future.get();
}

TEST(ClassifierCheck, SilentUntilTrainedThenReportsABand) {
  auto config = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n", "test.toml");
  ASSERT_TRUE(config) << config.error().message;
  classifier::Model model;
  std::mt19937 random(7);
  std::string spam = generated_message(random, true, 1);
  checks::CheckContext context;
  context.stage = checks::Stage::data;
  context.config = &*config;
  context.policy = &config->policy;
  context.message = spam;
  context.classifier = &model;
  auto outcome = run_check(context);
  EXPECT_TRUE(outcome.contributions.empty());
  EXPECT_NE(outcome.note.find("not enough training"), std::string::npos) << outcome.note;

  // 200 of each with the message's words all spam-like.
  auto features = classifier::message_features(spam);
  std::vector<std::uint64_t> hashes;
  for (auto& f : features) hashes.push_back(f.hash);
  model.apply({hashes, 150, 0, 1});
  model.apply({{}, 50, 200, 1});
  outcome = run_check(context);
  ASSERT_EQ(outcome.contributions.size(), 1u) << outcome.note;
  // Every feature seen in 150 spam and no ham: overwhelming evidence, beyond the 0.999 band.
  EXPECT_EQ(outcome.contributions[0].finding, "spam_certain");
  EXPECT_GE(outcome.contributions[0].action.score, 9.0);   // (near) the default reject threshold alone
  EXPECT_NE(outcome.contributions[0].detail.find("spam test tail 1e-"), std::string::npos);
  EXPECT_NE(outcome.contributions[0].detail.find("spam-like"), std::string::npos);
}

TEST(ClassifierConfig, SettingsAreReadAndBadOnesNamed) {
  const std::string server = "[server]\nlisten = [\"127.0.0.1:2525\"]\n";
  auto config = parse_config(server + "[classifier]\nmin_learned = 50\nautolearn = false\ntoken_max_age = \"30d\"\n", "t.toml");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->classifier.min_learned, 50u);
  EXPECT_FALSE(config->classifier.autolearn);
  EXPECT_EQ(config->classifier.token_max_age, std::chrono::hours(24 * 30));
  auto bad = parse_config(server + "[classifier]\ntoken_max_age = \"1h\"\n", "t.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("token_max_age"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("t.toml:"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace gatehouse
