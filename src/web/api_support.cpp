// Helpers the API's route modules share (api_routes.hpp): request parsing, times, roles.
#include <algorithm>
#include <charconv>

#include "common/time_text.hpp"
#include "web/api_routes.hpp"

namespace gatehouse::web {

std::string domain_of(std::string_view address) {
  address = address.substr(0, address.find(": "));
  if (!address.empty() && address.back() == '>') address.remove_suffix(1);
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : to_lower_ascii(address.substr(at + 1));
}

std::int64_t milliseconds_of(Clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

std::optional<std::int64_t> parse_integer(std::string_view text) {
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<Clock::time_point> parse_time(const std::string& text) {
  auto time = parse_time_text(text, {UnzonedTime::utc, true});
  if (!time) return std::nullopt;
  return *time;
}

bool is_json(const Request& request) {
  std::string type = to_lower_ascii(request.header("content-type"));
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type == "application/json";
}

bool is_admin(const Principal& principal) { return principal.user.role == "admin"; }

bool may_manage_domain(const Principal& principal, std::string_view domain) {
  if (is_admin(principal)) return true;
  const std::string wanted = to_lower_ascii(domain);
  return std::find(principal.user.domains.begin(), principal.user.domains.end(), wanted) != principal.user.domains.end();
}

boost::json::object user_json(const User& user) {
  return boost::json::object{{"username", user.name}, {"role", user.role}, {"domains", boost::json::value_from(user.domains)}};
}

JsonBody read_json_object(const Request& request) {
  JsonBody result;
  if (!is_json(request)) {
    result.error = Response::error(415, "the body must be JSON (Content-Type: application/json)");
    return result;
  }
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(request.body, ec);
  if (ec || !body.is_object()) {
    result.error = Response::error(400, ec ? fmt::format("the body is not valid JSON: {}", ec.message())
                                           : std::string("the body must be a JSON object"));
    return result;
  }
  result.object = std::move(body.as_object());
  return result;
}

}  // namespace gatehouse::web
