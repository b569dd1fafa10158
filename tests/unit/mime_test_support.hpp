// Helpers shared by the MIME reader's tests (mime_test.cpp, mime4j_test.cpp).
#pragma once
#include <string>
#include <string_view>

namespace gatehouse::test {

// The text with every LF written as CRLF, as messages travel in SMTP.
inline std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += "\r\n";
    else out += c;
  }
  return out;
}

}  // namespace gatehouse::test
