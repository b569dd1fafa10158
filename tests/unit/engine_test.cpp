// The engine's ordering, skipping, decisions and error handling (engine/engine.hpp), driven with
// small checks defined here whose outcomes are fixed, so that each rule is visible.
#include <gtest/gtest.h>

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "engine/engine.hpp"

namespace gatehouse {
namespace {

using checks::Check;
using checks::CheckContext;
using checks::CheckOutcome;
using checks::Stage;

struct Log {
  std::vector<std::string> ran;
};

class FixedCheck final : public Check {
 public:
  FixedCheck(Log& log, std::string name, Stage stage, int cost, Action action, std::pair<double, double> range,
             std::string error = {}, bool always = false)
      : log_(log), name_(std::move(name)), stage_(stage), cost_(cost), action_(action), range_(range),
        error_(std::move(error)), always_(always) {}
  std::string_view name() const override { return name_; }
  Stage stage() const override { return stage_; }
  int cost() const override { return cost_; }
  std::pair<double, double> score_range(const Config&, const FilterPolicy&) const override { return range_; }
  bool may_decide(const Config&, const FilterPolicy& policy) const override {
    return action_.decides() || policy.check(name_).mandatory;
  }
  bool always_runs() const override { return always_; }
  boost::asio::awaitable<CheckOutcome> run(CheckContext&) const override {
    log_.ran.push_back(name_);
    CheckOutcome outcome;
    if (!error_.empty()) {
      outcome.error = error_;
      co_return outcome;
    }
    if (action_.decides() || action_.score != 0) outcome.contributions.push_back({"found", action_, name_ + " detail"});
    co_return outcome;
  }

 private:
  Log& log_;
  std::string name_;
  Stage stage_;
  int cost_;
  Action action_;
  std::pair<double, double> range_;
  std::string error_;
  bool always_;
};

struct Fixture {
  Log log;
  Config config;
  FilterPolicy policy;
  std::vector<std::unique_ptr<Check>> checks;

  Fixture() {
    policy.tag_threshold = 5;
    policy.reject_threshold = 10;
  }
  void add(std::string name, Stage stage, int cost, Action action, std::pair<double, double> range, std::string error = {},
           bool always = false) {
    checks.push_back(std::make_unique<FixedCheck>(log, std::move(name), stage, cost, action, range, std::move(error), always));
  }
  engine::Verdict judge(bool message_stage) {
    engine::Engine engine(std::move(checks));
    CheckContext context;
    context.id = "TESTID";
    context.config = &config;
    context.policy = &policy;
    engine::Verdict result;
    boost::asio::io_context io;
    boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
      engine::Verdict envelope = co_await engine.judge_recipient(context);
      if (!message_stage || envelope.disposition != "accept") {
        result = std::move(envelope);
        co_return;
      }
      engine::Verdict judged = co_await engine.judge_message(context, std::move(envelope));
      result = std::move(judged);
    }, boost::asio::detached);
    io.run();
    return result;
  }
};

TEST(Engine, RunsCheapestFirstAndSumsScoresToTag) {
  Fixture f;
  f.add("expensive", Stage::connect, 50, Action::points(2), {0, 2});
  f.add("cheap", Stage::mail, 1, Action::points(2.5), {0, 2.5});
  f.add("content", Stage::data, 1, Action::points(1), {0, 1});
  auto verdict = f.judge(true);
  EXPECT_EQ(f.log.ran, (std::vector<std::string>{"cheap", "expensive", "content"}));
  EXPECT_DOUBLE_EQ(verdict.score, 5.5);
  EXPECT_EQ(verdict.disposition, "tag");
  ASSERT_EQ(verdict.checks.size(), 3u);
  EXPECT_EQ(verdict.checks[0].name, "cheap");
  EXPECT_EQ(verdict.checks[0].detail, "found: cheap detail");
}

TEST(Engine, SkipsChecksThatCannotChangeTheDisposition) {
  Fixture f;
  f.add("big", Stage::connect, 1, Action::points(12), {0, 12});
  f.add("legit", Stage::connect, 15, Action::points(-1), {-5, 0});       // could bring it under 10: runs
  f.add("more", Stage::connect, 16, Action::points(1), {0, 1});          // at 11, cannot: skipped
  f.add("cheap", Stage::connect, 2, Action::points(0.5), {0, 0.5});      // cannot either, but cheap: runs
  auto verdict = f.judge(false);
  EXPECT_EQ(f.log.ran, (std::vector<std::string>{"big", "cheap", "legit"}));
  EXPECT_EQ(verdict.skipped, (std::vector<std::string>{"more"}));
  EXPECT_EQ(verdict.disposition, "reject");
  EXPECT_EQ(verdict.reason, "score");
  EXPECT_EQ(verdict.reply.code, 550);
  EXPECT_NE(verdict.reply.text.find("score 11.5"), std::string::npos) << verdict.reply.text;
  EXPECT_NE(verdict.reply.text.find("(ID:TESTID)"), std::string::npos);
}

