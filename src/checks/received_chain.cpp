// The Received chain (RFC 5321 §4.4, RFC 5322 §3.6.7): trace fields the sender wrote before the
// message reached us. Forgers add hops that claim to have passed through this gateway already (to
// look internal), write dates that run backwards, or pile up hops; each only scores.
// relay_message_id: the Message-ID holds the queue id of a hop below ours, so that relay wrote it
// (RFC 5321 §6.4 lets a relay add a missing one; RFC 5322 §3.6.4 asks the author's program to write
// it). Found when that relay took the message from an outside client whose HELO name its reverse
// DNS did not confirm: a program that writes no Message-ID and gives a made-up name is ratware's
// way (mail programs write one; a submission server or a provider's web mail names itself).
#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <optional>

#include "checks/builtin.hpp"
#include "common/text.hpp"
#include "content/headers.hpp"
#include "content/received.hpp"

namespace gatehouse::checks {
namespace {

constexpr std::size_t too_many_hops = 30;       // RFC 5321 §6.3: loops are detected near 100; real chains are short
constexpr std::chrono::hours allowed_disorder{24};   // how much later a lower (older) hop may be than the one above it

// The date after the last ';' (RFC 5322 §3.6.7).
std::optional<std::chrono::system_clock::time_point> received_time(std::string_view value) {
  const auto semicolon = value.rfind(';');
  if (semicolon == std::string_view::npos) return std::nullopt;
  return content::date_field_time(std::string(value.substr(semicolon + 1)));
}

// The left part of a Message-ID ("<left@right>"), lower case; "" when it has none.
std::string message_id_left(std::string_view id) {
  id = trim_ascii_whitespace(id);
  if (id.starts_with('<')) id.remove_prefix(1);
  const auto at = id.rfind('@');
  return at == std::string_view::npos ? std::string() : to_lower_ascii(id.substr(0, at));
}

// See the header comment: a description when a relay below ours wrote the Message-ID for a client
// whose HELO name was not confirmed, else nullopt.
std::optional<std::string> relay_written_message_id(const content::HeaderSection& headers,
                                                    const std::vector<content::ReceivedNames>& hops) {
  constexpr std::size_t shortest_queue_id = 6;   // shorter ids could match by chance
  auto message_id = headers.first("Message-ID");
  if (!message_id) return std::nullopt;
  const std::string left = message_id_left(*message_id);
  if (left.empty()) return std::nullopt;
  for (const auto& hop : hops) {
    // Some writers give the id in Message-ID form ("id <20020909172053.OAZA9751.mx.example@client>").
    const std::string queue_id = to_lower_ascii(std::string_view(hop.id).substr(0, hop.id.find('@')));
    if (queue_id.size() < shortest_queue_id || left.find(queue_id) == std::string::npos) continue;
    // This hop wrote the Message-ID. Its client: outside, with a HELO name its reverse DNS does not confirm.
    if (hop.client_ip.empty() || content::is_internal_address(hop.client_ip) || hop.helo.empty() ||
        hop.helo == hop.client_name)
      return std::nullopt;
    return fmt::format("Message-ID written by {} (queue id {}) for a client that said HELO {} from {} ({})", hop.by,
                       hop.id, hop.helo, hop.client_ip, hop.client_name.empty() ? "no name" : hop.client_name);
  }
  return std::nullopt;
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
    std::vector<content::ReceivedNames> hops;   // the fields before ours, each read once
    hops.reserve(chain.size() - first_foreign);
    for (std::size_t i = first_foreign; i < chain.size(); ++i) hops.push_back(content::read_received_names(chain[i]));
    if (auto relay = relay_written_message_id(*context.headers, hops))
      outcome.add(policy, "relay_message_id", *relay);
    if (our_host != "localhost" && !our_host.empty() &&
        std::any_of(hops.begin(), hops.end(), [&](const auto& hop) { return hop.by == our_host; }))
      outcome.add(policy, "claims_our_host", fmt::format("a Received field before ours names {}", our_host));
    std::optional<std::chrono::system_clock::time_point> newer;
    bool disorder_reported = false;
    for (std::size_t i = first_foreign; i < chain.size() && !disorder_reported; ++i) {
      auto when = received_time(chain[i]);
      if (!when) continue;
      if (newer && *when - *newer > allowed_disorder) {
        outcome.add(policy, "disordered_dates", fmt::format("hop {} is {} hours later than the hop after it", i + 1,
                                                           std::chrono::duration_cast<std::chrono::hours>(*when - *newer).count()));
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
