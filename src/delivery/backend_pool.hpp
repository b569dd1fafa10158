// A pool of idle connections to back-ends, so a client's transaction does not pay a TCP and
// EHLO round trip to the mail server each time. Connections idle for longer than the limit or
// that saw an error are closed instead of reused.
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "delivery/backend_client.hpp"

namespace gatehouse::delivery {

class BackendPool {
 public:
  explicit BackendPool(std::size_t max_idle_per_backend, std::chrono::seconds max_idle_time = std::chrono::seconds(30))
      : max_idle_(max_idle_per_backend), max_idle_time_(max_idle_time) {}

  // Connections are kept per back-end and per io_context (`context`), so a connection is only
  // reused by coroutines of the thread that owns its socket.
  std::unique_ptr<BackendConnection> take(const std::string& backend, const void* context);
  void give(std::unique_ptr<BackendConnection> connection, const void* context);
  void clear();

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, const void*>, std::vector<std::unique_ptr<BackendConnection>>> idle_;
  std::size_t max_idle_;
  std::chrono::seconds max_idle_time_;
};

}  // namespace gatehouse::delivery
