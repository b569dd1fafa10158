// The engine. See engine.hpp.
#include "engine/engine.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "checks/header_structure.hpp"

namespace gatehouse::engine {

Engine::Engine() { add(std::make_unique<checks::HeaderStructureCheck>()); }

void Engine::add(std::unique_ptr<checks::Check> check) {
  checks_.push_back(std::move(check));
  std::stable_sort(checks_.begin(), checks_.end(), [](auto& a, auto& b) {
    if (a->stage() != b->stage()) return a->stage() < b->stage();
    return a->cost() < b->cost();
  });
}

Verdict Engine::judge_message(const checks::CheckContext& context, const DomainConfig* domain, const std::string& id) const {
  Verdict verdict;
  const double tag = domain ? domain->tag_threshold : 5.0;
  const double reject = domain ? domain->reject_threshold : 10.0;
  for (auto& check : checks_) {
    if (check->stage() != checks::Stage::data) continue;
    auto outcome = check->run(context);
    if (outcome.detail.empty() && outcome.score == 0 && outcome.decision == checks::Decision::none) continue;
    verdict.checks.push_back({std::string(check->name()), outcome.score, outcome.detail});
    verdict.score += outcome.score;
    if (outcome.decision == checks::Decision::reject || outcome.decision == checks::Decision::tempfail) {
      verdict.disposition = outcome.decision == checks::Decision::reject ? "reject" : "tempfail";
      verdict.reply = outcome.reply;
      verdict.reason = std::string(check->name());
      return verdict;
    }
  }
  if (verdict.score >= reject) {
    verdict.disposition = "reject";
    verdict.reason = "score";
    verdict.reply = smtp::Reply{550, "5.7.1", fmt::format("Message rejected as spam, score {:.1f} (ID:{})", verdict.score, id)};
  } else if (verdict.score >= tag) {
    verdict.disposition = "tag";
    verdict.reason = "score";
  }
  return verdict;
}

}  // namespace gatehouse::engine
