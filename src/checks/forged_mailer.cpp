// The forged-mailer check: the message names the program that wrote it (X-Mailer, User-Agent) but
// lacks that program's own marks. A mail program writes its Message-ID (RFC 5322 §3.6.4) in a form
// of its own, and Microsoft's always send HTML with a plain-text alternative (RFC 2046 §5.1.4);
// bulk mailers copy the X-Mailer of a well-known program to look like a person and give themselves
// away by the rest. Facts about the programs, as their mail shows them:
//
//  - Outlook Express and Outlook for Windows (2000 "CWS", 2002 "Build 10.0", 2003 "Office Outlook",
//    2010 on "Outlook 14.0"…): <CCCCHHHHHHHH$LLLLLLLL$AAAAAAAA@computer>, twelve, eight and eight
//    hexadecimal digits: a counter, the high and low halves of the Windows FILETIME when it was
//    written (100-ns ticks since 1601-01-01 UTC), and the sender's IP address. Hotmail's web
//    gateway rewrote those of its users to <DAV…@hotmail.com> / <OE…@hotmail.com>.
//  - Outlook 2000 in "Internet Mail Only" mode (IMO): twenty-eight letters A–P, '.', the address.
//  - Eudora for Windows: its version, the time as YYYYMMDDhhmmss and eight hex digits, e.g.
//    <5.1.0.14.2.20020820071019.03e2aec0@host>.
//  - Exchange 5.5's Internet Mail Service: 32 to 40 upper-case hexadecimal digits, '@', the
//    server, e.g. <5EC2AD6D2314D14FB64BDA287D25D9EF12B4F6@exchange1.example.local>.
//  - Lyris list servers replace the Message-ID of what they distribute (<LYRIS-…>).
//  The Macintosh editions leave the Message-ID to the server and are not judged.
//
// Findings:
//  - message_id: the named program writes Message-IDs of another form (or always writes one, and
//    there is none);
//  - html_only: a Microsoft mail program (Outlook, Outlook Express) named, HTML with no plain-text part;
//  - priority_fields: Outlook Express or Outlook 2000–2003 ("Build" in the X-Mailer) named, and
//    neither X-Priority nor X-MSMail-Priority, which they write on every message;
//  - message_id_time: a Message-ID of the Outlook form whose time stamp is not a time, or lies more
//    than a day from the Date field (a template reused for months, or random digits).
// Scores only: a gateway on the way may rewrite a Message-ID.
#include <re2/re2.h>

#include <chrono>
#include <cstdint>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <optional>

#include "checks/builtin.hpp"
#include "common/text.hpp"
#include "content/analysis.hpp"

