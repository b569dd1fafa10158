// The engine: runs the checks of a stage in order of cost, sums their scores and turns the sum
// into a disposition against the recipient domain's thresholds. Every contribution is kept for the
// explanation (log row, `gatehouse check --json`).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "checks/check.hpp"
#include "config/config.hpp"
#include "smtp/reply.hpp"
#include "store/store.hpp"

namespace gatehouse::engine {

struct Verdict {
  std::string disposition = "accept";    // accept | tag | reject | tempfail
  double score = 0;
  std::vector<CheckResult> checks;
  smtp::Reply reply;                     // reject/tempfail: the reply to give
  std::string reason;
};

class Engine {
 public:
  Engine();   // the built-in checks
  void add(std::unique_ptr<checks::Check> check);
  // Runs the data-stage checks and decides against `domain`'s thresholds (nullptr: defaults).
  Verdict judge_message(const checks::CheckContext& context, const DomainConfig* domain, const std::string& id) const;

 private:
  std::vector<std::unique_ptr<checks::Check>> checks_;
};

}  // namespace gatehouse::engine
