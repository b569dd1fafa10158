// The engine: runs the checks in order of cost, sums their scores and turns the sum into a
// disposition against the recipient domain's thresholds (score starts at 0; evidence of legitimacy
// subtracts). An expensive check (cost ≥ 10: a lookup or more) that cannot change the disposition, given the score so far and the bounds of
// what remains, is skipped; a check may decide outright (accept = white-listed, reject, tempfail).
// Every contribution is kept for the explanation (log row, `gatehouse check --json`).
//
// The sender checks (stages connect … rcpt) are judged at each RCPT, under the policy of that
// recipient's domain, so a refusal names the recipient's rules and role accounts can be exempted;
// their lookups are made once per connection (ConnectionState::memo). The content checks (stage
// data) continue from the envelope's verdict after DATA.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "checks/check.hpp"
#include "config/config.hpp"
#include "smtp/reply.hpp"
#include "store/store.hpp"

namespace gatehouse::engine {

struct Verdict {
  std::string disposition = "accept";    // accept | tag | reject | tempfail
  double score = 0;
  std::vector<CheckResult> checks;       // every contribution, note and error, in the order run
  std::vector<std::string> skipped;      // checks skipped because they could not change the outcome
  smtp::Reply reply;                     // reject/tempfail: the reply to give (its text carries the ID)
  std::string reason;                    // reject/tempfail/tag: "rbl", "spf", "score", ...
  bool whitelisted = false;              // an accept decision: no further scoring (antivirus still runs)
  std::vector<std::string> authentication_results;   // RFC 8601 resinfo of the checks that ran
  // Every finding as (check, finding), whatever its action: what bench/weights fits the defaults on.
  std::vector<std::pair<std::string, std::string>> findings;
};

// accept / tag / reject for a score under a policy.
std::string disposition_for(double score, const FilterPolicy& policy);

class Engine {
 public:
  Engine();   // the built-in checks
  explicit Engine(std::vector<std::unique_ptr<checks::Check>> checks);   // exactly these (tests)
  void add(std::unique_ptr<checks::Check> check);
  const std::vector<std::unique_ptr<checks::Check>>& checks() const { return checks_; }
  // Whether a check enabled under this policy reads the content analysis (Check::reads_content).
  bool needs_content(const FilterPolicy& policy) const;
  // Runs every enabled check, even one that cannot change the disposition (`gatehouse check
  // --all-checks`: the full explanation, and the findings bench/weights fits on). Off in the daemon.
  void set_run_every_check(bool every) { run_every_check_ = every; }

  // The sender checks for one recipient (context.recipient, context.policy). reject/tempfail:
  // refuse this recipient with verdict.reply. A score that the content checks could no longer
  // bring under the reject threshold rejects here too (reason "score").
  boost::asio::awaitable<Verdict> judge_recipient(checks::CheckContext& context) const;
  // The content checks after DATA, continuing from the envelope's verdict.
  boost::asio::awaitable<Verdict> judge_message(checks::CheckContext& context, Verdict envelope) const;

 private:
  boost::asio::awaitable<void> run(checks::CheckContext& context, Verdict& verdict, checks::Stage last) const;
  // The least and most the enabled content checks can add together.
  std::pair<double, double> content_bounds(const Config& config, const FilterPolicy& policy) const;
  std::vector<std::unique_ptr<checks::Check>> checks_;
  bool run_every_check_ = false;
};

}  // namespace gatehouse::engine
