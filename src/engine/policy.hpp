// Relay control and recipient validation (RFC 5321 §3.6 relaying, §4.5.1 postmaster; the open
// relay probes of nmap's smtp-open-relay). Decides, for one RCPT, whether the address belongs to
// a domain we serve (and to which back-end it goes), may be relayed outbound for a trusted
// client, or is refused — and with which reply.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "config/config.hpp"
#include "smtp/command.hpp"
#include "smtp/reply.hpp"

namespace gatehouse {
class Store;

// An immutable snapshot of the domains and addresses in force; replaced as a whole when the
// configuration or the state database changes, so a transaction sees one consistent picture.
struct DomainTable {
  std::map<std::string, DomainConfig> domains;       // by lower-case name
  std::unordered_set<std::string> addresses;         // lower-case, of every domain
  std::vector<Network> trusted_networks;
  std::string primary_domain;                        // where "<postmaster>" without domain goes

  const DomainConfig* find(std::string_view domain) const;
  bool trusted(std::string_view ip) const { return in_networks(trusted_networks, ip); }
};

// Configuration domains first, then the domains and addresses added at run time in the store
// (a store domain of the same name overrides the file's).
std::shared_ptr<const DomainTable> build_domain_table(const Config& config, Store* store);

enum class RecipientRoute {
  local,            // a served domain, accepted (list/any, or postmaster/abuse)
  ask_backend,      // a served domain with recipients = "backend": the back-end decides live
  outbound,         // another domain, and the client may relay (trusted networks)
  refused,          // see reply
};

struct RecipientDecision {
  RecipientRoute route = RecipientRoute::refused;
  const DomainConfig* domain = nullptr;
  std::string address;        // normalised: local part as sent, domain lower-cased
  smtp::Reply reply;          // for refused
  std::string reason;         // short: "relay denied", "unknown recipient", …
};

RecipientDecision decide_recipient(const DomainTable& table, const smtp::Mailbox& recipient, bool trusted_client);

}  // namespace gatehouse
