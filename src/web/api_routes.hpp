// What the API's route modules (src/web/api_*.cpp) share: the logged-in Principal, the ApiContext
// (store, configuration in force, the daemon's services, the audit log, authentication) and small
// helpers for reading requests. Each module has one add_*_routes function that appends its routes
// to the table; api.cpp calls them all. Internal to src/web.
#pragma once
#include <boost/json.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.hpp"
#include "web/api.hpp"

namespace gatehouse::web {

struct Principal {
  User user;
  WebSession session;
};

struct ApiContext {
  Store& store;
  Api::ConfigSource config;
  metrics::Registry& metrics;
  ApiServices services;
  LoginLimiter limiter{5, std::chrono::seconds(300)};
  std::function<LoginLimiter::Clock::time_point()> now = [] { return LoginLimiter::Clock::now(); };

  // The session the request's cookie names, with its user; nullopt when none or expired.
  std::optional<Principal> authenticate(const Request& request);
  // Appends to the audit log (errors are logged, not returned: the change itself stands).
  void audit(const Request& request, const std::string& username, std::string action, std::string detail);
  // After a change of the gateway's run-time state (domains, addresses, lists, settings): the
  // daemon's gateway rebuilds what is in force now, so the next transaction sees it.
  void state_changed();
};

using Routes = std::vector<Api::Route>;

// The route modules.
void add_session_routes(Routes& routes, ApiContext& context);    // api_session.cpp: login, logout, audit log
void add_message_routes(Routes& routes, ApiContext& context);    // api_messages.cpp: the message log
void add_user_routes(Routes& routes, ApiContext& context);       // api_users.cpp: accounts
void add_stats_routes(Routes& routes, ApiContext& context);      // api_stats.cpp: the dashboard's figures
void add_domain_routes(Routes& routes, ApiContext& context);     // api_domains.cpp: domains, addresses
void add_list_routes(Routes& routes, ApiContext& context);       // api_lists.cpp: lists, settings
void add_recovery_routes(Routes& routes, ApiContext& context);   // api_recovery.cpp: release, resend, train, replay
void add_queue_routes(Routes& routes, ApiContext& context);      // api_queue.cpp: the delivery queue

// ---------------------------------------------------------------------------------------------
// Helpers (api_support.cpp)

inline constexpr std::size_t default_page = 50;
inline constexpr std::size_t max_page = 500;

// The lower-case domain after the last '@' of an address ("addr: 550 …" and "<addr>" too).
std::string domain_of(std::string_view address);
std::int64_t milliseconds_of(Clock::time_point time);
std::optional<std::int64_t> parse_integer(std::string_view text);
// A time in a query (common/time_text.hpp) as a program sends it: milliseconds since the epoch
// allowed, and a time without a zone is UTC.
std::optional<Clock::time_point> parse_time(const std::string& text);
bool is_json(const Request& request);
bool is_admin(const Principal& principal);
// An administrator may act on every domain, a domain administrator on theirs.
bool may_manage_domain(const Principal& principal, std::string_view domain);
boost::json::object user_json(const User& user);
// The transaction `id` if the principal may see it (api_messages.cpp).
std::optional<TransactionRecord> visible_record(ApiContext& context, const Principal& principal, const std::string& id);

// The request's body as a JSON object, or the 415/400 response to send instead.
struct JsonBody {
  boost::json::object object;
  std::optional<Response> error;
};
JsonBody read_json_object(const Request& request);

}  // namespace gatehouse::web
