// SMTP command-line parsing (RFC 5321 §4.1.1, §4.1.2; RFC 1870; RFC 6152; RFC 6531).
// Lenient where real senders commonly deviate (spaces after "FROM:", missing angle brackets,
// odd dots in local parts), strict where ambiguity could be abused (several '@', bad domains).
#include "smtp/command.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>

namespace gatehouse::smtp {
namespace {

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

// RFC 5322 atext.
bool is_atext(unsigned char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '/': case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

Error syntax_error(std::string text, std::string enhanced = "5.5.4") {
  return Error{std::move(text), 501, std::move(enhanced)};
}

// Splits "<path> params" into the path (without brackets) and the parameter text.
// Accepts a missing pair of brackets (then the path ends at the first space).
Result<std::pair<std::string_view, std::string_view>> split_path(std::string_view arg, const char* what) {
  arg = trim(arg);
  if (arg.empty()) return syntax_error(std::string("Syntax error: missing ") + what);
  if (arg.front() == '<') {
    // Find the closing '>' that is not inside a quoted string.
    bool in_quotes = false;
    for (std::size_t i = 1; i < arg.size(); ++i) {
      char c = arg[i];
      if (in_quotes && c == '\\' && i + 1 < arg.size()) { ++i; continue; }
      if (c == '"') in_quotes = !in_quotes;
      else if (c == '>' && !in_quotes) return std::pair{arg.substr(1, i - 1), trim(arg.substr(i + 1))};
    }
    return syntax_error(std::string("Syntax error in ") + what + ": missing '>'");
  }
  auto space = arg.find(' ');
  return std::pair{arg.substr(0, space), space == std::string_view::npos ? std::string_view{} : trim(arg.substr(space))};
}

}  // namespace

Command parse_command(std::string_view line) {
  Command cmd;
  auto space = line.find(' ');
  std::string_view verb = line.substr(0, space);
  cmd.verb_text = std::string(verb);
  for (auto& c : cmd.verb_text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (space != std::string_view::npos) cmd.argument = std::string(trim(line.substr(space + 1)));
  static constexpr std::pair<std::string_view, Verb> kVerbs[] = {
      {"HELO", Verb::helo}, {"EHLO", Verb::ehlo}, {"LHLO", Verb::lhlo}, {"MAIL", Verb::mail},
      {"RCPT", Verb::rcpt}, {"DATA", Verb::data}, {"BDAT", Verb::bdat}, {"RSET", Verb::rset},
      {"NOOP", Verb::noop}, {"QUIT", Verb::quit}, {"VRFY", Verb::vrfy}, {"EXPN", Verb::expn},
      {"HELP", Verb::help}, {"STARTTLS", Verb::starttls}, {"AUTH", Verb::auth}};
  for (auto [name, v] : kVerbs)
    if (cmd.verb_text == name) cmd.verb = v;
  return cmd;
}

std::optional<std::string> address_literal_ip(std::string_view domain) {
  if (domain.size() < 3 || domain.front() != '[' || domain.back() != ']') return std::nullopt;
  std::string_view inner = domain.substr(1, domain.size() - 2);
  unsigned char buf[16];
  if (inner.size() > 5 && iequals(inner.substr(0, 5), "IPv6:")) {
    std::string ip(inner.substr(5));
    if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) return ip;
    return std::nullopt;
  }
  std::string ip(inner);
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) return ip;
  return std::nullopt;
}

bool valid_domain(std::string_view domain, bool utf8_allowed) {
  if (domain.empty() || domain.size() > 255) return false;
  if (domain.front() == '[') return address_literal_ip(domain).has_value();
  std::size_t start = 0;
  while (start <= domain.size()) {
    auto dot = domain.find('.', start);
    std::string_view label = domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (unsigned char c : label) {
      if (is_alpha(c) || is_digit(c) || c == '-') continue;
      if (c >= 0x80 && utf8_allowed) continue;
      // Underscores appear in real host names (RFC 2181 §11); accept them.
      if (c == '_') continue;
      return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

std::string Mailbox::text() const {
  std::string local_text = local;
  // An unquoted local part is kept as sent; a quoted one keeps its quotes only if it is not a
  // plain dot-string ("alice" is alice, "a b" stays quoted), so lists and back-ends see one form.
  bool dot_string = !local.empty() && local.front() != '.' && local.back() != '.' &&
                    local.find("..") == std::string::npos;
  for (unsigned char c : local)
    if (!(is_atext(c) || c == '.' || c >= 0x80)) dot_string = false;
  bool needs_quotes = quoted ? !dot_string : false;
  if (!quoted)
    for (unsigned char c : local)
      if (!(is_atext(c) || c == '.' || c >= 0x80)) needs_quotes = true;
  if (needs_quotes) {
    local_text = "\"";
    for (char c : local) {
      if (c == '"' || c == '\\') local_text += '\\';
      local_text += c;
    }
    local_text += '"';
  }
  if (domain.empty()) return local_text;
  return local_text + "@" + domain;
}

Result<Mailbox> parse_mailbox(std::string_view text, bool utf8_allowed) {
  Mailbox box;
  std::size_t i = 0;
  // Source route "@a,@b:" (RFC 5321 §4.1.2 A-d-l): accepted and ignored (§C).
  if (!text.empty() && text.front() == '@') {
    auto colon = text.find(':');
    if (colon == std::string_view::npos) return syntax_error("Syntax error in address: bad source route", "5.1.3");
    text.remove_prefix(colon + 1);
    box.had_source_route = true;
  }
  if (text.empty()) return syntax_error("Syntax error in address: empty", "5.1.3");
  if (text.front() == '"') {
    box.quoted = true;
    for (i = 1; i < text.size(); ++i) {
      unsigned char c = text[i];
      if (c == '\\') {
        if (i + 1 >= text.size()) return syntax_error("Syntax error in address: bad quoted string", "5.1.3");
        unsigned char next = text[++i];
        if (next < 32 || next == 127) return syntax_error("Syntax error in address: control character", "5.1.3");
        if (next >= 0x80) {
          if (!utf8_allowed) return Error{"Non-ASCII address requires SMTPUTF8", 553, "5.6.7"};
          box.utf8 = true;
        }
        box.local += static_cast<char>(next);
        continue;
      }
      if (c == '"') break;
      if (c < 32 || c == 127) return syntax_error("Syntax error in address: control character", "5.1.3");
      if (c >= 0x80) {
        if (!utf8_allowed) return Error{"Non-ASCII address requires SMTPUTF8", 553, "5.6.7"};
        box.utf8 = true;
      }
      box.local += static_cast<char>(c);
    }
    if (i >= text.size()) return syntax_error("Syntax error in address: unterminated quoted string", "5.1.3");
    ++i;  // closing quote
  } else {
    for (; i < text.size() && text[i] != '@'; ++i) {
      unsigned char c = text[i];
      if (is_atext(c) || c == '.') { box.local += static_cast<char>(c); continue; }
      if (c >= 0x80) {
        if (!utf8_allowed) return Error{"Non-ASCII address requires SMTPUTF8", 553, "5.6.7"};
        box.utf8 = true;
        box.local += static_cast<char>(c);
        continue;
      }
      return syntax_error("Syntax error in address: invalid character in local part", "5.1.3");
    }
    if (box.local.empty()) return syntax_error("Syntax error in address: empty local part", "5.1.3");
  }
  if (box.local.size() > 64 * 4) return Error{"Local part too long", 501, "5.1.3"};
  if (i == text.size()) return box;  // no domain: only "postmaster" is meaningful (§4.1.1.3)
  if (text[i] != '@') return syntax_error("Syntax error in address: expected '@'", "5.1.3");
  std::string_view domain = text.substr(i + 1);
  if (!domain.empty() && domain.back() == '.' && domain.front() != '[') domain.remove_suffix(1);
  // RFC 6531 §3.4: a non-ASCII domain without SMTPUTF8 gets the same 553 as a non-ASCII local part.
  if (!utf8_allowed && std::any_of(domain.begin(), domain.end(), [](unsigned char c) { return c >= 0x80; }))
    return Error{"Non-ASCII address requires SMTPUTF8", 553, "5.6.7"};
  if (!valid_domain(domain, utf8_allowed)) return syntax_error("Syntax error in address: invalid domain", "5.1.3");
  for (unsigned char c : domain)
    if (c >= 0x80) box.utf8 = true;
  box.domain = domain.front() == '[' ? std::string(domain) : to_lower_ascii(domain);
  return box;
}

Result<MailArgument> parse_mail_argument(std::string_view argument, bool smtputf8_allowed) {
  if (argument.size() < 5 || !iequals(argument.substr(0, 5), "FROM:"))
    return syntax_error("Syntax: MAIL FROM:<address>");
  // The parameters decide whether UTF-8 is allowed in the path, so look at them first.
  auto split = split_path(argument.substr(5), "sender address");
  if (!split) return split.error();
  auto [path, params_text] = *split;
  MailArgument result;
  std::size_t pos = 0;
  while (pos < params_text.size()) {
    auto end = params_text.find(' ', pos);
    std::string_view param = params_text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? params_text.size() : end + 1;
    if (param.empty()) continue;
    auto eq = param.find('=');
    std::string_view key = param.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
    if (iequals(key, "SIZE")) {
      std::uint64_t size = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), size);
      if (ec != std::errc{} || p != value.data() + value.size() || value.empty())
        return syntax_error("Bad SIZE parameter");
      result.params.size = size;
    } else if (iequals(key, "BODY")) {
      if (iequals(value, "7BIT")) result.params.body = "7BIT";
      else if (iequals(value, "8BITMIME")) result.params.body = "8BITMIME";
      else return Error{"Unsupported BODY type", 555, "5.5.4"};
    } else if (iequals(key, "SMTPUTF8") && value.empty()) {
      if (!smtputf8_allowed) return Error{"SMTPUTF8 not offered", 555, "5.5.4"};
      result.params.smtputf8 = true;
    } else {
      return Error{"Unsupported option: " + std::string(key), 555, "5.5.4"};
    }
  }
  if (path.empty()) return result;  // null reverse-path "<>"
  auto box = parse_mailbox(path, result.params.smtputf8);
  if (!box) {
    Error e = box.error();
    if (e.enhanced == "5.1.3") e.enhanced = "5.1.7";
    return e;
  }
  if (box->domain.empty()) return syntax_error("Sender address must have a domain", "5.1.7");
  result.sender = std::move(*box);
  return result;
}

Result<RcptArgument> parse_rcpt_argument(std::string_view argument, bool smtputf8_allowed) {
  if (argument.size() < 3 || !iequals(argument.substr(0, 3), "TO:"))
    return syntax_error("Syntax: RCPT TO:<address>");
  auto split = split_path(argument.substr(3), "recipient address");
  if (!split) return split.error();
  auto [path, params_text] = *split;
  if (!trim(params_text).empty()) return Error{"Unsupported option", 555, "5.5.4"};
  if (path.empty()) return syntax_error("Recipient address required", "5.1.3");
  auto box = parse_mailbox(path, smtputf8_allowed);
  if (!box) return box.error();
  RcptArgument result;
  result.recipient = std::move(*box);
  return result;
}

}  // namespace gatehouse::smtp
