// The antivirus check: clamd scans the raw message over INSTREAM (clamd(8); clamd decodes MIME
// and archives itself). A virus is the finding `infected` (default reject: 554 5.7.1 "Virus
// found: NAME"); it runs for white-listed senders too. A scanner that cannot answer — not running,
// broken connection, time-out, clamd's ERROR — never lets the message through silently: 451 4.7.1
// (RFC 3463 §3.8, security/policy, transient) unless [antivirus] on_failure = "accept", which
// passes the message with a logged note. Messages over [antivirus] max_size are skipped with a note
// (or tempfailed, on_oversize = "tempfail").
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "checks/antivirus/clamd_client.hpp"
#include "checks/builtin.hpp"

namespace gatehouse::checks {
namespace {

std::string describe_size(std::size_t bytes) {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0) return fmt::format("{}M", bytes / (1024 * 1024));
  if (bytes >= 1024 && bytes % 1024 == 0) return fmt::format("{}K", bytes / 1024);
  return fmt::format("{} bytes", bytes);
}

std::string describe_duration(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return fmt::format("{}s", duration.count() / 1000);
  return fmt::format("{}ms", duration.count());
}

// The {reason} of the 451 reply: what went wrong, without the scanner's address (that is logged).
std::string failure_reason(const clamd::ScanReply& reply, const AntivirusConfig& settings) {
  using Failure = clamd::ScanReply::Failure;
  switch (reply.failure) {
    case Failure::unreachable: return "virus scanner unavailable (not reachable)";
    case Failure::timeout: return fmt::format("virus scanner unavailable (no verdict within {})", describe_duration(settings.timeout));
    case Failure::connection: return "virus scanner unavailable (connection lost)";
    case Failure::address: return "virus scanner unavailable (bad address)";
    case Failure::scanner:
    case Failure::none: break;
  }
  return "virus scanner error: " + reply.text;
}

// A tempfail decided by the scanner's state rather than by the policy: 451 4.7.1.
Contribution tempfail(std::string finding, std::string detail) {
  Contribution contribution{std::move(finding), Action::of(Action::Kind::tempfail), std::move(detail)};
  contribution.code = 451;
  contribution.enhanced = "4.7.1";
  return contribution;
}

class AntivirusCheck final : public Check {
 public:
  std::string_view name() const override { return "antivirus"; }
  Stage stage() const override { return Stage::data; }
  int cost() const override { return 100; }
  bool always_runs() const override { return true; }
  std::string_view reply_kind() const override { return "virus"; }
  int reject_code() const override { return 554; }
  std::string_view reject_enhanced() const override { return "5.7.1"; }

  std::pair<double, double> score_range(const Config& config, const FilterPolicy& policy) const override {
    if (!config.antivirus.enabled) return {0, 0};
    return action_score_range(policy.check(name()));
  }

  bool may_decide(const Config& config, const FilterPolicy& policy) const override {
    if (!config.antivirus.enabled) return false;
    const auto& settings = config.antivirus;
    return actions_decide(policy.check(name())) || settings.on_failure == AntivirusConfig::Failure::tempfail ||
           settings.on_oversize == AntivirusConfig::Oversize::tempfail;
  }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    const AntivirusConfig& settings = context.config->antivirus;
    if (!settings.enabled) co_return outcome;
    const std::size_t size = context.message.size();
    if (size > settings.max_size) {
      const std::string detail =
          fmt::format("message too large to scan ({} bytes, max_size {})", size, describe_size(settings.max_size));
      if (settings.on_oversize == AntivirusConfig::Oversize::tempfail) {
        outcome.contributions.push_back(tempfail("too_large", detail));
      } else {
        outcome.note = "not scanned: " + detail;
      }
      co_return outcome;
    }

    clamd::ScanReply reply = co_await clamd::scan(settings.socket, context.message, settings.timeout);
    switch (reply.kind) {
      case clamd::ScanReply::Kind::clean:
        outcome.note = "clean";
        break;
      case clamd::ScanReply::Kind::infected:
        // The detail is the reply's {reason}: "Virus found: Win.Test.EICAR_HDB-1 (ID:…)".
        outcome.add(context.policy->check(name()), "infected", reply.text);
        break;
      case clamd::ScanReply::Kind::error:
        spdlog::warn("id={} antivirus: {}", context.id, reply.text);
        if (settings.on_failure == AntivirusConfig::Failure::accept) {
          outcome.note = fmt::format("not scanned, accepted (on_failure = accept): {}", reply.text);
        } else {
          outcome.contributions.push_back(tempfail("scan_failed", failure_reason(reply, settings)));
        }
        break;
    }
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_antivirus_check() { return std::make_unique<AntivirusCheck>(); }

}  // namespace gatehouse::checks
