// The content black list and watch words, compiled. See watch_words.hpp.
#include "content/watch_words.hpp"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>

#include "content/normalize.hpp"

namespace gatehouse::content {
namespace {

// Memory RE2 may use: per expression, and for the set (its DFA grows with the number of entries).
constexpr std::int64_t expression_memory = 8 << 20;
constexpr std::int64_t set_memory = 64 << 20;

RE2::Options options(std::int64_t max_memory) {
  RE2::Options result;
  result.set_encoding(RE2::Options::EncodingUTF8);
  result.set_case_sensitive(false);
  result.set_log_errors(false);
  result.set_max_mem(max_memory);
  return result;
}

// Neither a letter, a digit nor a mark: what may stand next to a word or phrase.
constexpr std::string_view boundary_before = "(?:^|[^\\pL\\pN\\pM])";
constexpr std::string_view boundary_after = "(?:$|[^\\pL\\pN\\pM])";

}  // namespace

struct WatchWordMatcher::Set {
  explicit Set(const RE2::Options& options) : set(options, RE2::UNANCHORED) {}
  RE2::Set set;
};

WatchWordMatcher::~WatchWordMatcher() = default;

std::string watch_word_expression(const WatchWord& entry) {
  if (entry.kind == WatchWord::Kind::regex) return entry.pattern;
  const std::string normalized = normalize_text(entry.pattern).text;
  return std::string(boundary_before) + RE2::QuoteMeta(normalized) + std::string(boundary_after);
}

std::string watch_word_problem(const WatchWord& entry) {
  switch (entry.kind) {
    case WatchWord::Kind::word:
    case WatchWord::Kind::phrase: {
      const std::string normalized = normalize_text(entry.pattern).text;
      if (normalized.empty()) return "is empty (after normalisation)";
      if (entry.kind == WatchWord::Kind::word && normalized.find(' ') != std::string::npos)
        return "is several words: use phrase = \"...\"";
      return {};
    }
    case WatchWord::Kind::regex: {
      if (entry.pattern.empty()) return "is empty";
      RE2 expression(entry.pattern, options(expression_memory));
      if (!expression.ok()) return "invalid regular expression: " + expression.error();
      return {};
    }
  }
  return {};
}

Result<std::shared_ptr<const WatchWordMatcher>> WatchWordMatcher::compile(const std::vector<WatchWord>& entries) {
  std::shared_ptr<WatchWordMatcher> matcher(new WatchWordMatcher());
  matcher->set_ = std::make_unique<Set>(options(set_memory));
  for (const auto& entry : entries) {
    const std::string expression = watch_word_expression(entry);
    std::string error;
    if (matcher->set_->set.Add(expression, &error) < 0)
      return Error{"watch word " + entry.pattern + ": invalid regular expression: " + error};
    auto single = std::make_unique<RE2>(expression, options(expression_memory));
    if (!single->ok()) return Error{"watch word " + entry.pattern + ": invalid regular expression: " + single->error()};
    matcher->expressions_.push_back(std::move(single));
  }
  if (!entries.empty() && !matcher->set_->set.Compile())
    return Error{"watch words: too many or too complex to compile together (RE2 memory limit)"};
  return std::shared_ptr<const WatchWordMatcher>(std::move(matcher));
}

std::vector<std::size_t> WatchWordMatcher::find(std::string_view normalized_text) const {
  std::vector<std::size_t> found;
  if (expressions_.empty()) return found;
  std::vector<int> indices;
  RE2::Set::ErrorInfo error{};
  if (set_->set.Match(normalized_text, &indices, &error)) {
    for (int index : indices) found.push_back(static_cast<std::size_t>(index));
    std::sort(found.begin(), found.end());
    return found;
  }
  if (error.kind == RE2::Set::kNoError) return found;
  // The set's DFA ran out of memory on this text: each expression alone (still linear).
  for (std::size_t index = 0; index < expressions_.size(); ++index) {
    if (RE2::PartialMatch(normalized_text, *expressions_[index])) found.push_back(index);
  }
  return found;
}

}  // namespace gatehouse::content
