// The web server's request and response, independent of sockets: the server (server.cpp) fills a
// Request from Beast's parser and writes the Response back; the API (api.cpp) maps one to the
// other, so routing, authentication and CSRF are tested without a network. HTTP semantics follow
// RFC 9110, the message syntax RFC 9112.
#pragma once
#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gatehouse::web {

struct Request {
  std::string method;                           // "GET", "POST", … (case-sensitive, RFC 9110 §9.1)
  std::string target;                           // as sent: "/api/v1/messages?limit=5"
  std::string path;                             // percent-decoded, without the query
  std::map<std::string, std::string> query;     // percent-decoded; '+' is a space
  std::map<std::string, std::string> headers;   // lower-case names; repeated fields joined with ", "
  std::string body;
  std::string client_ip;
  bool secure = false;                          // received over TLS

  std::string header(std::string_view name) const;   // "" when absent; `name` in lower case
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;   // besides Content-Type and Content-Length

  // The value as JSON (strings that are not UTF-8 get U+FFFD for each bad byte).
  static Response json(int status, boost::json::value value);
  // {"error": message}
  static Response error(int status, std::string_view message);
  // 204 without a body.
  static Response no_content();
};

// Splits a request target (origin-form, RFC 9112 §3.2.1) into its decoded path and query; false
// when it is not one (absolute-form, bad percent-encoding, a NUL byte).
bool parse_target(std::string_view target, std::string& path, std::map<std::string, std::string>& query);
// Every string in `text` that is not well-formed UTF-8 gets U+FFFD in place of each bad byte.
std::string to_valid_utf8(std::string_view text);

}  // namespace gatehouse::web
