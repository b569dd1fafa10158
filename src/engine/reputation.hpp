// Dynamic reputation of client IPs, shared by every connection of the daemon: bad marks (a spam trap
// was hit: the IP's other mail scores higher for a while), blocks (directory harvesting: the IP is
// refused for a while), clients known to behave (no greeting pause) and per-minute connection and message counts for rate limits. In memory,
// thread-safe, bounded; it starts empty after a restart.
#pragma once
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <deque>

namespace gatehouse::engine {

class Reputation {
 public:
  using Clock = std::chrono::steady_clock;
  struct Mark {
    std::string reason;
    Clock::time_point until;
  };

  explicit Reputation(std::size_t max_entries = 200000) : max_entries_(max_entries) {}

  void mark(const std::string& ip, std::string reason, std::chrono::seconds duration);
  void block(const std::string& ip, std::string reason, std::chrono::seconds duration);
  std::optional<Mark> marked(const std::string& ip);
  std::optional<Mark> blocked(const std::string& ip);
  // Clients that passed the greeting test and sent clean mail skip the greeting pause for a while
  // (postscreen keeps such a cache too).
  void remember_good(const std::string& ip, std::chrono::seconds duration);
  bool known_good(const std::string& ip);

  // Counts one event now and returns how many the IP had in the last minute (this one included).
  std::size_t count_connection(const std::string& ip) { return count(connections_, ip); }
  std::size_t count_message(const std::string& ip) { return count(messages_, ip); }

 private:
  using Events = std::unordered_map<std::string, std::deque<Clock::time_point>>;
  std::size_t count(Events& events, const std::string& ip);
  void prune(std::unordered_map<std::string, Mark>& table, Clock::time_point now);

  std::mutex mutex_;
  std::size_t max_entries_;
  std::unordered_map<std::string, Mark> marks_, blocks_, good_;
  Events connections_, messages_;
};

}  // namespace gatehouse::engine
