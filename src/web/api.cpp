// The JSON API. See api.hpp; the routes and their parameters are documented in openapi.json.
// Status codes follow RFC 9110 §15 (401 without a session, 403 for a missing CSRF token or a role
// that may not, 405 with Allow, 415 for a body that is not JSON, 429 with Retry-After); the
// session cookie follows RFC 6265.
#include "web/api.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <ctime>

#include "common/time_text.hpp"
#include "content/headers.hpp"
#include "store/record_json.hpp"
#include "web/static_files.hpp"

namespace gatehouse::web {
namespace {

constexpr std::size_t default_page = 50;
constexpr std::size_t max_page = 500;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string domain_of(std::string_view address) {
  // "addr: 550 …" (a refused recipient) or "addr"; the domain after the last '@'.
  address = address.substr(0, address.find(": "));
  if (!address.empty() && address.back() == '>') address.remove_suffix(1);
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : lower(address.substr(at + 1));
}

bool state_changing(const std::string& method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

bool is_json(const Request& request) {
  std::string type = lower(request.header("content-type"));
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type == "application/json";
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

// A time in a query (common/time_text.hpp), as a program sends it: milliseconds since the epoch
// allowed, and a time without a zone is UTC.
std::optional<Clock::time_point> parse_time(const std::string& text) {
  auto time = parse_time_text(text, {UnzonedTime::utc, true});
  if (!time) return std::nullopt;
  return *time;
}

// A page cursor: "<milliseconds>.<id>" of the last row of the previous page.
std::string make_cursor(const TransactionRecord& record) {
  return fmt::format("{}.{}", milliseconds_of(record.time), record.id);
}

bool read_cursor(const std::string& text, SearchQuery& query) {
  auto dot = text.find('.');
  if (dot == std::string::npos) return false;
  auto milliseconds = parse_integer(std::string_view(text).substr(0, dot));
  std::string id = text.substr(dot + 1);
  if (!milliseconds || *milliseconds < 0 || id.empty() || id.size() > 64) return false;
  query.before_time = Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(*milliseconds)));
  query.before_id = id;
  return true;
}

boost::json::object user_json(const User& user) {
  return boost::json::object{{"username", user.name}, {"role", user.role}, {"domains", boost::json::value_from(user.domains)}};
}

// A record as a domain administrator may see it: recipients of other domains left out.
boost::json::object record_json(const TransactionRecord& record, const User& user) {
  if (user.role == "admin") return record_to_json(record);
  TransactionRecord visible = record;
  auto mine = [&](const std::string& address) {
    return std::find(user.domains.begin(), user.domains.end(), domain_of(address)) != user.domains.end();
  };
  std::erase_if(visible.recipients, [&](const std::string& a) { return !mine(a); });
  std::erase_if(visible.rejected_recipients, [&](const std::string& a) { return !mine(a); });
  auto json = record_to_json(visible);
  json["hidden_recipients"] = (record.recipients.size() - visible.recipients.size()) +
                              (record.rejected_recipients.size() - visible.rejected_recipients.size());
  return json;
}

}  // namespace

const std::vector<Api::Route>& Api::routes() {
  static const std::vector<Route> table{
      {"POST", "/api/v1/session", false},
      {"GET", "/api/v1/session", true},
      {"DELETE", "/api/v1/session", true},
      {"GET", "/api/v1/messages", true},
      {"GET", "/api/v1/messages/{id}", true},
      {"GET", "/api/v1/messages/{id}/raw", true},
      {"GET", "/api/v1/audit", true},
      {"GET", "/api/v1/openapi.json", false},
      {"GET", "/metrics", false},
  };
  return table;
}

Api::Api(Store& store, ConfigSource config, metrics::Registry& metrics)
    : store_(store), config_(std::move(config)), metrics_(metrics), limiter_(5, std::chrono::seconds(300)),
      now_([] { return LoginLimiter::Clock::now(); }) {
  (void)metrics::gateway();   // the gateway's families are listed from the start, zero or not
}

Response Api::handle(const Request& request) {
  // Everything but /api/… and /metrics is the browser interface's files, with headers of their own.
  if (is_static_path(request.path)) {
    Response response = serve_static(request, config_()->web);
    if (response.status >= 400)
      spdlog::info("web: {} {} from {}: {} {}", request.method, to_valid_utf8(request.path), request.client_ip,
                   response.status, response.body.substr(0, 200));
    metrics::gateway().http_requests.with({std::to_string(response.status)}).inc();
    return response;
  }
  Response response = dispatch(request);
  // Nothing here is for caching, framing or guessing types (a Subject with <script> stays text).
  response.headers.emplace_back("Cache-Control", "no-store");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  if (response.status >= 400) {
    std::string message = response.body.size() > 200 ? response.body.substr(0, 200) : response.body;
    spdlog::info("web: {} {} from {}: {} {}", request.method, to_valid_utf8(request.path), request.client_ip,
                 response.status, message);
  }
  metrics::gateway().http_requests.with({std::to_string(response.status)}).inc();
  return response;
}

Response Api::dispatch(const Request& request) {
  // Match the path against the route table: {id} matches one segment.
  auto split = [](std::string_view path) {
    std::vector<std::string_view> segments;
    while (!path.empty()) {
      auto slash = path.find('/', 1);
      segments.push_back(path.substr(1, slash == std::string_view::npos ? std::string_view::npos : slash - 1));
      path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
    }
    return segments;
  };
  const auto wanted = split(request.path);
  const Route* route = nullptr;
  std::string id;
  std::vector<std::string> allowed;
  for (const Route& candidate : routes()) {
    auto pattern = split(candidate.path);
    if (pattern.size() != wanted.size()) continue;
    std::string parameter;
    bool match = true;
    for (std::size_t i = 0; i < pattern.size() && match; ++i) {
      if (pattern[i] == "{id}") {
        if (wanted[i].empty()) match = false;
        else parameter = std::string(wanted[i]);
      } else if (pattern[i] != wanted[i]) {
        match = false;
      }
    }
    if (!match) continue;
    allowed.push_back(candidate.method);
    if (candidate.method == request.method) {
      route = &candidate;
      id = std::move(parameter);
    }
  }
  if (!route) {
    if (allowed.empty()) return Response::error(404, "no such resource");
    Response response = Response::error(405, fmt::format("method {} not allowed here", request.method));
    response.headers.emplace_back("Allow", fmt::format("{}", fmt::join(allowed, ", ")));
    return response;
  }
  const std::string& path = route->path;
  if (path == "/api/v1/openapi.json") {
    Response response;
    response.body = std::string(openapi_document());
    return response;
  }
  if (path == "/metrics") return metrics(request);
  if (path == "/api/v1/session" && request.method == "POST") return login(request);

  auto principal = authenticate(request);
  if (!principal) return Response::error(401, "not logged in");
  // Every change carries the session's CSRF token (the login itself has no session yet).
  if (state_changing(request.method) && !equal_secret(request.header("x-csrf-token"), principal->session.csrf_token))
    return Response::error(403, "missing or wrong X-CSRF-Token header");

  if (path == "/api/v1/session") return request.method == "GET" ? who(*principal) : logout(request, *principal);
  if (path == "/api/v1/messages") return search(request, *principal);
  if (path == "/api/v1/messages/{id}") return detail(*principal, id);
  if (path == "/api/v1/messages/{id}/raw") return raw(*principal, id);
  if (path == "/api/v1/audit") return audit(request, *principal);
  return Response::error(404, "no such resource");
}

std::optional<Api::Principal> Api::authenticate(const Request& request) {
  auto token = cookie_value(request.header("cookie"), session_cookie_name);
  if (!token || token->empty() || token->size() > 128) return std::nullopt;
  const std::string hash = token_hash(*token);
  auto session = store_.find_session(hash);
  if (!session) return std::nullopt;
  if (session->expires <= Clock::now()) {
    store_.remove_session(hash);
    return std::nullopt;
  }
  auto user = store_.find_user(session->username);
  if (!user) return std::nullopt;   // removed meanwhile (its sessions are removed with it)
  return Principal{std::move(*user), std::move(*session)};
}

void Api::record_audit(const Request& request, const std::string& username, std::string action, std::string detail) {
  AuditEntry entry;
  entry.username = username;
  entry.client_ip = request.client_ip;
  entry.action = std::move(action);
  entry.detail = std::move(detail);
  if (auto written = store_.audit(entry); !written) spdlog::error("web: audit log: {}", written.error().message);
}

Response Api::login(const Request& request) {
  auto config = config_();
  limiter_.configure(config->web.login_max_failures, config->web.login_failure_window);
  if (!is_json(request)) return Response::error(415, "the body must be JSON (Content-Type: application/json)");
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(request.body, ec);
  const boost::json::object* fields = ec ? nullptr : body.if_object();
  const boost::json::value* username_value = fields ? fields->if_contains("username") : nullptr;
  const boost::json::value* password_value = fields ? fields->if_contains("password") : nullptr;
  if (!username_value || !username_value->is_string() || !password_value || !password_value->is_string())
    return Response::error(400, "expected {\"username\": \"…\", \"password\": \"…\"}");
  std::string username(username_value->as_string());
  std::string password(password_value->as_string());
  if (username.empty() || username.size() > 64 || password.size() > max_password_length)
    return Response::error(400, "user name or password of an impossible length");
  const std::string user_key = lower(username);

  const auto now = now_();
  if (auto wait = limiter_.blocked(request.client_ip, user_key, now)) {
    spdlog::warn("web: login for user \"{}\" from {} refused: too many failed attempts (wait {}s)",
                 to_valid_utf8(username), request.client_ip, wait->count());
    Response response = Response::error(429, "too many failed logins: try again later");
    response.headers.emplace_back("Retry-After", std::to_string(wait->count()));
    return response;
  }
  auto user = store_.find_user(username);
  bool good = false;
  if (user) good = verify_password(user->password_hash, password);
  else verify_nothing(password);
  if (!good) {
    limiter_.failed(request.client_ip, user_key, now);
    spdlog::warn("web: login failed for user \"{}\" from {}: {}", to_valid_utf8(username), request.client_ip,
                 user ? "wrong password" : "no such user");
    return Response::error(401, "wrong user name or password");
  }
  limiter_.succeeded(user_key);
  store_.remove_expired_sessions(Clock::now());

  WebSession session;
  const std::string token = random_token();
  session.token_hash = token_hash(token);
  session.username = user->name;
  session.csrf_token = random_token();
  session.client_ip = request.client_ip;
  session.created = Clock::now();
  session.expires = session.created + config->web.session_lifetime;
  if (auto saved = store_.add_session(session); !saved) {
    spdlog::error("web: {}", saved.error().message);
    return Response::error(500, "cannot save the session");
  }
  spdlog::info("web: user \"{}\" logged in from {}", user->name, request.client_ip);
  record_audit(request, user->name, "login", "");
  auto json = user_json(*user);
  json["csrf_token"] = session.csrf_token;
  json["expires"] = milliseconds_of(session.expires);
  Response response = Response::json(200, std::move(json));
  response.headers.emplace_back("Set-Cookie", session_cookie(token, config->web.session_lifetime, request.secure));
  return response;
}

Response Api::logout(const Request& request, const Principal& principal) {
  store_.remove_session(principal.session.token_hash);
  spdlog::info("web: user \"{}\" logged out from {}", principal.user.name, request.client_ip);
  record_audit(request, principal.user.name, "logout", "");
  Response response;
  response.status = 204;
  response.content_type.clear();
  response.headers.emplace_back("Set-Cookie", session_cookie("", std::chrono::seconds(0), request.secure));
  return response;
}

Response Api::who(const Principal& principal) {
  auto json = user_json(principal.user);
  json["csrf_token"] = principal.session.csrf_token;
  json["expires"] = milliseconds_of(principal.session.expires);
  return Response::json(200, std::move(json));
}

Response Api::search(const Request& request, const Principal& principal) {
  SearchQuery query;
  query.limit = default_page;
  for (const auto& [key, value] : request.query) {
    if (key == "from" || key == "to") {
      auto time = parse_time(value);
      if (!time) return Response::error(400, fmt::format("{}: cannot read the time \"{}\" (use 2026-11-23T10:14:00Z, "
                                                         "milliseconds since 1970, or -2h)", key, value));
      (key == "from" ? query.since : query.until) = *time;
    } else if (key == "sender") query.sender = value;
    else if (key == "recipient") query.recipient = value;
    else if (key == "subject") query.subject = value;
    else if (key == "client_ip") query.client_ip = value;
    else if (key == "reason") query.reason = value;
    else if (key == "id") query.id = value;
    else if (key == "disposition") {
      static const std::vector<std::string> known{"accept", "tag", "reject", "tempfail", "abandoned"};
      if (std::find(known.begin(), known.end(), value) == known.end())
        return Response::error(400, "disposition: one of accept, tag, reject, tempfail, abandoned");
      query.disposition = value;
    } else if (key == "limit") {
      auto limit = parse_integer(value);
      if (!limit || *limit < 1 || *limit > static_cast<std::int64_t>(max_page))
        return Response::error(400, fmt::format("limit: a number from 1 to {}", max_page));
      query.limit = static_cast<std::size_t>(*limit);
    } else if (key == "before") {
      if (!read_cursor(value, query)) return Response::error(400, "before: not a cursor from a previous page's \"next\"");
    } else {
      return Response::error(400, fmt::format("unknown parameter \"{}\"", key));
    }
  }
  boost::json::array messages;
  boost::json::value next = nullptr;
  // A domain administrator sees only transactions with a recipient in their domains: a condition of
  // the query itself, so pages are full and counts honest.
  const bool restricted = principal.user.role != "admin";
  if (!restricted || !principal.user.domains.empty()) {
    if (restricted) query.visible_domains = principal.user.domains;
    const std::size_t page = query.limit;
    query.limit = page + 1;   // one more tells whether there is a next page
    auto rows = store_.search(query);
    if (rows.size() > page) {
      rows.resize(page);
      next = boost::json::string(make_cursor(rows.back()));
    }
    for (const auto& row : rows) messages.push_back(record_json(row, principal.user));
  }
  return Response::json(200, boost::json::object{{"messages", std::move(messages)}, {"next", std::move(next)}});
}

std::optional<TransactionRecord> Api::visible_record(const Principal& principal, const std::string& id) {
  if (id.empty() || id.size() > 64) return std::nullopt;
  SearchQuery query;
  query.id = id;
  query.limit = 1;
  if (principal.user.role != "admin") {
    if (principal.user.domains.empty()) return std::nullopt;
    query.visible_domains = principal.user.domains;
  }
  auto rows = store_.search(query);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

Response Api::detail(const Principal& principal, const std::string& id) {
  auto record = visible_record(principal, id);
  if (!record) return Response::error(404, "no such message");
  auto json = record_json(*record, principal.user);
  boost::json::array headers;
  if (record->has_message) {
    if (auto message = store_.message(record->id)) {
      for (const auto& field : content::parse_headers(*message).fields)
        headers.push_back(boost::json::object{{"name", field.name}, {"value", field.value}});
    }
  }
  json["headers"] = std::move(headers);
  json["raw_url"] = fmt::format("/api/v1/messages/{}/raw", record->id);
  return Response::json(200, std::move(json));
}

Response Api::raw(const Principal& principal, const std::string& id) {
  auto record = visible_record(principal, id);
  if (!record) return Response::error(404, "no such message");
  auto message = store_.message(record->id);
  if (!message) return Response::error(404, "no stored copy of this message");
  Response response;
  response.content_type = "message/rfc822";
  response.body = std::move(*message);
  response.headers.emplace_back("Content-Disposition", fmt::format("attachment; filename=\"{}.eml\"", record->id));
  return response;
}

Response Api::audit(const Request& request, const Principal& principal) {
  if (principal.user.role != "admin") return Response::error(403, "only administrators may read the audit log");
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
  auto entries = store_.audit_log(limit + 1, before);
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

Response Api::metrics(const Request& request) {
  // Open to monitoring hosts (metrics_networks, loopback by default); others need a session.
  auto config = config_();
  if (!in_networks(config->web.metrics_networks, request.client_ip)) {
    auto principal = authenticate(request);
    if (!principal) return Response::error(401, "not logged in (and not from web.metrics_networks)");
    // The figures cover every domain: not for a domain administrator.
    if (principal->user.role != "admin") return Response::error(403, "only administrators may read the metrics");
  }
  Response response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = metrics_.render();
  return response;
}

}  // namespace gatehouse::web
