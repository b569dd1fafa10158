// The JSON API under /api/v1/ (and /metrics): routing, authentication by session cookie, CSRF
// tokens on every change, the login rate limit, the audit log, and the first read routes (message
// log search, one message, its raw source). Api::handle() is the whole of it: a Request in, a
// Response out, no sockets, so it is unit-tested directly (tests/unit/web_api_test.cpp). The
// routes are described in src/web/openapi.json, served at /api/v1/openapi.json.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics.hpp"
#include "config/config.hpp"
#include "store/store.hpp"
#include "web/auth.hpp"
#include "web/http.hpp"

namespace gatehouse::web {

// The OpenAPI document (src/web/openapi.json, embedded at build time).
std::string_view openapi_document();

class Api {
 public:
  using ConfigSource = std::function<std::shared_ptr<const Config>()>;
  Api(Store& store, ConfigSource config, metrics::Registry& metrics = metrics::registry());

  // Thread-safe: the server calls it from several threads at once.
  Response handle(const Request& request);

  struct Route {
    std::string method;
    std::string path;          // with {id} for a path parameter
    bool needs_session;        // false: the login, the OpenAPI document, /metrics (see metrics_networks)
  };
  static const std::vector<Route>& routes();

  // For tests: the clock the login rate limit reads.
  void set_clock(std::function<LoginLimiter::Clock::time_point()> now) { now_ = std::move(now); }

 private:
  struct Principal {
    User user;
    WebSession session;
  };
  std::optional<Principal> authenticate(const Request& request);
  Response dispatch(const Request& request);
  Response login(const Request& request);
  Response logout(const Request& request, const Principal& principal);
  Response who(const Principal& principal);
  Response search(const Request& request, const Principal& principal);
  Response detail(const Principal& principal, const std::string& id);
  Response raw(const Principal& principal, const std::string& id);
  Response audit(const Request& request, const Principal& principal);
  Response metrics(const Request& request);
  std::optional<TransactionRecord> visible_record(const Principal& principal, const std::string& id);
  void record_audit(const Request& request, const std::string& username, std::string action, std::string detail);

  Store& store_;
  ConfigSource config_;
  metrics::Registry& metrics_;
  LoginLimiter limiter_;
  std::function<LoginLimiter::Clock::time_point()> now_;
};

}  // namespace gatehouse::web
