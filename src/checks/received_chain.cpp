// The Received chain (RFC 5321 §4.4, RFC 5322 §3.6.7): trace fields the sender wrote before the
// message reached us. Forgers add hops that claim to have passed through this gateway already (to
// look internal), write dates that run backwards, or pile up hops; each only scores.
#include <gmime/gmime.h>

#include <algorithm>
#include <fmt/format.h>
#include <optional>

#include "checks/builtin.hpp"
#include "common/text.hpp"
#include "content/received.hpp"

namespace gatehouse::checks {
namespace {

constexpr std::size_t too_many_hops = 30;       // RFC 5321 §6.3: loops are detected near 100; real chains are short
constexpr gint64 allowed_disorder = 24 * 3600;  // seconds a lower (older) hop may be later than the one above it

// The date after the last ';' (RFC 5322 §3.6.7), as seconds since the epoch.
std::optional<gint64> received_time(std::string_view value) {
  const auto semicolon = value.rfind(';');
  if (semicolon == std::string_view::npos) return std::nullopt;
  const std::string date(value.substr(semicolon + 1));
  GDateTime* parsed = g_mime_utils_header_decode_date(date.c_str());
  if (!parsed) return std::nullopt;
  const gint64 seconds = g_date_time_to_unix(parsed);
  g_date_time_unref(parsed);
  return seconds;
}

class ReceivedChainCheck final : public Check {
 public:
  std::string_view name() const override { return "received_chain"; }
  Stage stage() const override { return Stage::data; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.headers || !context.config) co_return outcome;
    const CheckPolicy& policy = context.policy->check(name());
    const std::string our_host = to_lower_ascii(context.config->hostname);
    std::vector<std::string_view> chain;   // newest first
    for (const auto& field : context.headers->fields)
      if (to_lower_ascii(field.name) == "received") chain.push_back(field.value);
    // Our own Received (added for this transaction, "… by HOST (gatehouse) … id ID") comes first;
    // every other field was written by the sender's side.
    std::size_t first_foreign = 0;
    if (!chain.empty() && !context.id.empty() && chain.front().find(context.id) != std::string_view::npos) first_foreign = 1;
    if (chain.size() - first_foreign > too_many_hops)
      outcome.add(policy, "many_hops", fmt::format("{} Received fields", chain.size() - first_foreign));
    std::optional<gint64> newer;
    bool disorder_reported = false;
    for (std::size_t i = first_foreign; i < chain.size(); ++i) {
      if (our_host != "localhost" && !our_host.empty() && content::read_received_names(chain[i]).by == our_host) {
        outcome.add(policy, "claims_our_host", fmt::format("a Received field before ours names {}", our_host));
        break;
      }
    }
    for (std::size_t i = first_foreign; i < chain.size() && !disorder_reported; ++i) {
      auto when = received_time(chain[i]);
      if (!when) continue;
      if (newer && *when - *newer > allowed_disorder) {
        outcome.add(policy, "disordered_dates", fmt::format("hop {} is {} hours later than the hop after it", i + 1,
                                                           (*when - *newer) / 3600));
        disorder_reported = true;
      }
      newer = when;
    }
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_received_chain_check() { return std::make_unique<ReceivedChainCheck>(); }

}  // namespace gatehouse::checks
