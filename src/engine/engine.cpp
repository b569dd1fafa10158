// The engine. See engine.hpp.
#include "engine/engine.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "checks/builtin.hpp"
#include "common/metrics.hpp"

namespace gatehouse::engine {

using checks::Check;
using checks::Stage;

constexpr int skippable_cost = 10;

namespace {

// A check that feeds others (Check::feeds) runs before them: those its cost would put earlier
// move to just after it, in their order.
void order_fed_checks(std::vector<const Check*>& pending) {
  for (std::size_t index = 0; index < pending.size(); ++index) {
    const auto fed = pending[index]->feeds();
    if (fed.empty()) continue;
    std::vector<const Check*> moved;
    std::size_t feeder = index;
    for (std::size_t earlier = 0; earlier < feeder;) {
      if (std::find(fed.begin(), fed.end(), pending[earlier]->name()) != fed.end()) {
        moved.push_back(pending[earlier]);
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(earlier));
        --feeder;
      } else {
        ++earlier;
      }
    }
    pending.insert(pending.begin() + static_cast<std::ptrdiff_t>(feeder) + 1, moved.begin(), moved.end());
    index = feeder;
  }
}

// What the checks fed by pending[index] can do with what it gives them: whether any of them (still
// to come) can decide outright or add a score at all, and whether any can decide.
struct FeedValue {
  bool useful = false;
  bool decides = false;
};
FeedValue value_of_feeding(const std::vector<const Check*>& pending, std::size_t index, const Config& config,
                           const FilterPolicy& policy) {
  FeedValue value;
  const auto fed = pending[index]->feeds();
  for (std::size_t later = index + 1; later < pending.size(); ++later) {
    const Check& check = *pending[later];
    if (std::find(fed.begin(), fed.end(), check.name()) == fed.end()) continue;
    const bool decides = check.may_decide(config, policy);
    auto [low, high] = check.score_range(config, policy);
    value.decides = value.decides || decides;
    value.useful = value.useful || decides || low != 0 || high != 0;
  }
  return value;
}

}  // namespace

std::string disposition_for(double score, const FilterPolicy& policy) {
  if (score >= policy.reject_threshold) return "reject";
  if (score >= policy.tag_threshold) return "tag";
  return "accept";
}

Engine::Engine() : Engine(checks::builtin_checks()) {}

Engine::Engine(std::vector<std::unique_ptr<Check>> checks) {
  for (auto& check : checks) add(std::move(check));
}

void Engine::add(std::unique_ptr<Check> check) {
  checks_.push_back(std::move(check));
  // Cheap first. The sender checks all run at RCPT, so among them cost alone orders; content last.
  std::stable_sort(checks_.begin(), checks_.end(), [](auto& a, auto& b) {
    const bool a_data = a->stage() == Stage::data, b_data = b->stage() == Stage::data;
    if (a_data != b_data) return b_data;
    return a->cost() < b->cost();
  });
}

std::pair<double, double> Engine::content_bounds(const Config& config, const FilterPolicy& policy) const {
  double low = 0, high = 0;
  for (auto& check : checks_) {
    if (check->stage() != Stage::data || !policy.check(check->name()).enabled) continue;
    auto [lo, hi] = check->score_range(config, policy);
    low += lo;
    high += hi;
  }
  return {low, high};
}

