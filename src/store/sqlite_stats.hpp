// The dashboard's counts in the SQLite store: a rollup table kept by the store's writer thread
// beside the transaction log (sqlite_stats.cpp explains the choice and its figures). Internal to
// src/store: sqlite_store.cpp calls these from its writer and reader connections.
#pragma once
#include <sqlite3.h>

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite_support.hpp"
#include "store/store.hpp"

namespace gatehouse::sqlite_stats {

// Creates the rollup table if it is missing, and then fills it from the log already there (a store
// written by an older version). Runs on the writer connection when the store opens.
void prepare(sqlite3* db);

// What one logged transaction adds to the counts.
struct Contribution {
  std::int64_t time_ms = 0;
  std::string disposition, reason, client_ip, sender_domain;
  std::vector<std::string> recipient_domains;   // distinct, lower case
};
Contribution contribution_of(const TransactionRecord& record);

// The writer thread's side: statements prepared once, used inside its write transactions.
class Writer {
 public:
  explicit Writer(sqlite3* db);
  // Before a transaction ID is written again (a delivery outcome re-records it): what the stored
  // row counted, so that it can be taken back; nullopt when the ID is new.
  std::optional<Contribution> stored(const std::string& id);
  // Adds (sign 1) or takes back (sign -1) one transaction's counts. They are summed in memory
  // until write_pending(): a batch of transactions from the same clients and senders touches the
  // same few rows, so each is upserted once per batch instead of once per transaction.
  void apply(const Contribution& contribution, int sign, std::int64_t now_ms);
  // Writes the counts summed since the last call (inside the writer's transaction), or forgets
  // them when that transaction is rolled back.
  void write_pending();
  void discard_pending() { pending_.clear(); }
  // Drops hourly per-IP and per-sender rows past their use; at most once an hour (writer's transaction).
  void maintain(std::int64_t now_ms);
  // With prune(): counts of hours and days wholly before `before_ms`.
  void prune(std::int64_t before_ms);

 private:
  void add(const char* kind, const std::string& scope, std::int64_t bucket, const std::string& key, int sign, bool rejected);

  struct Key {
    std::string kind;
    std::string scope;
    std::int64_t bucket;
    std::string key;
    auto operator<=>(const Key&) const = default;
  };
  std::map<Key, std::pair<std::int64_t, std::int64_t>> pending_;   // → (total, rejected)
  sqlite::Statement select_transaction_, select_domains_, upsert_, drop_hourly_, prune_hourly_, prune_daily_;
  std::int64_t maintained_hour_ = -1;
};

// The dashboard's figures (Store::statistics) on a reader connection.
Statistics read(sqlite3* db, const StatsQuery& query, std::int64_t now_ms);

}  // namespace gatehouse::sqlite_stats
