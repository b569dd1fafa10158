// Dynamic IP reputation. See reputation.hpp.
#include "engine/reputation.hpp"

namespace gatehouse::engine {

void Reputation::prune(std::unordered_map<std::string, Mark>& table, Clock::time_point now) {
  if (table.size() < max_entries_) return;
  std::erase_if(table, [now](const auto& entry) { return entry.second.until <= now; });
  if (table.size() >= max_entries_) table.clear();  // still full of live entries: forget rather than grow
}

void Reputation::mark(const std::string& ip, std::string reason, std::chrono::seconds duration) {
  std::lock_guard lock(mutex_);
  auto now = Clock::now();
  prune(marks_, now);
  marks_[ip] = {std::move(reason), now + duration};
}

void Reputation::block(const std::string& ip, std::string reason, std::chrono::seconds duration) {
  std::lock_guard lock(mutex_);
  auto now = Clock::now();
  prune(blocks_, now);
  blocks_[ip] = {std::move(reason), now + duration};
}

std::optional<Reputation::Mark> Reputation::marked(const std::string& ip) {
  std::lock_guard lock(mutex_);
  auto it = marks_.find(ip);
  if (it == marks_.end()) return std::nullopt;
  if (it->second.until <= Clock::now()) {
    marks_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

std::optional<Reputation::Mark> Reputation::blocked(const std::string& ip) {
  std::lock_guard lock(mutex_);
  auto it = blocks_.find(ip);
  if (it == blocks_.end()) return std::nullopt;
  if (it->second.until <= Clock::now()) {
    blocks_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void Reputation::remember_good(const std::string& ip, std::chrono::seconds duration) {
  std::lock_guard lock(mutex_);
  auto now = Clock::now();
  prune(good_, now);
  good_[ip] = {"passed", now + duration};
}

bool Reputation::known_good(const std::string& ip) {
  std::lock_guard lock(mutex_);
  auto it = good_.find(ip);
  if (it == good_.end()) return false;
  if (it->second.until <= Clock::now()) {
    good_.erase(it);
    return false;
  }
  return true;
}

std::size_t Reputation::count(Events& events, const std::string& ip) {
  std::lock_guard lock(mutex_);
  auto now = Clock::now();
  if (events.size() >= max_entries_) {
    std::erase_if(events, [now](const auto& entry) {
      return entry.second.empty() || entry.second.back() <= now - std::chrono::minutes(1);
    });
    if (events.size() >= max_entries_) events.clear();
  }
  auto& times = events[ip];
  while (!times.empty() && times.front() <= now - std::chrono::minutes(1)) times.pop_front();
  times.push_back(now);
  return times.size();
}

}  // namespace gatehouse::engine
