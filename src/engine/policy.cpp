// Relay control and recipient validation. See policy.hpp.
#include "engine/policy.hpp"
#include "engine/runtime_policy.hpp"

#include <fmt/format.h>

#include "store/store.hpp"

namespace gatehouse {

const DomainConfig* DomainTable::find(std::string_view domain) const {
  auto it = domains.find(smtp::to_lower_ascii(domain));
  return it == domains.end() ? nullptr : &it->second;
}

std::shared_ptr<const DomainTable> build_domain_table(const Config& config, Store* store) {
  auto table = std::make_shared<DomainTable>();
  table->trusted_networks = config.trusted_networks;
  for (auto& d : config.domains) {
    table->domains[d.name] = d;
    for (auto& a : d.addresses) table->addresses.insert(smtp::to_lower_ascii(a));
    if (table->primary_domain.empty()) table->primary_domain = d.name;
  }
  if (store) {
    for (auto& stored : store->domains()) {
      auto backend = BackendAddress::parse(stored.backend);
      if (!backend) continue;  // validated when it was stored
      // A stored domain of a configured name changes what the web edits and keeps the rest of the
      // file's (its filter settings, lists, watch words, addresses).
      const std::string name = smtp::to_lower_ascii(stored.name);
      auto configured = table->domains.find(name);
      DomainConfig d;
      if (configured != table->domains.end()) {
        d = configured->second;
      } else {
        d.policy = config.policy;
      }
      d.name = name;
      d.backend = *backend;
      d.recipients = stored.recipients == "any"       ? RecipientValidation::any
                     : stored.recipients == "backend" ? RecipientValidation::backend
                                                      : RecipientValidation::list;
      d.tag_threshold = stored.tag_threshold;
      d.reject_threshold = stored.reject_threshold;
      d.policy.tag_threshold = d.tag_threshold;
      d.policy.reject_threshold = d.reject_threshold;
      if (!stored.reject_text.empty()) d.policy.replies["score"] = stored.reject_text;
      d.policy.update_fingerprint();
      table->domains[d.name] = d;
      if (table->primary_domain.empty()) table->primary_domain = d.name;
    }
    for (auto& a : store->addresses()) table->addresses.insert(smtp::to_lower_ascii(a));
    // The domains' own lists from the web administration (engine/runtime_policy.hpp).
    for (auto& [name, domain] : table->domains) engine::apply_domain_lists(domain.policy, engine::stored_lists(*store, name));
  }
  return table;
}

namespace {
smtp::Reply relay_denied(const std::string& address) {
  return smtp::Reply{554, "5.7.1", fmt::format("<{}>: Relay access denied", address)};
}

bool is_role_account(std::string_view local) {
  auto lower = smtp::to_lower_ascii(local);
  return lower == "postmaster" || lower == "abuse";
}
}  // namespace

RecipientDecision decide_recipient(const DomainTable& table, const smtp::Mailbox& recipient, bool trusted_client) {
  RecipientDecision decision;
  decision.address = recipient.text();

  // "<postmaster>" without a domain must be accepted (RFC 5321 §4.1.1.3).
  if (recipient.domain.empty()) {
    if (smtp::to_lower_ascii(recipient.local) == "postmaster" && !table.primary_domain.empty()) {
      decision.route = RecipientRoute::local;
      decision.domain = table.find(table.primary_domain);
      decision.address = "postmaster@" + table.primary_domain;
      return decision;
    }
    decision.reply = relay_denied(decision.address);
    decision.reason = "relay denied";
    return decision;
  }

  // Sender-specified routing inside the local part ("user%other@us", "other!user@us",
  // "\"user@other\"@us") is the classic open-relay trick: never accepted, for any client.
  if (recipient.local.find_first_of("%!@") != std::string::npos) {
    decision.reply = relay_denied(decision.address);
    decision.reason = "relay denied: routing in local part";
    return decision;
  }

  const DomainConfig* domain = table.find(recipient.domain);
  if (!domain) {
    if (trusted_client) {
      decision.route = RecipientRoute::outbound;
      return decision;
    }
    decision.reply = relay_denied(decision.address);
    decision.reason = "relay denied";
    return decision;
  }
  decision.domain = domain;
  if (is_role_account(recipient.local)) {
    decision.route = RecipientRoute::local;
    return decision;
  }
  switch (domain->recipients) {
    case RecipientValidation::any:
      decision.route = RecipientRoute::local;
      return decision;
    case RecipientValidation::backend:
      decision.route = domain->backend.live() ? RecipientRoute::ask_backend : RecipientRoute::local;
      return decision;
    case RecipientValidation::list:
      if (table.addresses.count(smtp::to_lower_ascii(decision.address))) {
        decision.route = RecipientRoute::local;
        return decision;
      }
      decision.reply = smtp::Reply{550, "5.1.1", fmt::format("<{}>: Recipient address rejected: User unknown", decision.address)};
      decision.reason = "unknown recipient";
      return decision;
  }
  return decision;
}

}  // namespace gatehouse
