// SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463, announced per RFC 2034).
#pragma once
#include <string>
#include <string_view>

namespace gatehouse::smtp {

struct Reply {
  int code = 0;              // 250, 354, 421, 550, …
  std::string enhanced;      // "2.0.0"; empty for replies that carry none (220, 221 greeting, 354)
  std::string text;          // may contain '\n' for a multi-line reply

  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }
  // The reply on the wire, CRLF-terminated, multi-line with "code-" continuation lines.
  std::string wire(bool enhanced_codes = true) const;
  // One-line form for logs: "550 5.1.1 text".
  std::string summary() const;
};

}  // namespace gatehouse::smtp
