// RFC 5322 §2.2 header unfolding and RFC 2047 encoded-word display decoding. See headers.hpp.
#include "content/headers.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>

namespace gatehouse::content {
namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0, buffer = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) continue;
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

std::string latin1_to_utf8(std::string_view in) {
  std::string out;
  for (unsigned char c : in) {
    if (c < 0x80) out += static_cast<char>(c);
    else {
      out += static_cast<char>(0xc0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return out;
}
}  // namespace

std::optional<std::string> HeaderSection::first(std::string_view name) const {
  for (auto& f : fields)
    if (iequals(f.name, name)) return f.value;
  return std::nullopt;
}

std::size_t HeaderSection::count(std::string_view name) const {
  return static_cast<std::size_t>(std::count_if(fields.begin(), fields.end(), [&](auto& f) { return iequals(f.name, name); }));
}

std::string_view strip_mbox_from_line(std::string_view message) {
  if (message.rfind("From ", 0) == 0) {
    auto nl = message.find('\n');
    return nl == std::string_view::npos ? std::string_view{} : message.substr(nl + 1);
  }
  return message;
}

HeaderSection parse_headers(std::string_view message, std::size_t max_fields) {
  HeaderSection section;
  std::size_t pos = 0;
  while (pos < message.size()) {
    auto nl = message.find('\n', pos);
    std::size_t line_end = nl == std::string_view::npos ? message.size() : nl;
    std::string_view line = message.substr(pos, line_end - pos);
    std::size_t next = nl == std::string_view::npos ? message.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      section.body_offset = next;
      return section;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (section.fields.empty()) section.malformed = true;
      else {
        auto& value = section.fields.back().value;
        if (value.size() < 64 * 1024) value.append(line);
      }
    } else {
      auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        section.malformed = true;
      } else if (section.fields.size() < max_fields) {
        std::string_view name = line.substr(0, colon);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        section.fields.push_back({std::string(name), std::string(value)});
      }
    }
    pos = next;
  }
  section.body_offset = message.size();
  return section;
}

std::string decode_encoded_words(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  bool last_was_word = false;
  while (pos < text.size()) {
    auto start = text.find("=?", pos);
    if (start == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    // =?charset?enc?data?=
    auto q1 = text.find('?', start + 2);
    auto q2 = q1 == std::string_view::npos ? q1 : text.find('?', q1 + 1);
    auto end = q2 == std::string_view::npos ? q2 : text.find("?=", q2 + 1);
    if (end == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    std::string_view between = text.substr(pos, start - pos);
    bool only_space = std::all_of(between.begin(), between.end(), [](char c) { return c == ' ' || c == '\t'; });
    if (!(last_was_word && only_space)) out.append(between);  // RFC 2047 §6.2
    std::string charset(text.substr(start + 2, q1 - start - 2));
    for (auto& c : charset) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto star = charset.find('*'); star != std::string::npos) charset.resize(star);  // RFC 2231 language
    char encoding = static_cast<char>(std::toupper(static_cast<unsigned char>(text[q1 + 1])));
    std::string_view data = text.substr(q2 + 1, end - q2 - 1);
    std::string decoded;
    if (encoding == 'B') {
      decoded = base64_decode(data);
    } else if (encoding == 'Q') {
      for (std::size_t i = 0; i < data.size(); ++i) {
        if (data[i] == '_') decoded += ' ';
        else if (data[i] == '=' && i + 2 < data.size() && std::isxdigit(static_cast<unsigned char>(data[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(data[i + 2]))) {
          decoded += static_cast<char>(std::stoi(std::string(data.substr(i + 1, 2)), nullptr, 16));
          i += 2;
        } else decoded += data[i];
      }
    } else {
      out.append(text.substr(start, end + 2 - start));
      pos = end + 2;
      last_was_word = false;
      continue;
    }
    if (charset == "iso-8859-1" || charset == "latin1" || charset == "windows-1252")
      out += latin1_to_utf8(decoded);
    else if (charset == "utf-8" || charset == "utf8" || charset == "us-ascii" || charset == "ascii")
      out += decoded;
    else {
      // Other charsets are left as they are (see headers.hpp): their bytes are not UTF-8.
      out.append(text.substr(start, end + 2 - start));
      pos = end + 2;
      last_was_word = false;
      continue;
    }
    pos = end + 2;
    last_was_word = true;
  }
  return out;
}

std::string address_domain_of_header(std::string_view value) {
  // Drop comments and quoted strings (a quoted display name may contain '@' or '<').
  std::string plain;
  int depth = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size() && (quoted || depth > 0)) {
      ++i;
      continue;
    }
    if (quoted) {
      if (c == '"') quoted = false;
      else plain += 'x';   // keeps a quoted local part non-empty
      continue;
    }
    if (depth > 0) {
      if (c == '(') ++depth;
      else if (c == ')') --depth;
      continue;
    }
    if (c == '"') quoted = true;
    else if (c == '(') depth = 1;
    else plain += c;
  }
  std::string_view address = plain;
  if (auto open = address.find('<'); open != std::string_view::npos) {
    auto close = address.find('>', open);
    address = address.substr(open + 1, close == std::string_view::npos ? std::string_view::npos : close - open - 1);
  } else if (auto comma = address.find(','); comma != std::string_view::npos) {
    address = address.substr(0, comma);
  }
  auto at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string domain;
  for (char c : address.substr(at + 1)) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '>' || c == ',' || c == ';') {
      if (!domain.empty()) break;
      continue;
    }
    domain += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  return domain;
}

std::optional<std::chrono::system_clock::time_point> date_field_time(const std::string& value) {
  GDateTime* parsed = g_mime_utils_header_decode_date(value.c_str());
  if (!parsed) return std::nullopt;
  const auto when = std::chrono::system_clock::from_time_t(g_date_time_to_unix(parsed));
  g_date_time_unref(parsed);
  return when;
}

}  // namespace gatehouse::content
