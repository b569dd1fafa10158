// The free-mail check: a header From (RFC 5322 §3.6.2) at a large free-mail provider (Gmail,
// Outlook.com/Hotmail, Yahoo, AOL, GMX, …) on a message that never passed through that provider's
// servers. Their users' mail leaves through the provider's own outgoing servers, which write a
// Received field (RFC 5321 §4.4) naming themselves, or are the client this gateway talks to (its
// reverse DNS; when that lookup failed, a HELO naming one of the provider's hosts). A message
// claiming such a From that came from anywhere else was written by someone else: the commonest
// forgery of bulk mailers, who pick the best-known domains to look like a person. Messages from
// mailing lists (RFC 2369 List-Post, RFC 2919 List-Id, ezmlm's Mailing-List) are left alone: list
// servers and web forums post their members' mail from their own machines.
// Scores only: a person may send with a free-mail From through another provider's server.
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "checks/builtin.hpp"
#include "common/text.hpp"
#include "content/analysis.hpp"
#include "content/received.hpp"

namespace gatehouse::checks {
namespace {

// A provider: the domains its users' addresses are at, and the domains its servers are named in.
// A trailing '.' in an address domain stands for every top-level ending ("yahoo." = yahoo.com,
// yahoo.co.uk, yahoo.fr …).
struct Provider {
  std::string_view name;
  std::vector<std::string_view> address_domains;
  std::vector<std::string_view> server_domains;
};

const std::vector<Provider>& providers() {
  static const std::vector<Provider> list = {
      {"Microsoft", {"hotmail.", "outlook.", "live.", "msn.com", "passport.com", "windowslive.com"},
       {"hotmail.com", "outlook.com", "live.com", "msn.com", "phx.gbl"}},
      {"Google", {"gmail.com", "googlemail.com"}, {"google.com", "gmail.com", "googlemail.com"}},
      {"Yahoo", {"yahoo.", "ymail.com", "rocketmail.com"}, {"yahoo.com", "yahoo.net", "yahoodns.net"}},
      {"AOL", {"aol.", "aim.com"}, {"aol.com", "aol.net", "yahoodns.net"}},
      {"Apple", {"icloud.com", "me.com", "mac.com"}, {"icloud.com", "apple.com", "me.com", "mac.com"}},
      {"GMX", {"gmx."}, {"gmx.net", "gmx.com", "gmx.de"}},
      {"mail.com", {"mail.com", "email.com", "usa.com", "post.com", "consultant.com", "europe.com", "asia.com"},
       {"mail.com", "gmx.net", "gmx.com"}},
      {"WEB.DE", {"web.de"}, {"web.de"}},
      {"Yandex", {"yandex.ru", "yandex.com", "ya.ru"}, {"yandex.ru", "yandex.net"}},
      {"Mail.Ru", {"mail.ru", "inbox.ru", "list.ru", "bk.ru"}, {"mail.ru"}},
      {"NetEase", {"163.com", "126.com"}, {"163.com", "126.com", "netease.com"}},
      {"Tencent", {"qq.com"}, {"qq.com"}},
      {"Excite", {"excite."}, {"excite.com"}},
      {"Lycos", {"lycos."}, {"lycos.com"}},
      {"Juno", {"juno.com", "netzero.net", "netzero.com"}, {"juno.com", "netzero.net", "untd.com"}},
      {"Rediffmail", {"rediffmail.com"}, {"rediffmail.com", "rediff.com"}},
      {"Netscape", {"netscape.net", "netscape.com"}, {"netscape.net", "netscape.com", "aol.com"}},
      {"Proton", {"protonmail.com", "proton.me", "pm.me"}, {"protonmail.ch", "protonmail.com", "proton.me"}},
      {"Zoho", {"zoho.com", "zohomail.com"}, {"zoho.com", "zohomail.com"}},
  };
  return list;
}

bool country_code(std::string_view label) {
  return label.size() == 2 && std::all_of(label.begin(), label.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// "yahoo." matches yahoo.com, yahoo.fr, yahoo.co.uk and yahoo.com.br, not yahoo.example.org: what
// follows is com, net, a country code, or co./com. and a country code.
bool address_domain_matches(std::string_view domain, std::string_view pattern) {
  if (pattern.back() != '.') return domain == pattern;
  if (domain.substr(0, pattern.size()) != pattern) return false;
  const auto rest = domain.substr(pattern.size());
  if (rest == "com" || rest == "net" || country_code(rest)) return true;
  for (std::string_view second : {std::string_view("co."), std::string_view("com.")})
    if (rest.substr(0, second.size()) == second && country_code(rest.substr(second.size()))) return true;
  return false;
}

const Provider* provider_of(std::string_view domain) {
  for (const auto& provider : providers())
    for (auto pattern : provider.address_domains)
      if (address_domain_matches(domain, pattern)) return &provider;
  return nullptr;
}

bool from_mailing_list(const content::HeaderSection& headers) {
  static constexpr std::array<std::string_view, 4> list_fields = {"List-Id", "List-Post", "Mailing-List", "X-Mailing-List"};
  return std::any_of(list_fields.begin(), list_fields.end(), [&](auto field) { return headers.count(field) > 0; });
}

class FreeMailCheck final : public Check {
 public:
  std::string_view name() const override { return "free_mail"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.content || !context.headers || context.content->mime.from.empty()) co_return outcome;
    const std::string& address = context.content->mime.from.front().address;
    const std::string domain = domain_of_address(address);
    if (domain.empty()) co_return outcome;
    const Provider* provider = provider_of(domain);
    if (!provider) co_return outcome;
    if (from_mailing_list(*context.headers)) {
      outcome.note = fmt::format("{} address on a mailing list's message", provider->name);
      co_return outcome;
    }
    auto provider_host = [&](std::string_view host) {
      return std::any_of(provider->server_domains.begin(), provider->server_domains.end(),
                         [&](auto server) { return within_domain(host, server); });
    };
    // The client itself, by its reverse DNS (the daemon looked it up; `gatehouse check --ptr`). When
    // the lookup failed (a DNS timeout is no evidence against the sender), by a HELO naming one of
    // the provider's hosts ("mail-sor-f41.google.com"; not the bare domain bulk mailers claim).
    bool passed = false;
    if (const ConnectionState* client = context.connection) {
      if (!client->ptr.empty()) {
        passed = provider_host(client->ptr);
      } else if (!client->ptr_error.empty() && !client->helo_names.empty()) {
        const std::string helo = to_lower_ascii(client->helo_names.back());
        passed = provider_host(helo) && std::none_of(provider->server_domains.begin(), provider->server_domains.end(),
                                                     [&](auto server) { return helo == server; });
      }
    }
    for (const auto& field : context.headers->fields) {
      if (passed) break;
      if (to_lower_ascii(field.name) != "received") continue;
      const auto names = content::read_received_names(field.value);
      passed = provider_host(names.by) || provider_host(names.client_name);
    }
    if (passed) {
      outcome.note = fmt::format("{} address sent through {}'s servers", provider->name, provider->name);
    } else {
      outcome.add(context.policy->check(name()), "forged",
                  fmt::format("From {} at {}, but the message never passed through {}'s servers", address,
                              provider->name, provider->name));
    }
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_free_mail_check() { return std::make_unique<FreeMailCheck>(); }

}  // namespace gatehouse::checks
