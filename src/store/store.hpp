// The store: the transaction log, the kept copies of messages and the run-time state (domains,
// addresses) behind one interface. SQLite (sqlite_store.cpp) is the default implementation;
// another backend (PostgreSQL for several gateways) implements the same interface.
#pragma once
#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace gatehouse {

using Clock = std::chrono::system_clock;

// One contribution of one check to a verdict.
struct CheckResult {
  std::string name;
  double score = 0;
  std::string detail;
};

// One SMTP transaction (MAIL … end of DATA / RSET / QUIT), as logged.
struct TransactionRecord {
  std::string id;                    // transaction ID (common/id.hpp)
  Clock::time_point time{};
  std::string client_ip;
  std::string client_ptr;
  std::string helo;
  std::string tls;                   // "" or "TLSv1.3 TLS_AES_256_GCM_SHA384"
  std::string mail_from;             // "" for the null sender
  std::vector<std::string> recipients;          // accepted recipients
  std::vector<std::string> rejected_recipients; // "addr: 550 5.1.1 …"
  std::string header_from;
  std::string subject;
  std::string message_id;
  std::uint64_t size = 0;
  std::string disposition;           // accept | tag | reject | tempfail
  std::string reason;                // short machine-friendly reason: "relay denied", "backend 550", …
  std::string reply;                 // the final reply given to the client
  double score = 0;
  std::vector<CheckResult> checks;
  std::string direction = "inbound"; // inbound | outbound
  std::string domain;                // recipient domain (the policy group)
  std::string backend;               // where it was (to be) delivered
  std::string delivery_status;       // delivered | queued | failed | expired | none
  int delivery_attempts = 0;
  std::string delivery_detail;       // last back-end answer or error
  bool has_message = false;          // a copy of the message is stored
};

struct SearchQuery {
  std::optional<Clock::time_point> since, until;
  std::string sender;                // substring of the envelope sender or header From
  std::string recipient;             // substring of a recipient
  std::string subject;               // substring of the Subject
  std::string client_ip;             // exact IP or prefix
  std::string disposition;           // exact
  std::string id;                    // exact
  std::string domain;                // exact recipient domain
  std::string reason;                // substring of the reason
  // Not empty: only transactions with a recipient (accepted or refused) in one of these domains
  // (a domain administrator's view, src/web).
  std::vector<std::string> visible_domains;
  // Cursor: only transactions older than this (time, then ID), for paging newest first.
  std::optional<Clock::time_point> before_time;
  std::string before_id;
  std::size_t limit = 100;
  std::size_t offset = 0;
};

struct DeliveryUpdate {
  std::string id;
  std::string status;                // delivered | queued | failed | expired
  int attempts = 0;
  std::string detail;
};

// A domain or address managed at run time (`gatehouse domain …`, `gatehouse address …`).
struct StoredDomain {
  std::string name;
  std::string backend;               // "smtp:host:port", …
  std::string recipients = "list";   // list | backend | any
  double tag_threshold = 5.0;
  double reject_threshold = 10.0;
  std::optional<bool> greylisting;   // nullopt: as [greylisting] enabled says
  std::string reject_text;           // "" or the reply text of a spam rejection ({id} {reason} {contact})
};

// An account of the web administration (src/web): `gatehouse admin add`.
struct User {
  std::string name;
  std::string password_hash;         // argon2id, libsodium's crypto_pwhash_str format
  std::string role = "admin";        // admin | domain_admin
  std::vector<std::string> domains;  // a domain administrator's domains (lower case)
  Clock::time_point created{};
};

// A logged-in web session. The cookie's value is never stored, only its SHA-256.
struct WebSession {
  std::string token_hash;            // hex SHA-256 of the cookie value
  std::string username;
  std::string csrf_token;
  std::string client_ip;
  Clock::time_point created{}, expires{};
};

// One change made by an administrator (web or command line).
struct AuditEntry {
  std::int64_t id = 0;               // increasing
  Clock::time_point time{};
  std::string username;              // who; "cli:USER" from the command line
  std::string client_ip;             // "" from the command line
  std::string action;                // "login", "logout", "user.add", …
  std::string detail;
};

// The dashboard's figures (src/web/api_stats.cpp), from counts the store keeps per hour and day
// (sqlite_stats.cpp explains how and why).
struct StatsQuery {
  Clock::time_point since, until;                    // [since, until); whole hours
  std::chrono::seconds step{3600};                   // the series' bucket width: whole hours
  // Not empty: only these recipient domains' figures, each transaction counted once per domain of
  // theirs that it was addressed to (a domain administrator's view). Empty: every transaction.
  std::vector<std::string> domains;
  std::size_t top = 10;                              // entries in each top list
};

struct StatsCount {
  Clock::time_point start;                           // the bucket's start
  std::string disposition;
  std::string reason;
  std::uint64_t count = 0;
};

struct StatsTop {
  std::string key;                                   // a client IP or a sender domain
  std::uint64_t total = 0;
  std::uint64_t rejected = 0;
};