TEST(Engine, NothingSkippedWhileTheOutcomeIsOpen) {
  Fixture f;
  f.add("a", Stage::connect, 1, Action::points(3), {0, 3});
  f.add("b", Stage::connect, 2, Action::points(3), {0, 3});
  auto verdict = f.judge(true);
  EXPECT_EQ(f.log.ran.size(), 2u);
  EXPECT_TRUE(verdict.skipped.empty());
  EXPECT_EQ(verdict.disposition, "tag");
}

TEST(Engine, DecidingCheckIsNeverSkippedAndRejectStopsTheRest) {
  Fixture f;
  f.add("big", Stage::connect, 1, Action::points(12), {0, 12});
  f.add("blocker", Stage::connect, 2, Action::of(Action::Kind::reject), {0, 0});
  f.add("after", Stage::connect, 3, Action::points(-20), {-20, 0});
  auto verdict = f.judge(false);
  EXPECT_EQ(f.log.ran, (std::vector<std::string>{"big", "blocker"}));
  EXPECT_EQ(verdict.disposition, "reject");
  EXPECT_EQ(verdict.reason, "blocker");
  EXPECT_EQ(verdict.reply.code, 550);
  EXPECT_EQ(verdict.reply.enhanced, "5.7.1");
}

TEST(Engine, AcceptStopsScoringButNotChecksThatAlwaysRun) {
  Fixture f;
  f.add("whitelist", Stage::connect, 0, Action::of(Action::Kind::accept), {0, 0});
  f.add("dnsbl", Stage::connect, 10, Action::points(20), {0, 20});
  f.add("content", Stage::data, 100, Action::points(20), {0, 20});
  f.add("antivirus", Stage::data, 200, Action::points(0), {0, 0}, {}, true);
  auto verdict = f.judge(true);
  EXPECT_EQ(f.log.ran, (std::vector<std::string>{"whitelist", "antivirus"}));
  EXPECT_TRUE(verdict.whitelisted);
  EXPECT_EQ(verdict.disposition, "accept");
}

TEST(Engine, ErrorIsNoEvidenceUnlessMandatory) {
  {
    Fixture f;
    f.add("lookup", Stage::connect, 10, Action::points(5), {0, 5}, "timeout");
    auto verdict = f.judge(true);
    EXPECT_EQ(verdict.disposition, "accept");
    ASSERT_EQ(verdict.checks.size(), 1u);
    EXPECT_EQ(verdict.checks[0].detail, "error, no evidence: timeout");
  }
  {
    Fixture f;
    f.policy.checks["lookup"].mandatory = true;
    f.add("lookup", Stage::connect, 10, Action::points(5), {0, 5}, "timeout");
    auto verdict = f.judge(true);
    EXPECT_EQ(verdict.disposition, "tempfail");
    EXPECT_EQ(verdict.reply.code, 451);
    EXPECT_EQ(verdict.reply.enhanced, "4.4.3");
  }
}

TEST(Engine, DisabledCheckDoesNotRun) {
  Fixture f;
  f.policy.checks["off"].enabled = false;
  f.add("off", Stage::connect, 1, Action::of(Action::Kind::reject), {0, 0});
  auto verdict = f.judge(true);
  EXPECT_TRUE(f.log.ran.empty());
  EXPECT_EQ(verdict.disposition, "accept");
}

TEST(Engine, EnvelopeScoreCarriesIntoTheMessageVerdict) {
  Fixture f;
  f.add("sender", Stage::mail, 1, Action::points(4), {0, 4});
  f.add("content", Stage::data, 1, Action::points(7), {0, 7});
  auto verdict = f.judge(true);
  EXPECT_DOUBLE_EQ(verdict.score, 11);
  EXPECT_EQ(verdict.disposition, "reject");
}

// A check whose output later checks read (Check::feeds, the ocr check) with a fixed answer to
// has_input (whether the message has an image).
class FeederCheck final : public Check {
 public:
  FeederCheck(Log& log, std::vector<std::string_view> fed, bool input) : log_(log), fed_(std::move(fed)), input_(input) {}
  std::string_view name() const override { return "feeder"; }
  Stage stage() const override { return Stage::data; }
  int cost() const override { return 150; }
  std::pair<double, double> score_range(const Config&, const FilterPolicy&) const override { return {0, 0}; }
  bool may_decide(const Config&, const FilterPolicy&) const override { return false; }
  std::vector<std::string_view> feeds() const override { return fed_; }
  bool has_input(const CheckContext&) const override { return input_; }
  boost::asio::awaitable<CheckOutcome> run(CheckContext&) const override {
    log_.ran.push_back("feeder");
    co_return CheckOutcome{};
  }

 private:
  Log& log_;
  std::vector<std::string_view> fed_;
  bool input_;
};

