// The JSON API under /api/v1/ (and /metrics): routing, authentication by session cookie, CSRF
// tokens on every change, and the route modules (api_*.cpp: the session and audit log, the message
// log, …), each adding its routes to one table. Api::handle() is the whole of it: a Request in, a
// Response out, no sockets, so it is unit-tested directly (tests/unit/web_test.cpp). The routes
// are described in src/web/openapi/*.json, merged into the document served at
// /api/v1/openapi.json.
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

namespace gatehouse {
namespace delivery { class DeliveryQueue; }
namespace engine { class Gateway; }
namespace classifier { class BackgroundLearner; }
}  // namespace gatehouse

namespace gatehouse::web {

// The OpenAPI document: src/web/openapi/*.json (embedded at build time) merged into one.
std::string_view openapi_document();

// The daemon's parts the API acts on besides the store. Any may be null (the unit tests, a daemon
// without a classifier): a route that needs a missing one answers 503.
struct ApiServices {
  delivery::DeliveryQueue* queue = nullptr;
  engine::Gateway* gateway = nullptr;
  classifier::BackgroundLearner* learner = nullptr;
};

struct ApiContext;
struct Principal;

class Api {
 public:
  using ConfigSource = std::function<std::shared_ptr<const Config>()>;
  Api(Store& store, ConfigSource config, metrics::Registry& metrics = metrics::registry(), ApiServices services = {});
  ~Api();

  // Thread-safe: the server calls it from several threads at once.
  Response handle(const Request& request);

  // One route: `handler` gets the request, the logged-in user (null where needs_session is
  // false) and the {id} path parameter ("" when the path has none).
  using Handler = std::function<Response(const Request&, const Principal*, const std::string& id)>;
  struct Route {
    std::string method;
    std::string path;          // with {id} for a path parameter
    bool needs_session;        // false: the login, the OpenAPI document, /metrics (see metrics_networks)
    Handler handler;
  };
  const std::vector<Route>& routes() const { return routes_; }

  // For tests: the clock the login rate limit reads.
  void set_clock(std::function<LoginLimiter::Clock::time_point()> now);

 private:
  Response dispatch(const Request& request);

  std::unique_ptr<ApiContext> context_;
  std::vector<Route> routes_;
};

}  // namespace gatehouse::web
