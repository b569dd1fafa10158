// The back-end connection pool. See backend_pool.hpp.
#include "delivery/backend_pool.hpp"

namespace gatehouse::delivery {

std::unique_ptr<BackendConnection> BackendPool::take(const std::string& backend, const void* context) {
  std::vector<std::unique_ptr<BackendConnection>> stale;
  std::unique_ptr<BackendConnection> found;
  {
    std::lock_guard lock(mutex_);
    auto& list = idle_[{backend, context}];
    auto now = std::chrono::steady_clock::now();
    while (!list.empty()) {
      auto candidate = std::move(list.back());
      list.pop_back();
      if (now - candidate->last_used() < max_idle_time_) {
        found = std::move(candidate);
        break;
      }
      stale.push_back(std::move(candidate));
    }
  }
  return found;  // stale connections close as they go out of scope
}

void BackendPool::give(std::unique_ptr<BackendConnection> connection, const void* context) {
  if (!connection || !connection->reusable() || max_idle_ == 0) return;
  std::lock_guard lock(mutex_);
  auto& list = idle_[{connection->address().text, context}];
  if (list.size() >= max_idle_) return;
  list.push_back(std::move(connection));
}

void BackendPool::clear() {
  std::lock_guard lock(mutex_);
  idle_.clear();
}

}  // namespace gatehouse::delivery
