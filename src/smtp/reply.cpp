// SMTP reply formatting (RFC 5321 §4.2.1 multi-line replies; RFC 2034 enhanced codes).
#include "smtp/reply.hpp"

#include <fmt/format.h>

namespace gatehouse::smtp {

std::string Reply::wire(bool enhanced_codes) const {
  std::string out;
  std::string_view rest = text;
  const bool with_enhanced = enhanced_codes && !enhanced.empty();
  do {
    auto nl = rest.find('\n');
    std::string line(rest.substr(0, nl));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Text may quote what a client or server sent: no control character may reach the wire.
    for (auto& c : line)
      if (static_cast<unsigned char>(c) < 32 || c == 127) c = '?';
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    const char sep = rest.empty() ? ' ' : '-';
    if (with_enhanced)
      out += fmt::format("{}{}{} {}\r\n", code, sep, enhanced, line);
    else
      out += fmt::format("{}{}{}\r\n", code, sep, line);
  } while (!rest.empty());
  return out;
}

std::string Reply::summary() const {
  std::string flat = text;
  for (auto& c : flat)
    if (c == '\n' || c == '\r') c = ' ';
  return enhanced.empty() ? fmt::format("{} {}", code, flat) : fmt::format("{} {} {}", code, enhanced, flat);
}

}  // namespace gatehouse::smtp
