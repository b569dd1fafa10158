// Tests of the content black list and watch words: the matcher (content/watch_words.hpp) on the
// normalised text (words and phrases on word boundaries, case-insensitive, regular expressions),
// the configuration ([[watch_words]], [[domain.watch_words]], FILE:LINE errors) and the
// watch_words check through the engine (scores, decisions and the reply).
#include "content/watch_words.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "checks/builtin.hpp"
#include "content/analysis.hpp"
#include "content/normalize.hpp"
#include "engine/engine.hpp"

namespace gatehouse::content {
namespace {

WatchWord entry(WatchWord::Kind kind, std::string pattern, Action action = Action::points(1), std::string name = {}) {
  WatchWord word;
  word.kind = kind;
  word.pattern = std::move(pattern);
  word.action = action;
  word.name = std::move(name);
  return word;
}

// Which of `entries` are found in `text` once it is normalised.
std::vector<std::size_t> find_in(const std::vector<WatchWord>& entries, std::string_view text) {
  auto matcher = WatchWordMatcher::compile(entries);
  EXPECT_TRUE(matcher.ok()) << (matcher.ok() ? "" : matcher.error().message);
  if (!matcher.ok()) return {};
  return (*matcher)->find(normalize_text(text).text);
}

using Found = std::vector<std::size_t>;
using Kind = WatchWord::Kind;

TEST(WatchWords, WordsMatchWholeWordsCaseInsensitively) {
  const std::vector<WatchWord> words = {entry(Kind::word, "Viagra")};
  EXPECT_EQ(find_in(words, "Buy VIAGRA now"), Found{0});
  EXPECT_EQ(find_in(words, "viagra"), Found{0});
  EXPECT_EQ(find_in(words, "(viagra)."), Found{0});
  EXPECT_EQ(find_in(words, "superviagra and viagras and viagra2"), Found{});
}

TEST(WatchWords, PhrasesMatchAcrossCollapsedWhiteSpace) {
  const std::vector<WatchWord> words = {entry(Kind::phrase, "act  now")};
  EXPECT_EQ(find_in(words, "Please ACT\r\n   now!"), Found{0});
  EXPECT_EQ(find_in(words, "react nowhere, act nowadays"), Found{});
}

TEST(WatchWords, BoundariesAreUnicodeLetters) {
  const std::vector<WatchWord> words = {entry(Kind::word, "Скидка"), entry(Kind::word, "straße")};
  EXPECT_EQ(find_in(words, "Большая СКИДКА!"), Found{0});
  EXPECT_EQ(find_in(words, "со скидками"), Found{});
  EXPECT_EQ(find_in(words, "Hauptstrasse 5"), Found{});   // ß is folded to ss on both sides
  EXPECT_EQ(find_in(words, "STRASSE 5"), Found{1});
}

TEST(WatchWords, RegularExpressionsMatchTheNormalisedText) {
  const std::vector<WatchWord> words = {entry(Kind::regex, R"(\bv[i1]agra\s+\d+\s*mg\b)"), entry(Kind::regex, "^urgent")};
  EXPECT_EQ(find_in(words, "URGENT: Viagra 100mg"), (Found{0, 1}));
  EXPECT_EQ(find_in(words, "not urgent, viagra mg"), Found{});
}

TEST(WatchWords, ObfuscatedFormsStillMatch) {
  const std::vector<WatchWord> words = {entry(Kind::word, "viagra"), entry(Kind::word, "paypal"), entry(Kind::phrase, "free money")};
  EXPECT_EQ(find_in(words, "V-I-A-G-R-A"), Found{0});
  EXPECT_EQ(find_in(words, "V.I.A.G.R.A"), Found{0});
  EXPECT_EQ(find_in(words, "v1agra"), Found{0});
  EXPECT_EQ(find_in(words, "vi\u200Bag\u200Dra"), Found{0});
  EXPECT_EQ(find_in(words, "Your p\u0430yp\u0430l account"), Found{1});   // Cyrillic а
  EXPECT_EQ(find_in(words, "\U0001D41F\U0001D42B\U0001D41E\U0001D41E m0ney"), Found{2});   // 𝐟𝐫𝐞𝐞 m0ney
}

TEST(WatchWords, EntriesAreMatchedAtMostOnceAndInOrder) {
  const std::vector<WatchWord> words = {entry(Kind::word, "beta"), entry(Kind::word, "alpha"), entry(Kind::word, "gamma")};
  EXPECT_EQ(find_in(words, "alpha alpha gamma, alpha"), (Found{1, 2}));
}

TEST(WatchWords, ProblemsAreExplained) {
  EXPECT_EQ(watch_word_problem(entry(Kind::word, "viagra")), "");
  EXPECT_EQ(watch_word_problem(entry(Kind::word, "two words")), "is several words: use phrase = \"...\"");
  EXPECT_EQ(watch_word_problem(entry(Kind::phrase, " \u200B ")), "is empty (after normalisation)");
  EXPECT_EQ(watch_word_problem(entry(Kind::regex, "")), "is empty");
  EXPECT_EQ(watch_word_problem(entry(Kind::regex, "v(iagra")), "invalid regular expression: missing ): v(iagra");
  EXPECT_EQ(watch_word_problem(entry(Kind::regex, "(a)\\1")), "invalid regular expression: invalid escape sequence: \\1");
}

TEST(WatchWords, LongTextIsLinear) {
  std::string text;
  while (text.size() < (1u << 20)) text += "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ";
  const std::vector<WatchWord> words = {entry(Kind::regex, "(a+)+b"), entry(Kind::regex, "(a|aa)*c"), entry(Kind::word, "viagra")};
  auto matcher = WatchWordMatcher::compile(words);
  ASSERT_TRUE(matcher.ok());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ((*matcher)->find(text), Found{});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// ---------------------------------------------------------------------------------------------
// Configuration

const std::string minimal = "[server]\nlisten = [\"127.0.0.1:2525\"]\n";

std::string error_of(const std::string& text) {
  auto config = parse_config(text, "test.toml");
  EXPECT_FALSE(config.ok()) << "unexpectedly loaded:\n" << text;
  return config.ok() ? std::string() : config.error().message;
}

TEST(WatchWordsConfig, GlobalAndPerDomainEntries) {
  const std::string text = minimal +
                           "[[watch_words]]\nword = \"viagra\"\naction = \"reject\"\nname = \"pharma\"\n"
                           "[[watch_words]]\nphrase = \"act now\"\naction = 2.5\n"
                           "[[domain]]\nname = \"a.test\"\nbackend = \"mx\"\n"
                           "[[domain.watch_words]]\nregex = \"invoice\\\\s+#?\\\\d+\"\naction = \"tempfail\"\n"
                           "[[domain]]\nname = \"b.test\"\nbackend = \"mx\"\n";
  auto config = parse_config(text, "test.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_EQ(config->policy.watch_words.size(), 2u);
  EXPECT_EQ(config->policy.watch_words[0].label(), "pharma");
  EXPECT_EQ(config->policy.watch_words[0].action.kind, Action::Kind::reject);
  EXPECT_EQ(config->policy.watch_words[1].label(), "act now");
  EXPECT_EQ(config->policy.watch_words[1].action.score, 2.5);
  ASSERT_TRUE(config->policy.watch_word_matcher);

  ASSERT_EQ(config->domains.size(), 2u);
  const FilterPolicy& a = config->domains[0].policy;
  const FilterPolicy& b = config->domains[1].policy;
  ASSERT_EQ(a.watch_words.size(), 3u);   // the global ones, then its own
  EXPECT_EQ(a.watch_words[2].kind, Kind::regex);
  EXPECT_EQ(a.watch_word_matcher->find("please pay invoice #123"), Found{2});
  EXPECT_EQ(config->policy.watch_word_matcher->find("please pay invoice #123"), Found{});
  EXPECT_EQ(b.watch_words.size(), 2u);
  EXPECT_EQ(b.watch_word_matcher->find("please pay invoice #123"), Found{});
  EXPECT_EQ(b.watch_word_matcher->find("viagra, act now"), (Found{0, 1}));
  // Recipients of a and b cannot share a transaction: their policies differ.
  EXPECT_NE(a.fingerprint, b.fingerprint);
  EXPECT_EQ(b.fingerprint, config->policy.fingerprint);
}

TEST(WatchWordsConfig, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(error_of(minimal + "[[watch_words]]\nregex = \"v(iagra\"\naction = \"reject\"\n"),
            "test.toml:4: watch_words[0].regex: invalid regular expression: missing ): v(iagra");
  EXPECT_EQ(error_of(minimal + "[[watch_words]]\nword = \"viagra\"\n"),
            "test.toml:3: watch_words[0].action: missing (a score or \"reject\", \"tempfail\", \"accept\")");
  EXPECT_EQ(error_of(minimal + "[[watch_words]]\nword = \"viagra\"\naction = \"drop\"\n"),
            "test.toml:5: watch_words[0].action: expected a score (number) or \"reject\", \"tempfail\" or \"accept\", got \"drop\"");
  EXPECT_EQ(error_of(minimal + "[[watch_words]]\naction = 1\n"),
            "test.toml:3: watch_words[0].word: missing (every [[watch_words]] needs a word, phrase or regex)");
  EXPECT_EQ(error_of(minimal + "[[watch_words]]\nword = \"a\"\nregex = \"b\"\naction = 1\n"),
            "test.toml:4: watch_words[0].word: give one of word, phrase and regex, not several");
  EXPECT_EQ(error_of(minimal + "[[watch_words]]\nword = \"buy now\"\naction = 1\n"),
            "test.toml:4: watch_words[0].word: is several words: use phrase = \"...\"");
  EXPECT_EQ(error_of(minimal + "[[watch_words]]\nword = \"x\"\naction = 1\ncolour = \"red\"\n"),
            "test.toml:6: watch_words[0].colour: unknown key");
  EXPECT_EQ(error_of(minimal + "[[domain]]\nname = \"a.test\"\nbackend = \"mx\"\n[[domain.watch_words]]\nregex = \"[z-a]\"\naction = 1\n"),
            "test.toml:7: domain[0].watch_words[0].regex: invalid regular expression: invalid character class range: z-a");
}

// ---------------------------------------------------------------------------------------------
// The check, through the engine

engine::Verdict judge(const Config& config, const FilterPolicy& policy, std::string_view text) {
  std::vector<std::unique_ptr<checks::Check>> list;
  list.push_back(checks::make_watch_words_check());
  engine::Engine engine(std::move(list));
  MessageAnalysis analysis;
  analysis.normalized_text = normalize_text(text).text;
  checks::CheckContext context;
  context.id = "TESTID";
  context.stage = checks::Stage::data;
  context.config = &config;
  context.policy = &policy;
  context.content = &analysis;
  engine::Verdict result;
  boost::asio::io_context io;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    engine::Verdict envelope;   // named: GCC 12 mishandles a temporary argument of a co_await
    engine::Verdict judged = co_await engine.judge_message(context, std::move(envelope));
    result = std::move(judged);
  }, boost::asio::detached);
  io.run();
  return result;
}

Config config_with(const std::string& entries) {
  auto config = parse_config(minimal + entries, "test.toml");
  EXPECT_TRUE(config.ok()) << config.error().message;
  return config.ok() ? *config : Config{};
}

TEST(WatchWordsCheck, ScoredWordsAddUpAndAreExplained) {
  const Config config = config_with("[[watch_words]]\nword = \"casino\"\naction = 3\n"
                                    "[[watch_words]]\nphrase = \"bonus code\"\naction = 2.5\nname = \"bonus\"\n"
                                    "[[watch_words]]\nword = \"lottery\"\naction = 4\n");
  auto verdict = judge(config, config.policy, "Your C4SINO bonus   code inside");
  EXPECT_DOUBLE_EQ(verdict.score, 5.5);
  EXPECT_EQ(verdict.disposition, "tag");
  ASSERT_EQ(verdict.checks.size(), 2u);
  EXPECT_EQ(verdict.checks[0].name, "watch_words");
  EXPECT_EQ(verdict.checks[0].detail, "matched: casino");
  EXPECT_EQ(verdict.checks[1].detail, "matched: bonus");
}

TEST(WatchWordsCheck, RejectGivesTheWatchWordsReplyAndWinsOverAccept) {
  const Config config = config_with("[[watch_words]]\nphrase = \"newsletter id 42\"\naction = \"accept\"\n"
                                    "[[watch_words]]\nregex = \"v[i1]agra\"\naction = \"reject\"\nname = \"pharmacy spam\"\n");
  auto verdict = judge(config, config.policy, "Newsletter ID 42: cheap V.I.A.G.R.A");
  EXPECT_EQ(verdict.disposition, "reject");
  EXPECT_EQ(verdict.reason, "watch_words");
  EXPECT_EQ(verdict.reply.code, 550);
  EXPECT_EQ(verdict.reply.enhanced, "5.7.1");
  EXPECT_EQ(verdict.reply.text, "Message content refused: pharmacy spam (ID:TESTID)");
  auto accepted = judge(config, config.policy, "Newsletter ID 42: hello");
  EXPECT_EQ(accepted.disposition, "accept");
  EXPECT_TRUE(accepted.whitelisted);
}

TEST(WatchWordsCheck, PerDomainWordsApplyOnlyToThatDomain) {
  const Config config = config_with("[[domain]]\nname = \"a.test\"\nbackend = \"mx\"\n"
                                    "[[domain.watch_words]]\nword = \"crypto\"\naction = \"reject\"\n"
                                    "[[domain]]\nname = \"b.test\"\nbackend = \"mx\"\n");
  EXPECT_EQ(judge(config, config.domains[0].policy, "crypto gains").disposition, "reject");
  EXPECT_EQ(judge(config, config.domains[1].policy, "crypto gains").disposition, "accept");
  EXPECT_EQ(judge(config, config.policy, "crypto gains").disposition, "accept");
}

TEST(WatchWordsCheck, ScoreRangeAndDecisionsFollowTheEntries) {
  const Config config = config_with("[[watch_words]]\nword = \"a\"\naction = 3\n[[watch_words]]\nword = \"b\"\naction = -1\n");
  auto check = checks::make_watch_words_check();
  EXPECT_EQ(check->score_range(config, config.policy), (std::pair<double, double>{-1.0, 3.0}));
  EXPECT_FALSE(check->may_decide(config, config.policy));
  const Config deciding = config_with("[[watch_words]]\nword = \"a\"\naction = \"tempfail\"\n");
  EXPECT_TRUE(check->may_decide(deciding, deciding.policy));
}

}  // namespace
}  // namespace gatehouse::content
