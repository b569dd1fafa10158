// See http.hpp. Request targets: RFC 9112 §3.2 (origin-form) and RFC 3986 §2.1 (percent-encoding);
// the query's '+' as a space follows the HTML form encoding browsers use.
#include "web/http.hpp"

#include <boost/json.hpp>

namespace gatehouse::web {

std::string Request::header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0, n = text.size();
  while (i < n) {
    unsigned char c = bytes[i];
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (c < 0x80) length = 1, code = c;
    else if (c >= 0xc2 && c <= 0xdf) length = 2, code = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) length = 3, code = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) length = 4, code = c & 0x07;
    bool good = length > 0 && i + length <= n;
    for (std::size_t k = 1; good && k < length; ++k) {
      if ((bytes[i + k] & 0xc0) != 0x80) good = false;
      else code = (code << 6) | (bytes[i + k] & 0x3f);
    }
    // No overlong forms, surrogates or code points above U+10FFFF (RFC 3629 §3).
    if (good && ((length == 3 && code < 0x800) || (length == 4 && (code < 0x10000 || code > 0x10ffff)) ||
                 (code >= 0xd800 && code <= 0xdfff)))
      good = false;
    if (!good) {
      out += "\xef\xbf\xbd";
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
  return out;
}

namespace {
void make_valid(boost::json::value& value) {
  if (auto* text = value.if_string()) {
    std::string_view view(text->data(), text->size());
    std::string fixed = to_valid_utf8(view);
    if (fixed != view) *text = fixed;
  } else if (auto* array = value.if_array()) {
    for (auto& element : *array) make_valid(element);
  } else if (auto* object = value.if_object()) {
    for (auto& member : *object) make_valid(member.value());   // keys are ours: ASCII
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view text, bool plus_is_space, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return false;
      int high = hex_digit(text[i + 1]), low = hex_digit(text[i + 2]);
      if (high < 0 || low < 0) return false;
      c = static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return false;
    out += c;
  }
  return true;
}
}  // namespace

Response Response::json(int status, boost::json::value value) {
  make_valid(value);
  Response response;
  response.status = status;
  // <, > and & only occur inside strings: escaped, a hostile Subject cannot become markup even
  // in a client that mistakes the body for HTML.
  std::string text = boost::json::serialize(value);
  response.body.reserve(text.size());
  for (char c : text) {
    if (c == '<') response.body += "\\u003c";
    else if (c == '>') response.body += "\\u003e";
    else if (c == '&') response.body += "\\u0026";
    else response.body += c;
  }
  return response;
}

Response Response::error(int status, std::string_view message) {
  return json(status, boost::json::object{{"error", message}});
}

Response Response::no_content() {
  Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

bool parse_target(std::string_view target, std::string& path, std::map<std::string, std::string>& query) {
  if (target.empty() || target.front() != '/') return false;
  auto question = target.find('?');
  std::string_view raw_path = target.substr(0, question);
  if (raw_path.find('#') != std::string_view::npos) return false;
  if (!percent_decode(raw_path, false, path)) return false;
  query.clear();
  if (question == std::string_view::npos) return true;
  std::string_view rest = target.substr(question + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto equals = pair.find('=');
    std::string key, value;
    if (!percent_decode(pair.substr(0, equals), true, key)) return false;
    if (equals != std::string_view::npos && !percent_decode(pair.substr(equals + 1), true, value)) return false;
    query[key] = value;   // the last one wins
  }
  return true;
}

}  // namespace gatehouse::web
