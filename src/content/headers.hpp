// A small RFC 5322 §2.2 header-section reader: unfolds header fields and finds them by name.
// Enough for the log row (From, Subject, Message-ID) and structural checks; full MIME parsing
// (GMime) belongs to the content analysis.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::content {

struct HeaderField {
  std::string name;    // as written
  std::string value;   // unfolded, leading whitespace removed
};

struct HeaderSection {
  std::vector<HeaderField> fields;
  std::size_t body_offset = 0;      // where the body starts in the message
  bool malformed = false;           // a line that is neither a field nor a continuation
  std::optional<std::string> first(std::string_view name) const;   // case-insensitive
  std::size_t count(std::string_view name) const;
};

HeaderSection parse_headers(std::string_view message, std::size_t max_fields = 1000);

// Skips a leading mbox "From " line if present (files exported from mail archives).
std::string_view strip_mbox_from_line(std::string_view message);

// Decodes RFC 2047 encoded-words for display when they are UTF-8/ASCII/Latin-1 (B and Q);
// other charsets are left as they are.
std::string decode_encoded_words(std::string_view text);

// The time a Date-style field value gives (RFC 5322 §3.3, and the obsolete forms of §4.3 GMime reads),
// or nullopt when it cannot be read.
std::optional<std::chrono::system_clock::time_point> date_field_time(const std::string& value);

// The domain of the first address of a From-style field value (RFC 5322 §3.4: "Name <a@b>",
// "a@b (comment)", quoted local parts), lower case without a trailing dot; "" when there is none.
std::string address_domain_of_header(std::string_view value);

}  // namespace gatehouse::content
