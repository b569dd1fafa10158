// SPF (RFC 7208) as a check: the MAIL FROM identity (or, for the null sender, the HELO identity,
// §2.4) is evaluated with checks/spf (check_host(), §4) and the result maps through the policy
// ([filter.checks.spf]): by default fail rejects with 550 5.7.23 (RFC 7372 §3.2), softfail
// scores, temperror tempfails with 451 4.4.3 (§8.6), permerror scores. A second, data-stage part
// gives the "pass_aligned" bonus when the SPF-authenticated domain aligns with the header From
// domain (relaxed alignment, RFC 7489 §3.1.2). The result also goes into Authentication-Results
// (RFC 8601 §2.7.2: spf=… smtp.mailfrom=… / smtp.helo=…).
#include <fmt/format.h>

#include "checks/builtin.hpp"
#include "checks/spf/spf.hpp"
#include "common/organizational_domain.hpp"
#include "content/headers.hpp"

namespace gatehouse::checks {
namespace {

using spf::SpfResult;

struct SpfMemo {
  spf::SpfOutcome outcome;
  std::string key;   // sender|helo the outcome is for
};

std::string memo_key(const CheckContext& context) { return "spf:" + context.mail_from + "|" + context.helo; }

class SpfCheck final : public Check {
 public:
  std::string_view name() const override { return "spf"; }
  bool host_check() const override { return true; }
  Stage stage() const override { return Stage::mail; }
  int cost() const override { return 20; }
  std::string_view reply_kind() const override { return "spf"; }
  std::string_view reject_enhanced() const override { return "5.7.23"; }

  std::pair<double, double> score_range(const Config&, const FilterPolicy& policy) const override {
    // One result per evaluation: the extremes of the single findings (pass_aligned is the data part's).
    double low = 0, high = 0;
    for (const auto& [finding, action] : policy.check("spf").actions) {
      if (finding == "pass_aligned" || action.kind != Action::Kind::score) continue;
      low = std::min(low, action.score);
      high = std::max(high, action.score);
    }
    return {low, high};
  }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    const auto& policy = *context.policy;
    if (!context.resolver) co_return outcome;
    spf::SpfOutcome result = co_await evaluate(context);
    const auto& settings = policy.check("spf");
    // The null sender is checked as postmaster@<HELO> (RFC 7208 §2.4): reported as the HELO identity.
    const bool helo_identity = result.identity == "helo" || context.mail_from.empty();
    const std::string identity = helo_identity ? "smtp.helo" : "smtp.mailfrom";
    const std::string checked = helo_identity ? context.helo : context.mail_from;
    outcome.authentication_result =
        fmt::format("spf={} {}={}", spf::to_string(result.result), identity, checked.empty() ? result.domain : checked);
    const std::string finding(spf::to_string(result.result));
    std::string detail;
    switch (result.result) {
      case SpfResult::pass:
        outcome.note = fmt::format("pass: {} permits {} ({})", result.domain, context.client_ip, result.problem);
        if (settings.action("pass").score != 0 || settings.action("pass").decides())
          outcome.add(settings, "pass", fmt::format("{} permits {}", result.domain, context.client_ip));
        co_return outcome;
      case SpfResult::fail:
        detail = fmt::format("{} does not permit {} to send for {}", result.domain, context.client_ip,
                             checked.empty() ? result.domain : checked);
        if (!result.explanation.empty()) detail += ": " + result.explanation;
        break;
      case SpfResult::softfail:
        detail = fmt::format("{} discourages mail from {} (~all)", result.domain, context.client_ip);
        break;
      case SpfResult::neutral:
        detail = fmt::format("{} neither permits nor denies {}", result.domain, context.client_ip);
        break;
      case SpfResult::none:
        detail = fmt::format("no SPF record for {}", result.domain.empty() ? checked : result.domain);
        break;
      case SpfResult::temperror:
        detail = fmt::format("temporary DNS error checking {}: {}", result.domain, result.problem);
        break;
      case SpfResult::permerror:
        detail = fmt::format("invalid SPF record of {}: {}", result.domain, result.problem);
        break;
    }
    outcome.add(settings, finding, detail);
    auto& contribution = outcome.contributions.back();
    if (contribution.action.kind == Action::Kind::tempfail) {
      contribution.code = 451;
      contribution.enhanced = "4.4.3";   // RFC 7208 §8.6
    } else if (contribution.action.kind == Action::Kind::reject && result.result == SpfResult::permerror) {
      contribution.code = 550;
      contribution.enhanced = "5.7.24";  // RFC 7372 §3.2
    }
    co_return outcome;
  }

 private:
  static boost::asio::awaitable<spf::SpfOutcome> evaluate(CheckContext& context) {
    const std::string key = memo_key(context);
    if (context.connection) {
      if (auto it = context.connection->memo.find(key); it != context.connection->memo.end())
        co_return std::any_cast<SpfMemo>(it->second).outcome;
    }
    spf::ResolverSpfDns dns(*context.resolver);
    spf::SpfRequest request;
    request.ip = context.client_ip;
    request.helo = context.helo;
    request.sender = context.mail_from;
    request.receiver_hostname = context.config->hostname;
    auto result = co_await spf::check_host(dns, std::move(request));
    if (context.connection) context.connection->memo[key] = SpfMemo{result, key};
    co_return result;
  }
};

// The data-stage part: SPF passed for a domain aligned with the header From.
class SpfAlignmentCheck final : public Check {
 public:
  std::string_view name() const override { return "spf_alignment"; }
  Stage stage() const override { return Stage::data; }
  int cost() const override { return 1; }
  std::pair<double, double> score_range(const Config&, const FilterPolicy& policy) const override {
    const Action action = policy.check("spf").action("pass_aligned");
    if (action.kind != Action::Kind::score || !policy.check("spf").enabled) return {0, 0};
    return {std::min(0.0, action.score), std::max(0.0, action.score)};
  }
  bool may_decide(const Config&, const FilterPolicy& policy) const override {
    return policy.check("spf").action("pass_aligned").decides();
  }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.connection || !context.headers || !context.policy->check("spf").enabled) co_return outcome;
    auto it = context.connection->memo.find(memo_key(context));
    if (it == context.connection->memo.end()) co_return outcome;
    const auto& result = std::any_cast<const SpfMemo&>(it->second).outcome;
    if (result.result != SpfResult::pass) co_return outcome;
    auto from = context.headers->first("From");
    if (!from) co_return outcome;
    std::string header_domain = content::address_domain_of_header(*from);
    if (header_domain.empty() || !aligned(header_domain, result.domain)) co_return outcome;
    outcome.add(context.policy->check("spf"), "pass_aligned",
                fmt::format("{} aligned with From domain {}", result.domain, header_domain));
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_spf_check() { return std::make_unique<SpfCheck>(); }
std::unique_ptr<Check> make_spf_alignment_check() { return std::make_unique<SpfAlignmentCheck>(); }

}  // namespace gatehouse::checks
