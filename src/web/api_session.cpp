// The API's session routes: log in (argon2id password, the login rate limit, a session cookie per
// RFC 6265 and a CSRF token), who is logged in, log out, and the audit log of every change.
#include <spdlog/spdlog.h>

#include "web/api_routes.hpp"

namespace gatehouse::web {
namespace {

Response login(ApiContext& context, const Request& request) {
  auto config = context.config();
  context.limiter.configure(config->web.login_max_failures, config->web.login_failure_window);
  JsonBody body = read_json_object(request);
  if (body.error && body.error->status == 415) return *body.error;
  const boost::json::value* username_value = body.error ? nullptr : body.object.if_contains("username");
  const boost::json::value* password_value = body.error ? nullptr : body.object.if_contains("password");
  if (!username_value || !username_value->is_string() || !password_value || !password_value->is_string())
    return Response::error(400, "expected {\"username\": \"…\", \"password\": \"…\"}");
  std::string username(username_value->as_string());
  std::string password(password_value->as_string());
  if (username.empty() || username.size() > 64 || password.size() > max_password_length)
    return Response::error(400, "user name or password of an impossible length");
  const std::string user_key = to_lower_ascii(username);

  const auto now = context.now();
  if (auto wait = context.limiter.blocked(request.client_ip, user_key, now)) {
    spdlog::warn("web: login for user \"{}\" from {} refused: too many failed attempts (wait {}s)",
                 to_valid_utf8(username), request.client_ip, wait->count());
    Response response = Response::error(429, "too many failed logins: try again later");
    response.headers.emplace_back("Retry-After", std::to_string(wait->count()));
    return response;
  }
  auto user = context.store.find_user(username);
  bool good = false;
  if (user) good = verify_password(user->password_hash, password);
  else verify_nothing(password);
  if (!good) {
    context.limiter.failed(request.client_ip, user_key, now);
    spdlog::warn("web: login failed for user \"{}\" from {}: {}", to_valid_utf8(username), request.client_ip,
                 user ? "wrong password" : "no such user");
    return Response::error(401, "wrong user name or password");
  }
  context.limiter.succeeded(user_key);
  context.store.remove_expired_sessions(Clock::now());

  WebSession session;
  const std::string token = random_token();
  session.token_hash = token_hash(token);
  session.username = user->name;
  session.csrf_token = random_token();
  session.client_ip = request.client_ip;
  session.created = Clock::now();
  session.expires = session.created + config->web.session_lifetime;
  if (auto saved = context.store.add_session(session); !saved) {
    spdlog::error("web: {}", saved.error().message);
    return Response::error(500, "cannot save the session");
  }
  spdlog::info("web: user \"{}\" logged in from {}", user->name, request.client_ip);
  context.audit(request, user->name, "login", "");
  auto json = user_json(*user);
  json["csrf_token"] = session.csrf_token;
  json["expires"] = milliseconds_of(session.expires);
  Response response = Response::json(200, std::move(json));
  response.headers.emplace_back("Set-Cookie", session_cookie(token, config->web.session_lifetime, request.secure));
  return response;
}

Response logout(ApiContext& context, const Request& request, const Principal& principal) {
  context.store.remove_session(principal.session.token_hash);
  spdlog::info("web: user \"{}\" logged out from {}", principal.user.name, request.client_ip);
  context.audit(request, principal.user.name, "logout", "");
  Response response = Response::no_content();
  response.headers.emplace_back("Set-Cookie", session_cookie("", std::chrono::seconds(0), request.secure));
  return response;
}

Response who(const Principal& principal) {
  auto json = user_json(principal.user);
  json["csrf_token"] = principal.session.csrf_token;
  json["expires"] = milliseconds_of(principal.session.expires);
  return Response::json(200, std::move(json));
}

Response audit_log(ApiContext& context, const Request& request, const Principal& principal) {
  if (!is_admin(principal)) return Response::error(403, "only administrators may read the audit log");
  std::size_t limit = default_page;
  std::int64_t before = 0;
  for (const auto& [key, value] : request.query) {
    auto number = parse_integer(value);
    if (key == "limit") {
      if (!number || *number < 1 || *number > static_cast<std::int64_t>(max_page))
        return Response::error(400, fmt::format("limit: a number from 1 to {}", max_page));
      limit = static_cast<std::size_t>(*number);
    } else if (key == "before") {
      if (!number || *number < 1) return Response::error(400, "before: an entry id");
      before = *number;
    } else {
      return Response::error(400, fmt::format("unknown parameter \"{}\"", key));
    }
  }
  auto entries = context.store.audit_log(limit + 1, before);
  boost::json::value next = nullptr;
  if (entries.size() > limit) {
    entries.resize(limit);
    next = entries.back().id;
  }
  boost::json::array out;
  for (const auto& entry : entries)
    out.push_back(boost::json::object{{"id", entry.id},
                                      {"time", milliseconds_of(entry.time)},
                                      {"username", entry.username},
                                      {"client_ip", entry.client_ip},
                                      {"action", entry.action},
                                      {"detail", entry.detail}});
  return Response::json(200, boost::json::object{{"entries", std::move(out)}, {"next", std::move(next)}});
}

}  // namespace

void add_session_routes(Routes& routes, ApiContext& context) {
  routes.push_back({"POST", "/api/v1/session", false,
                    [&context](const Request& request, const Principal*, const std::string&) { return login(context, request); }});
  routes.push_back({"GET", "/api/v1/session", true,
                    [](const Request&, const Principal* principal, const std::string&) { return who(*principal); }});
  routes.push_back({"DELETE", "/api/v1/session", true, [&context](const Request& request, const Principal* principal, const std::string&) {
                      return logout(context, request, *principal);
                    }});
  routes.push_back({"GET", "/api/v1/audit", true, [&context](const Request& request, const Principal* principal, const std::string&) {
                      return audit_log(context, request, *principal);
                    }});
}

}  // namespace gatehouse::web
