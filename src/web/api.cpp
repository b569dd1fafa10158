// The JSON API. See api.hpp; the routes and their parameters are documented in openapi/*.json.
// Status codes follow RFC 9110 §15 (401 without a session, 403 for a missing CSRF token or a role
// that may not, 405 with Allow, 415 for a body that is not JSON, 429 with Retry-After); the
// session cookie follows RFC 6265.
#include "web/api.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/gateway.hpp"
#include "web/api_routes.hpp"
#include "web/static_files.hpp"

namespace gatehouse::web {

// The fragments src/web/openapi/*.json as one JSON array (cmake/embed.cmake, at build time).
std::string_view openapi_parts();

namespace {

bool state_changing(const std::string& method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    auto slash = path.find('/', 1);
    segments.push_back(path.substr(1, slash == std::string_view::npos ? std::string_view::npos : slash - 1));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  return segments;
}

// The first fragment (00-base.json) is the document; the others add their "paths" and
// "components" (schemas, parameters, responses).
std::string merge_openapi() {
  boost::json::array parts = boost::json::parse(openapi_parts()).as_array();
  boost::json::object document = parts.at(0).as_object();
  auto& paths = document["paths"];
  if (!paths.is_object()) paths.emplace_object();
  auto& components = document["components"].as_object();
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const auto& part = parts[i].as_object();
    if (auto* more = part.if_contains("paths"))
      for (const auto& [path, operations] : more->as_object()) {
        auto& merged = paths.as_object()[path];
        if (!merged.is_object()) merged.emplace_object();
        for (const auto& [method, operation] : operations.as_object()) merged.as_object()[method] = operation;
      }
    if (auto* more = part.if_contains("components"))
      for (const auto& [kind, entries] : more->as_object()) {   // schemas, parameters, responses
        auto& merged = components[kind];
        if (!merged.is_object()) merged.emplace_object();
        for (const auto& [name, entry] : entries.as_object()) merged.as_object()[name] = entry;
      }
  }
  return boost::json::serialize(document);
}

}  // namespace

std::string_view openapi_document() {
  static const std::string document = merge_openapi();
  return document;
}

std::optional<Principal> ApiContext::authenticate(const Request& request) {
  auto token = cookie_value(request.header("cookie"), session_cookie_name);
  if (!token || token->empty() || token->size() > 128) return std::nullopt;
  const std::string hash = token_hash(*token);
  auto session = store.find_session(hash);
  if (!session) return std::nullopt;
  if (session->expires <= Clock::now()) {
    store.remove_session(hash);
    return std::nullopt;
  }
  auto user = store.find_user(session->username);
  if (!user) return std::nullopt;   // removed meanwhile (its sessions are removed with it)
  return Principal{std::move(*user), std::move(*session)};
}

void ApiContext::state_changed() {
  if (services.gateway) services.gateway->refresh_runtime_state();
}

void ApiContext::audit(const Request& request, const std::string& username, std::string action, std::string detail) {
  AuditEntry entry;
  entry.username = username;
  entry.client_ip = request.client_ip;
  entry.action = std::move(action);
  entry.detail = std::move(detail);
  if (auto written = store.audit(entry); !written) spdlog::error("web: audit log: {}", written.error().message);
}

namespace {

Response metrics_text(ApiContext& context, const Request& request) {
  // Open to monitoring hosts (metrics_networks, loopback by default); others need a session.
  auto config = context.config();
  if (!in_networks(config->web.metrics_networks, request.client_ip)) {
    auto principal = context.authenticate(request);
    if (!principal) return Response::error(401, "not logged in (and not from web.metrics_networks)");
    // The figures cover every domain: not for a domain administrator.
    if (!is_admin(*principal)) return Response::error(403, "only administrators may read the metrics");
  }
  Response response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = context.metrics.render();
  return response;
}

}  // namespace

Api::Api(Store& store, ConfigSource config, metrics::Registry& metrics, ApiServices services)
    : context_(new ApiContext{store, std::move(config), metrics, services}) {
  (void)metrics::gateway();   // the gateway's families are listed from the start, zero or not
  ApiContext& context = *context_;
  add_session_routes(routes_, context);
  add_message_routes(routes_, context);
  add_user_routes(routes_, context);
  add_stats_routes(routes_, context);
  add_domain_routes(routes_, context);
  add_list_routes(routes_, context);
  add_recovery_routes(routes_, context);
  add_queue_routes(routes_, context);
  routes_.push_back({"GET", "/api/v1/openapi.json", false, [](const Request&, const Principal*, const std::string&) {
                       Response response;
                       response.body = std::string(openapi_document());
                       return response;
                     }});
  routes_.push_back({"GET", "/metrics", false, [&context](const Request& request, const Principal*, const std::string&) {
                       return metrics_text(context, request);
                     }});
}

Api::~Api() = default;

void Api::set_clock(std::function<LoginLimiter::Clock::time_point()> now) { context_->now = std::move(now); }

Response Api::handle(const Request& request) {
  // Everything but /api/… and /metrics is the browser interface's files, with headers of their own.
  if (is_static_path(request.path)) {
    Response response = serve_static(request, context_->config()->web);
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
  const auto wanted = split_path(request.path);
  const Route* route = nullptr;
  std::string id;
  std::vector<std::string> allowed;
  for (const Route& candidate : routes_) {
    auto pattern = split_path(candidate.path);
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
  if (!route->needs_session) return route->handler(request, nullptr, id);

  auto principal = context_->authenticate(request);
  if (!principal) return Response::error(401, "not logged in");
  // Every change carries the session's CSRF token (the login itself has no session yet).
  if (state_changing(request.method) && !equal_secret(request.header("x-csrf-token"), principal->session.csrf_token))
    return Response::error(403, "missing or wrong X-CSRF-Token header");
  return route->handler(request, &*principal, id);
}

}  // namespace gatehouse::web
