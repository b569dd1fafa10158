// libFuzzer target for SMTP command-line parsing (src/smtp/command.hpp; RFC 5321 §4.1.1 commands,
// §4.1.2 paths and mailboxes, RFC 1870 SIZE, RFC 6531 SMTPUTF8).
//
// Input layout: 1 setting byte (bit 0: UTF-8 allowed), then one command line without CRLF.
//
// Invariants checked:
// - no crash in parse_command, parse_mail_argument, parse_rcpt_argument, parse_mailbox,
//   valid_domain and address_literal_ip; failures carry a reply code and a message;
// - a mailbox that parses re-parses from its text(): parse_mailbox(box.text()) succeeds and gives
//   the same local part and domain (for parse_mailbox and for MAIL/RCPT paths alike);
// - a parsed domain is valid_domain() (or an address literal address_literal_ip() accepts).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/command.hpp"

using namespace gatehouse;
using namespace gatehouse::smtp;

bool fuzz_invariant_ignored(const char* what);  // fuzz/fuzz_support.cpp

namespace {

std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 300)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    }
  }
  return out;
}

// Aborts (a crash for libFuzzer) unless FUZZ_IGNORE names this invariant (fuzz_support.cpp).
void fail(const char* what, std::string_view first, std::string_view second = {}) {
  if (fuzz_invariant_ignored(what)) return;
  std::fprintf(stderr, "command invariant violated: %s\n  [%s]\n  [%s]\n", what, printable(first).c_str(),
               printable(second).c_str());
  std::abort();
}

void check_error(const Error& error, std::string_view input) {
  if (error.message.empty()) fail("an error without a message", input);
  if (error.code < 400 || error.code > 599) fail("an error without a 4xx/5xx reply code", input, error.message);
}

void check_mailbox(const Mailbox& box, bool utf8_allowed, std::string_view input) {
  if (!box.domain.empty()) {
    const bool literal = box.domain.front() == '[';
    if (literal ? !address_literal_ip(box.domain).has_value() : !valid_domain(box.domain, utf8_allowed))
      fail("a parsed domain that is not valid", input, box.domain);
  }
  const std::string text = box.text();
  auto again = parse_mailbox(text, utf8_allowed);
  if (!again) return fail("parse_mailbox(box.text()) fails", input, text + " -> " + again.error().message);
  if (again->local != box.local || again->domain != box.domain)
    fail("parse_mailbox(box.text()) gives another local part or domain", input, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool utf8_allowed = data[0] & 0x01;
  const std::string_view line(reinterpret_cast<const char*>(data + 1), size - 1);

  const Command command = parse_command(line);
  (void)command;

  if (auto box = parse_mailbox(line, utf8_allowed)) check_mailbox(*box, utf8_allowed, line);
  else check_error(box.error(), line);

  // The argument as the session passes it: after "MAIL " / "RCPT ".
  if (auto mail = parse_mail_argument(line, utf8_allowed)) {
    if (!mail->sender.empty()) check_mailbox(mail->sender, mail->params.smtputf8, line);
  } else {
    check_error(mail.error(), line);
  }
  if (auto rcpt = parse_rcpt_argument(line, utf8_allowed)) check_mailbox(rcpt->recipient, utf8_allowed, line);
  else check_error(rcpt.error(), line);

  (void)valid_domain(line, utf8_allowed);
  (void)address_literal_ip(line);
  return 0;
}