struct FeederFixture : Fixture {
  // Content checks like the real ones: cheap text checks, a classifier, an antivirus, and a feeder.
  void add_content(bool input, Action words = Action::points(2), std::pair<double, double> words_range = {0, 2},
                   std::pair<double, double> classifier_range = {-3, 10}) {
    add("obfuscation", Stage::data, 1, Action::points(0), {0, 1});
    add("words", Stage::data, 2, words, words_range);
    add("classifier", Stage::data, 20, Action::points(0), classifier_range);
    add("antivirus", Stage::data, 100, Action::points(0), {0, 0}, {}, true);
    checks.push_back(std::make_unique<FeederCheck>(log, std::vector<std::string_view>{"words", "classifier"}, input));
  }
};

TEST(Engine, AFeederRunsBeforeTheChecksItFeedsWhenItHasInput) {
  FeederFixture f;
  f.add_content(true);
  f.judge(true);
  EXPECT_EQ(f.log.ran, (std::vector<std::string>{"obfuscation", "antivirus", "feeder", "words", "classifier"}));
}

TEST(Engine, AFeederWithoutInputDoesNotRunAndTheOrderStays) {
  FeederFixture f;
  f.add_content(false);
  auto verdict = f.judge(true);
  EXPECT_EQ(f.log.ran, (std::vector<std::string>{"obfuscation", "words", "classifier", "antivirus"}));
  EXPECT_TRUE(verdict.skipped.empty());
}

TEST(Engine, AFeederIsSkippedWhenWhatItFeedsCannotChangeTheDisposition) {
  FeederFixture f;
  f.add("sender", Stage::mail, 1, Action::points(3), {0, 3});
  f.add_content(true, Action::points(0.5), {0, 0.5}, {0, 0.5});   // at most 3 + 1 + 0.5 + 0.5: stays under 5
  auto verdict = f.judge(true);
  EXPECT_EQ(std::count(f.log.ran.begin(), f.log.ran.end(), "feeder"), 0);
  EXPECT_NE(std::find(verdict.skipped.begin(), verdict.skipped.end(), "feeder"), verdict.skipped.end());
}

TEST(Engine, AFeederRunsWhenACheckItFeedsCanDecide) {
  FeederFixture f;
  f.add("sender", Stage::mail, 1, Action::points(3), {0, 3});
  f.add_content(true, Action::of(Action::Kind::reject), {0, 0}, {0, 0.5});
  auto verdict = f.judge(true);
  EXPECT_EQ(f.log.ran, (std::vector<std::string>{"sender", "obfuscation", "antivirus", "feeder", "words"}));
  EXPECT_EQ(verdict.disposition, "reject");
  EXPECT_EQ(verdict.reason, "words");
}

TEST(Engine, AFeederIsSkippedWhenNothingItFeedsIsEnabled) {
  FeederFixture f;
  f.policy.checks["words"].enabled = false;
  f.policy.checks["classifier"].enabled = false;
  f.add_content(true);
  auto verdict = f.judge(true);
  EXPECT_EQ(f.log.ran, (std::vector<std::string>{"obfuscation", "antivirus"}));
  EXPECT_EQ(verdict.skipped, (std::vector<std::string>{"feeder"}));
}

TEST(Engine, AFeederDoesNotRunForAWhiteListedSender) {
  FeederFixture f;
  f.add("whitelist", Stage::connect, 0, Action::of(Action::Kind::accept), {0, 0});
  f.add_content(true);
  auto verdict = f.judge(true);
  EXPECT_EQ(f.log.ran, (std::vector<std::string>{"whitelist", "antivirus"}));
  EXPECT_TRUE(verdict.whitelisted);
}

TEST(Engine, ReplyTextsUsePolicyTemplates) {
  FilterPolicy policy;
  policy.contact = "help@example.test";
  policy.replies["rbl"] = "Blocked by {reason}; call {contact} ({id})";
  EXPECT_EQ(policy.reply_text("rbl", "ID1", "zen.example 192.0.2.7"), "Blocked by zen.example 192.0.2.7; call help@example.test (ID1)");
  EXPECT_EQ(policy.reply_text("unknown", "ID1", "why"), "why (ID:ID1)");
}

}  // namespace
}  // namespace gatehouse

namespace gatehouse {
namespace {

// The built-in checks: the content analysis is built for a check that reads it, not for the OCR
// check alone (it only feeds watch_words and classifier, which read the content themselves) — a
// plain gateway with every content check off must not parse every message.
TEST(EngineContent, OcrAloneDoesNotNeedTheAnalysis) {
  engine::Engine engine;
  auto config = parse_config("[server]\nlisten = [\"127.0.0.1:2525\"]\n", "test.toml");
  ASSERT_TRUE(config) << config.error().message;
  FilterPolicy policy = config->policy;
  for (auto& [name, settings] : policy.checks) settings.enabled = false;
  policy.checks["ocr"].enabled = true;
  EXPECT_FALSE(engine.needs_content(policy));
  policy.checks["watch_words"].enabled = true;
  EXPECT_TRUE(engine.needs_content(policy));
}

}  // namespace
}  // namespace gatehouse
