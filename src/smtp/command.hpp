// SMTP command-line parsing, sans-I/O (RFC 5321 §4.1.1 commands, §4.1.2 syntax of paths and
// mailboxes, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3030 BDAT).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.hpp"
#include "common/result.hpp"

namespace gatehouse::smtp {

using gatehouse::to_lower_ascii;   // common/text.hpp; smtp::to_lower_ascii as callers wrote it

enum class Verb { helo, ehlo, lhlo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, expn, help, starttls, auth, unknown };

struct Command {
  Verb verb = Verb::unknown;
  std::string verb_text;   // as sent, upper-cased
  std::string argument;    // everything after the verb and one space, trailing spaces removed
};

// Splits a command line (without CRLF) into verb and argument.
Command parse_command(std::string_view line);

// A mailbox from a reverse-path or forward-path. The local part is kept as sent (quoted form
// unquoted), the domain lower-cased. An address literal keeps its brackets: "[192.0.2.1]".
struct Mailbox {
  std::string local;
  std::string domain;      // empty for "<postmaster>"
  bool quoted = false;     // local part was a quoted-string
  bool utf8 = false;       // contains non-ASCII (needs SMTPUTF8)
  bool had_source_route = false;
  std::string text() const;   // local@domain, local part re-quoted if needed
  bool empty() const { return local.empty() && domain.empty(); }
};

struct MailParameters {
  std::optional<std::uint64_t> size;
  std::string body;        // "", "7BIT", "8BITMIME", "BINARYMIME"
  bool smtputf8 = false;
  std::string ret, envid;  // DSN (RFC 3461), passed along
};

struct MailArgument {
  Mailbox sender;          // empty() for the null reverse-path "<>"
  MailParameters params;
};

struct RcptArgument {
  Mailbox recipient;
  std::string notify, orcpt;  // DSN parameters, passed along
};

// "FROM:<path> [params]" after MAIL; errors carry the text for a 501/555 reply.
Result<MailArgument> parse_mail_argument(std::string_view argument, bool smtputf8_allowed);
Result<RcptArgument> parse_rcpt_argument(std::string_view argument, bool smtputf8_allowed);

// Parses "local@domain" (no angle brackets); used for paths and for configuration.
Result<Mailbox> parse_mailbox(std::string_view text, bool utf8_allowed);

// RFC 1035 / RFC 5321 §4.1.2 domain syntax (LDH labels, optionally UTF-8 labels when allowed).
bool valid_domain(std::string_view domain, bool utf8_allowed);
// "[1.2.3.4]" or "[IPv6:...]"; returns the bare address text or nullopt.
std::optional<std::string> address_literal_ip(std::string_view domain);


}  // namespace gatehouse::smtp