boost::asio::awaitable<void> Engine::run(checks::CheckContext& context, Verdict& verdict, Stage last) const {
  const Config& config = *context.config;
  const FilterPolicy& policy = *context.policy;
  const bool at_rcpt = last != Stage::data;
  // The checks to consider now, and (suffix sums) the bounds of every check still to come, the
  // content checks included when judging at RCPT.
  std::vector<const Check*> pending;
  for (auto& check : checks_) {
    if (!policy.check(check->name()).enabled) continue;
    const bool is_data = check->stage() == Stage::data;
    if (at_rcpt ? is_data : !is_data) continue;
    if (!at_rcpt && !check->has_input(context)) continue;
    pending.push_back(check.get());
  }
  order_fed_checks(pending);
  std::vector<std::pair<double, double>> remaining(pending.size() + 1);
  remaining.back() = at_rcpt ? content_bounds(config, policy) : std::pair{0.0, 0.0};
  for (std::size_t i = pending.size(); i-- > 0;) {
    auto [low, high] = pending[i]->score_range(config, policy);
    remaining[i] = {remaining[i + 1].first + low, remaining[i + 1].second + high};
  }

  for (std::size_t index = 0; index < pending.size(); ++index) {
    const Check& check = *pending[index];
    const std::string name(check.name());
    if (verdict.whitelisted && !check.always_runs()) continue;
    if (check.host_check()) {
      if (auto entry = policy.no_host_checks.match(context.client_ip, context.mail_from); !entry.empty()) {
        verdict.checks.push_back({name, 0, "No Host Checks: " + entry});
        continue;
      }
    }
    bool decides = check.may_decide(config, policy);
    // A check whose work only the checks it feeds read (ocr): pointless when none of them can use
    // it, and as decisive as they are (a watch word that rejects needs the image's text).
    if (!check.feeds().empty()) {
      const FeedValue fed = value_of_feeding(pending, index, config, policy);
      auto [own_low, own_high] = check.score_range(config, policy);
      if (!decides && !fed.useful && own_low == 0 && own_high == 0) {
        verdict.skipped.push_back(name);
        continue;
      }
      decides = decides || fed.decides;
    }
    // Only expensive checks (a lookup or more) are worth skipping: cheap ones run for the explanation.
    if (!run_every_check_ && !decides && !check.always_runs() && check.cost() >= skippable_cost) {
      auto [low, high] = remaining[index];
      if (disposition_for(verdict.score + low, policy) == disposition_for(verdict.score + high, policy)) {
        verdict.skipped.push_back(name);
        continue;
      }
    }
    const auto check_started = std::chrono::steady_clock::now();
    checks::CheckOutcome outcome = co_await check.run(context);
    metrics::gateway().check_seconds.with({name}).observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - check_started).count());
    if (!outcome.error.empty()) {
      spdlog::warn("id={} check {}: {}", context.id, name, outcome.error);
      if (policy.check(name).mandatory) {
        verdict.checks.push_back({name, 0, "error (mandatory): " + outcome.error});
        verdict.disposition = "tempfail";
        verdict.reason = name;
        verdict.reply = smtp::Reply{451, "4.4.3", policy.reply_text("tempfail", context.id, name + ": " + outcome.error)};
        co_return;
      }
      verdict.checks.push_back({name, 0, "error, no evidence: " + outcome.error});
    }
    if (!outcome.authentication_result.empty()) verdict.authentication_results.push_back(outcome.authentication_result);
    if (!outcome.note.empty() && outcome.contributions.empty()) verdict.checks.push_back({name, 0, outcome.note});
    for (auto& contribution : outcome.contributions) {
      verdict.findings.emplace_back(name, contribution.finding);
      const Action& action = contribution.action;
      std::string detail = contribution.finding;
      if (!contribution.detail.empty()) detail += ": " + contribution.detail;
      if (action.kind == Action::Kind::score) {
        verdict.score += action.score;
        verdict.checks.push_back({name, action.score, detail});
        continue;
      }
      verdict.checks.push_back({name, 0, fmt::format("{} → {}", detail, action.text())});
      if (action.kind == Action::Kind::accept) {
        verdict.whitelisted = true;
        continue;
      }
      const bool reject = action.kind == Action::Kind::reject;
      verdict.disposition = reject ? "reject" : "tempfail";
      verdict.reason = name;
      const std::string reason = contribution.detail.empty() ? contribution.finding : contribution.detail;
      int code = contribution.code;
      std::string enhanced = contribution.enhanced;
      if (code == 0) {
        code = reject ? check.reject_code() : 451;
        enhanced = reject ? std::string(check.reject_enhanced()) : "4.7.1";
      }
      const std::string kind = reject ? std::string(check.reply_kind()) : "tempfail";
      verdict.reply = smtp::Reply{code, enhanced, policy.reply_text(kind, context.id, reason)};
      co_return;
    }
  }
}

boost::asio::awaitable<Verdict> Engine::judge_recipient(checks::CheckContext& context) const {
  Verdict verdict;
  co_await run(context, verdict, Stage::rcpt);
  if (verdict.disposition != "accept" || verdict.whitelisted) co_return verdict;
  // Reject now when no content check could bring the score under the threshold.
  const double content_low = content_bounds(*context.config, *context.policy).first;
  if (verdict.score + content_low >= context.policy->reject_threshold) {
    verdict.disposition = "reject";
    verdict.reason = "score";
    verdict.reply = smtp::Reply{550, "5.7.1",
                                context.policy->reply_text("score", context.id, fmt::format("score {:.1f}", verdict.score))};
  }
  co_return verdict;
}

boost::asio::awaitable<Verdict> Engine::judge_message(checks::CheckContext& context, Verdict envelope) const {
  Verdict verdict = std::move(envelope);
  verdict.disposition = "accept";
  co_await run(context, verdict, Stage::data);
  if (verdict.disposition != "accept" || verdict.whitelisted) co_return verdict;
  verdict.disposition = disposition_for(verdict.score, *context.policy);
  if (verdict.disposition == "reject") {
    verdict.reason = "score";
    verdict.reply = smtp::Reply{550, "5.7.1",
                                context.policy->reply_text("score", context.id, fmt::format("score {:.1f}", verdict.score))};
  } else if (verdict.disposition == "tag") {
    verdict.reason = "score";
  }
  co_return verdict;
}

bool Engine::needs_content(const FilterPolicy& policy) const {
  // A check that only feeds others (ocr) is no reason to build the analysis on its own: it runs
  // only when a check it feeds does, and those read the content themselves.
  for (const auto& check : checks_)
    if (check->reads_content() && check->feeds().empty() && policy.check(check->name()).enabled) return true;
  return false;
}

}  // namespace gatehouse::engine
