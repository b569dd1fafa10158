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

  std::unique_ptr<BackendConnection> take(const std::string& backend);
  void give(std::unique_ptr<BackendConnection> connection);
  void clear();

 private:
  std::mutex mutex_;
  std::map<std::string, std::vector<std::unique_ptr<BackendConnection>>> idle_;
  std::size_t max_idle_;
  std::chrono::seconds max_idle_time_;
};

}  // namespace gatehouse::delivery
