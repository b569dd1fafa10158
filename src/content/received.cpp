// Reading the names in a Received trace field (RFC 5321 §4.4); see received.hpp.
#include "content/received.hpp"

#include <cctype>

#include "common/text.hpp"

namespace gatehouse::content {
namespace {

bool space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Where the keyword (" by ", "from ") starts as a word in `text`, or npos.
std::size_t find_word(const std::string& text, std::string_view word, std::size_t from = 0) {
  for (auto at = text.find(word, from); at != std::string::npos; at = text.find(word, at + 1))
    if (at == 0 || space(text[at - 1])) return at;
  return std::string::npos;
}

// The host name that starts at `start` (up to white space, ';', '(' or ')'), without a final dot.
std::string host_at(const std::string& text, std::size_t start) {
  while (start < text.size() && space(text[start])) ++start;
  auto end = start;
  while (end < text.size() && !space(text[end]) && text[end] != ';' && text[end] != '(' && text[end] != ')') ++end;
  std::string host = text.substr(start, end - start);
  while (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

bool plausible_name(std::string_view name) {
  return name.find('.') != std::string_view::npos && name != "unknown" && name.front() != '[' &&
         name.find_first_not_of("0123456789.") != std::string_view::npos;
}

}  // namespace

ReceivedNames read_received_names(std::string_view value) {
  const std::string text = to_lower_ascii(value);
  ReceivedNames names;
  const auto by = find_word(text, "by ");
  if (by != std::string::npos) names.by = host_at(text, by + 3);
  const auto from = find_word(text, "from ");
  if (from == std::string::npos || (by != std::string::npos && from > by)) return names;
  const std::string clause = text.substr(from + 5, (by == std::string::npos ? text.size() : by) - from - 5);
  std::string name;
  if (clause.find("helo=") != std::string::npos || clause.find("(helo ") != std::string::npos) {
    name = host_at(clause, 0);                    // exim, qmail: the first word is the looked-up name
  } else if (auto open = clause.find('('); open != std::string::npos) {
    auto start = open + 1;                        // sendmail, Postfix: "(RDNS [ip])", "(user@RDNS [ip])"
    auto bracket = clause.find('[', start);
    auto close = clause.find(')', start);
    if (bracket != std::string::npos && (close == std::string::npos || bracket < close)) {
      std::string inside = clause.substr(start, bracket - start);
      if (auto at = inside.rfind('@'); at != std::string::npos) inside.erase(0, at + 1);
      name = host_at(inside, 0);
    }
  }
  if (!name.empty() && plausible_name(name)) names.client_name = name;
  return names;
}

}  // namespace gatehouse::content
