// SMTP reply parsing (RFC 5321 §4.2, RFC 2034). See reply_parser.hpp.
#include "smtp/reply_parser.hpp"

namespace gatehouse::smtp {
namespace {
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool looks_enhanced(std::string_view s) {
  // class "." subject "." detail, e.g. 2.1.5 / 5.7.23
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  std::size_t dots = 0;
  char previous = '.';
  for (char c : s) {
    if (c == '.') {
      if (previous == '.') return false;  // empty part
      ++dots;
    } else if (!is_digit(c)) {
      return false;
    }
    previous = c;
  }
  return dots == 2 && s.back() != '.';
}
}  // namespace

std::optional<Reply> ReplyParser::next() {
  Reply reply;
  std::size_t pos = 0;
  bool first = true;
  while (true) {
    auto nl = buffer_.find('\n', pos);
    if (nl == std::string::npos) {
      if (buffer_.size() > kMaxReplySize) {
        buffer_.clear();
        return Reply{0, "", "reply too long"};
      }
      return std::nullopt;
    }
    std::string_view line(buffer_.data() + pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() < 3 || line[0] < '2' || line[0] > '5' || !is_digit(line[1]) || !is_digit(line[2]) ||
        (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      buffer_.erase(0, pos);
      return Reply{0, "", std::string(line)};
    }
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
    auto space = text.find(' ');
    std::string_view maybe_enhanced = text.substr(0, space);
    if (looks_enhanced(maybe_enhanced) && maybe_enhanced[0] == line[0]) {
      if (first) reply.enhanced = std::string(maybe_enhanced);
      text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    }
    if (first) reply.code = code;
    else reply.text += '\n';
    reply.text += text;
    first = false;
    bool last = line.size() == 3 || line[3] == ' ';
    if (last) {
      buffer_.erase(0, pos);
      return reply;
    }
  }
}

}  // namespace gatehouse::smtp
