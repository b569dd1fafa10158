// The Subject check (RFC 5322 §3.6.5; the decoded Subject of RFC 2047): a Subject written in
// capitals ("MAKE MONEY FAST"), which people rarely type and bulk mailers often do, and a Subject
// that names a sum of money ("$100 Million", "€5000 a week"), and one labelled as an advertisement
// ("ADV:", "[ADV]", the label some US state laws required of unsolicited ads). Scores only: a
// newsletter or an invoice may do any of them.
#include <fmt/format.h>

#include <cctype>

#include "checks/builtin.hpp"
#include "content/analysis.hpp"

namespace gatehouse::checks {
namespace {

constexpr std::size_t min_letters_for_capitals = 10;   // "RE: FW: OK" is not shouting

// At least 10 letters (ASCII; other alphabets are left alone), and nine in ten of them capitals.
bool written_in_capitals(std::string_view subject) {
  std::size_t letters = 0, capitals = 0;
  for (unsigned char c : subject) {
    if (c >= 'a' && c <= 'z') ++letters;
    if (c >= 'A' && c <= 'Z') ++letters, ++capitals;
  }
  return letters >= min_letters_for_capitals && capitals * 10 >= letters * 9;
}

// A currency sign ($, €, £) right before a digit, a space between allowed: "$100", "€ 5.000".
std::string sum_of_money(std::string_view subject) {
  static constexpr std::string_view signs[] = {"$", "\u20ac", "\u00a3"};
  for (std::size_t i = 0; i < subject.size(); ++i)
    for (std::string_view sign : signs) {
      if (subject.substr(i, sign.size()) != sign) continue;
      std::size_t digit = i + sign.size();
      if (digit < subject.size() && subject[digit] == ' ') ++digit;
      if (digit < subject.size() && subject[digit] >= '0' && subject[digit] <= '9') {
        std::size_t end = digit;
        while (end < subject.size() && (std::isdigit(static_cast<unsigned char>(subject[end])) || subject[end] == ',' ||
                                        subject[end] == '.'))
          ++end;
        return std::string(subject.substr(i, end - i));
      }
    }
  return {};
}

// "ADV: …", "[ADV] …", "(adv) …": the word ADV first, alone.
bool labelled_advertisement(std::string_view subject) {
  while (!subject.empty() && (subject.front() == ' ' || subject.front() == '\t')) subject.remove_prefix(1);
  if (!subject.empty() && (subject.front() == '[' || subject.front() == '(')) subject.remove_prefix(1);
  if (subject.size() < 3) return false;
  for (std::size_t i = 0; i < 3; ++i)
    if (std::tolower(static_cast<unsigned char>(subject[i])) != "adv"[i]) return false;
  return subject.size() == 3 || !std::isalnum(static_cast<unsigned char>(subject[3]));
}

class SubjectCheck final : public Check {
 public:
  std::string_view name() const override { return "subject"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.content) co_return outcome;
    const std::string& subject = context.content->mime.subject;
    const CheckPolicy& policy = context.policy->check(name());
    if (written_in_capitals(subject)) outcome.add(policy, "all_capitals", "Subject in capitals: " + subject.substr(0, 80));
    if (const std::string sum = sum_of_money(subject); !sum.empty())
      outcome.add(policy, "money", fmt::format("Subject names a sum: {}", sum));
    if (labelled_advertisement(subject)) outcome.add(policy, "advertisement", "Subject labelled ADV");
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_subject_check() { return std::make_unique<SubjectCheck>(); }

}  // namespace gatehouse::checks