namespace gatehouse::checks {
namespace {

enum class Mailer { unknown, outlook_express, outlook, outlook_imo, eudora, exchange_ims };

struct Claim {
  Mailer mailer = Mailer::unknown;
  std::string_view label;
  bool writes_priority = false;   // X-Priority and X-MSMail-Priority on every message
};

Claim claimed_mailer(const content::HeaderSection& headers) {
  auto written = headers.first("X-Mailer");
  if (!written) written = headers.first("User-Agent");
  if (!written) return {};
  const std::string lower = to_lower_ascii(*written);
  auto has = [&](std::string_view word) { return lower.find(word) != std::string::npos; };
  if (has("macintosh") || has("mac os")) return {};
  if (has("outlook express")) return {Mailer::outlook_express, "Outlook Express", true};
  if (has("outlook imo")) return {Mailer::outlook_imo, "Outlook (Internet Mail Only)", true};
  if (has("microsoft outlook") || has("microsoft office outlook")) return {Mailer::outlook, "Outlook", has("build")};
  if (has("eudora") && has("windows")) return {Mailer::eudora, "Eudora for Windows"};
  if (has("internet mail service")) return {Mailer::exchange_ims, "Exchange's Internet Mail Service"};
  return {};
}

// An Outlook-form Message-ID in its parts: the first twelve digits (four of a counter, eight of
// the FILETIME's high half), the next eight (its low half), and what follows the '@'.
struct OutlookId {
  std::string counter_and_high, low_half, host;
};

std::optional<OutlookId> outlook_id(const std::string& id) {
  static const RE2 pattern(R"(<([0-9A-Fa-f]{12})\$([0-9A-Fa-f]{8})\$[0-9A-Fa-f]{8}@([^>]*)>)");
  OutlookId parts;
  if (!RE2::FullMatch(id, pattern, &parts.counter_and_high, &parts.low_half, &parts.host)) return std::nullopt;
  return parts;
}

bool written_by(Mailer mailer, const std::string& id, const std::optional<OutlookId>& outlook) {
  static const RE2 hotmail(R"((?i)<(?:DAV|OE)[0-9A-Za-z]+@hotmail\.com>)");
  static const RE2 imo(R"(<[A-P]{28}\.[^@>\s]+@[^>\s]+>)");
  static const RE2 eudora(R"(<\d+(?:\.\d+){1,4}\.\d{14}\.[0-9a-f]{8}@[^>\s]+>)");
  static const RE2 exchange(R"(<[0-9A-F]{32,40}@[^>\s]+>)");
  if (id.starts_with("<LYRIS-")) return true;
  switch (mailer) {
    case Mailer::outlook_express:
    case Mailer::outlook:
      return (outlook && !outlook->host.empty() && outlook->host.find_first_of(" \t") == std::string::npos) ||
             RE2::FullMatch(id, hotmail);
    case Mailer::outlook_imo: return RE2::FullMatch(id, imo);
    case Mailer::eudora: return RE2::FullMatch(id, eudora);
    case Mailer::exchange_ims: return RE2::FullMatch(id, exchange);
    case Mailer::unknown: return true;
  }
  return true;
}

// The time an Outlook-form Message-ID was written: FILETIME = high << 32 | low, in 100-ns ticks
// since 1601-01-01 UTC; nullopt when that is no time a message of this era could carry.
std::optional<std::chrono::system_clock::time_point> filetime_of(const OutlookId& id) {
  const std::uint64_t high = std::stoull(id.counter_and_high.substr(4), nullptr, 16);
  const std::uint64_t low = std::stoull(id.low_half, nullptr, 16);
  constexpr std::uint64_t ticks_1601_to_1970 = 116444736000000000ULL;
  constexpr std::uint64_t ticks_per_second = 10000000ULL;
  const std::uint64_t ticks = high << 32 | low;
  if (ticks <= ticks_1601_to_1970) return std::nullopt;
  const std::uint64_t seconds = (ticks - ticks_1601_to_1970) / ticks_per_second;
  if (seconds > 4102444800ULL) return std::nullopt;   // after 2100
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

class ForgedMailerCheck final : public Check {
 public:
  std::string_view name() const override { return "forged_mailer"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.headers) co_return outcome;
    const CheckPolicy& policy = context.policy->check(name());
    std::string id;
    if (auto written = context.headers->first("Message-ID")) id = std::string(trim_ascii_whitespace(*written));
    const std::optional<OutlookId> outlook = outlook_id(id);
    const Claim claim = claimed_mailer(*context.headers);
    if (claim.mailer != Mailer::unknown) {
      if (id.empty() && claim.mailer != Mailer::eudora)
        outcome.add(policy, "message_id", fmt::format("names {}, which always writes a Message-ID; there is none", claim.label));
      else if (!id.empty() && !written_by(claim.mailer, id, outlook))
        outcome.add(policy, "message_id", fmt::format("names {}, which does not write Message-IDs like {}", claim.label, id.substr(0, 80)));
      const bool outlook_family = claim.mailer == Mailer::outlook_express || claim.mailer == Mailer::outlook ||
                                  claim.mailer == Mailer::outlook_imo;
      if (outlook_family && context.content && !context.content->mime.html.empty() && context.content->mime.text_plain.empty())
        outcome.add(policy, "html_only", fmt::format("names {}, which sends HTML with a plain-text part; this has none", claim.label));
      if (claim.writes_priority && !context.headers->first("X-Priority") && !context.headers->first("X-MSMail-Priority"))
        outcome.add(policy, "priority_fields", fmt::format("names {}, which writes X-Priority and X-MSMail-Priority; there are none", claim.label));
    }
    if (outlook) {
      const auto written_at = filetime_of(*outlook);
      const auto date = context.headers->first("Date");
      const auto dated = date ? content::date_field_time(*date) : std::nullopt;
      if (!written_at) {
        outcome.add(policy, "message_id_time", fmt::format("the time stamp in Message-ID {} is no time", id.substr(0, 80)));
      } else if (dated) {
        const auto apart = std::chrono::abs(*written_at - *dated);
        if (apart > std::chrono::hours(24))
          outcome.add(policy, "message_id_time",
                      fmt::format("Message-ID {} was written {:%Y-%m-%d %H:%M} UTC, {} days from its Date", id.substr(0, 80),
                                  std::chrono::floor<std::chrono::seconds>(*written_at),
                                  std::chrono::duration_cast<std::chrono::hours>(apart).count() / 24));
      }
    }
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_forged_mailer_check() { return std::make_unique<ForgedMailerCheck>(); }

}  // namespace gatehouse::checks
