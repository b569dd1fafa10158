// Shared parts of the check interface. See check.hpp.
#include "checks/check.hpp"

#include <algorithm>
#include <arpa/inet.h>

#include "smtp/command.hpp"

namespace gatehouse::checks {

std::string_view to_string(Stage stage) {
  switch (stage) {
    case Stage::connect: return "connect";
    case Stage::helo: return "helo";
    case Stage::mail: return "mail";
    case Stage::rcpt: return "rcpt";
    case Stage::data: return "data";
  }
  return "?";
}

std::pair<double, double> action_score_range(const CheckPolicy& policy) {
  // Several findings of one check can fire together: the sums of the negative and positive scores.
  double low = 0, high = 0;
  for (const auto& [finding, action] : policy.actions) {
    if (action.kind != Action::Kind::score) continue;
    if (action.score < 0) low += action.score;
    else high += action.score;
  }
  return {low, high};
}

bool actions_decide(const CheckPolicy& policy) {
  return std::any_of(policy.actions.begin(), policy.actions.end(), [](const auto& entry) { return entry.second.decides(); });
}

std::pair<double, double> Check::score_range(const Config&, const FilterPolicy& policy) const {
  return action_score_range(policy.check(name()));
}

bool Check::may_decide(const Config&, const FilterPolicy& policy) const {
  const auto& settings = policy.check(name());
  return settings.mandatory || actions_decide(settings);
}

std::string canonical_ip(std::string_view ip) {
  std::string copy(ip);
  unsigned char bytes[16];
  char text[INET6_ADDRSTRLEN];
  if (copy.rfind("::ffff:", 0) == 0 && copy.find('.') != std::string::npos) copy = copy.substr(7);
  if (inet_pton(AF_INET, copy.c_str(), bytes) == 1) return inet_ntop(AF_INET, bytes, text, sizeof text);
  if (inet_pton(AF_INET6, copy.c_str(), bytes) == 1) return inet_ntop(AF_INET6, bytes, text, sizeof text);
  return copy;
}

bool is_role_recipient(std::string_view address) {
  const auto at = address.rfind('@');
  const std::string local = smtp::to_lower_ascii(address.substr(0, at == std::string_view::npos ? address.size() : at));
  return local == "postmaster" || local == "abuse";
}

}  // namespace gatehouse::checks