struct Statistics {
  std::vector<StatsCount> series;                    // non-zero counts per bucket, disposition and reason
  std::vector<StatsCount> reasons;                   // every disposition but accept/tag, by reason, most first (start unset)
  std::vector<StatsTop> top_ips, top_rejected_ips;
  std::vector<StatsTop> top_sender_domains, top_rejected_sender_domains;
  Clock::time_point top_since;                       // the top lists count from here (a whole day for long ranges)
};

// Greylisting state (checks/greylisting.hpp): one (client network, sender, recipient) triplet,
// and what is known of one client network.
struct GreylistTriplet {
  std::string network;               // "192.0.2.0/24", "2001:db8::/64"
  std::string sender;                // lower case; "" = the null sender
  std::string recipient;             // lower case
  Clock::time_point first_seen{};    // first attempt (of the current round)
  Clock::time_point last_seen{};     // last attempt, or last use once passed
  bool passed = false;               // retried within the window: accepted from now on
};
struct GreylistNetwork {
  std::string network;
  std::int64_t passed_triplets = 0;  // distinct triplets that passed (auto-whitelist)
  Clock::time_point last_seen{};     // last passed triplet or use
};

class Store {
 public:
  virtual ~Store() = default;

  // Writes are queued and committed in batches by one writer; they return at once.
  virtual void record(TransactionRecord record, std::string raw_message = {}) = 0;
  virtual void update_delivery(DeliveryUpdate update) = 0;
  // Blocks until everything queued so far is committed.
  virtual void flush() = 0;
  // Calls `done` once everything queued so far is committed, without blocking the caller (from
  // the writer's thread, or at once). The SMTP reply waits for it, so that a transaction whose ID
  // the client was given survives a crash in the log, with its stored copy.
  virtual void when_written(std::function<void()> done) {
    flush();
    done();
  }

  virtual std::optional<TransactionRecord> find(const std::string& id) = 0;
  virtual std::vector<TransactionRecord> search(const SearchQuery& query) = 0;
  virtual std::optional<std::string> message(const std::string& id) = 0;   // decompressed
  // Removes message copies and log rows older than `before`; returns the number of rows removed.
  virtual std::size_t prune(Clock::time_point before) = 0;

  // Run-time state. A change bumps the generation so running daemons pick it up.
  virtual Status put_domain(const StoredDomain& domain) = 0;
  virtual Status remove_domain(const std::string& name) = 0;
  virtual std::vector<StoredDomain> domains() = 0;
  virtual Status add_address(const std::string& address) = 0;
  virtual Status remove_address(const std::string& address) = 0;
  virtual std::vector<std::string> addresses(const std::string& domain = {}) = 0;
  // Named settings changed at run time (the web's Lists and Settings pages, engine/runtime_policy.hpp):
  // each a JSON document. An empty value removes the setting.
  virtual Status put_setting(const std::string& key, const std::string& value) = 0;
  virtual std::optional<std::string> setting(const std::string& key) = 0;
  virtual std::vector<std::pair<std::string, std::string>> settings() = 0;   // by key
  virtual std::int64_t state_generation() = 0;

  // Web administration accounts, sessions and the audit log.
  virtual Status add_user(const User& user) = 0;                 // fails when the name is taken
  virtual Status remove_user(const std::string& name) = 0;       // and the user's sessions
  virtual std::optional<User> find_user(const std::string& name) = 0;
  virtual std::vector<User> users() = 0;
  virtual Status add_session(const WebSession& session) = 0;
  virtual std::optional<WebSession> find_session(const std::string& token_hash) = 0;
  virtual void remove_session(const std::string& token_hash) = 0;
  virtual std::size_t remove_expired_sessions(Clock::time_point now) = 0;
  virtual Status audit(const AuditEntry& entry) = 0;             // appends; id and (if unset) time are filled in
  // Newest first; before_id > 0: only entries older than that one.
  virtual std::vector<AuditEntry> audit_log(std::size_t limit, std::int64_t before_id = 0) = 0;

  // The dashboard's counts (src/web/api_stats.cpp); an implementation without them answers empty figures.
  virtual Statistics statistics(const StatsQuery& query) {
    (void)query;
    return {};
  }

  // Greylisting state. Saves are queued for the writer like record() and return at once; finds read
  // what is committed. A store without them (these defaults) keeps greylisting in memory only.
  virtual void save_greylist_triplet(const GreylistTriplet&) {}
  virtual void save_greylist_network(const GreylistNetwork&) {}
  virtual std::optional<GreylistTriplet> find_greylist_triplet(const std::string& network, const std::string& sender,
                                                               const std::string& recipient) {
    return std::nullopt;
  }
  virtual std::optional<GreylistNetwork> find_greylist_network(const std::string& network) { return std::nullopt; }
  // Removes triplets not passed and first seen before `unpassed_before`, passed triplets and
  // networks last seen before `passed_before`; returns the number of rows removed.
  virtual std::size_t prune_greylist(Clock::time_point unpassed_before, Clock::time_point passed_before) { return 0; }
};

// Opens (creating if needed) the SQLite store at `path`.
struct StoreOptions {
  // Rows go to a record journal before they are committed (store/record_journal.hpp), so an SMTP
  // reply does not wait for an SQLite commit: for the daemon, which holds the journal's lock.
  bool journal_records = false;
};
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, const StoreOptions& options = {});

}  // namespace gatehouse
