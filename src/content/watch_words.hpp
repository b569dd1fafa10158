// The content black list and watch words ([[watch_words]], [[domain.watch_words]]; docs/content.md
// "Watch words"): words, phrases and RE2 regular expressions looked for in a message's normalised
// text (content/normalize.hpp), each with an action. All entries of a policy are compiled once, at
// configuration load, into one RE2::Set: a message is read once whatever the number of entries,
// in time linear in its length (RE2 never backtracks).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"

namespace re2 {
class RE2;
}

namespace gatehouse::content {

class WatchWordMatcher {
 public:
  // Compiles the entries (words and phrases normalised like the text they are matched against).
  static Result<std::shared_ptr<const WatchWordMatcher>> compile(const std::vector<WatchWord>& entries);
  ~WatchWordMatcher();

  // The indices of the entries found in the normalised text, ascending; each at most once.
  std::vector<std::size_t> find(std::string_view normalized_text) const;
  std::size_t size() const { return expressions_.size(); }

 private:
  WatchWordMatcher() = default;
  struct Set;
  std::unique_ptr<Set> set_;                              // all entries at once
  std::vector<std::unique_ptr<re2::RE2>> expressions_;   // one by one, if the set runs out of memory
};

// Why an entry cannot be used ("" when it can): an empty word, a word with spaces, a phrase that
// normalises to nothing, an invalid regular expression (RE2's message).
std::string watch_word_problem(const WatchWord& entry);

// The RE2 expression an entry becomes: for words and phrases, the normalised text between word
// boundaries (a letter, digit or mark on neither side); regular expressions as written.
std::string watch_word_expression(const WatchWord& entry);

}  // namespace gatehouse::content
