// A substring index for the message log's text searches (subject, sender, recipient) in the SQLite
// store: an FTS5 table with the trigram tokenizer, kept by the store's writer beside each log row
// (sqlite_search.cpp explains why and what it costs). Internal to src/store.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

#include "store/sqlite_support.hpp"
#include "store/store.hpp"

namespace gatehouse::sqlite_search {

// Creates the index if it is missing and fills it from the log already there (once).
void prepare(sqlite3* db, const std::string& path);

// The writer thread's side, inside its write transactions.
class Writer {
 public:
  explicit Writer(sqlite3* db);
  // Before a transaction ID is written again: its old entry goes (INSERT OR REPLACE gives the row a new rowid).
  void remove(const std::string& id);
  // After the transaction's row was inserted under `rowid`.
  void add(std::int64_t rowid, const TransactionRecord& record);
  // Before prune deletes the rows whose IDs are in temp.prune_ids.
  void prune_selected();

 private:
  sqlite::Statement remove_, add_, prune_;
};

// For a search with subject / sender / recipient text: an FTS5 MATCH expression that finds a
// superset of the matching rows, when it finds few enough (at most `limit`) that reading them beats
// walking the log newest first; nullopt otherwise (no text of 3 characters or more, or a common one).
std::optional<std::string> selective_match(sqlite3* db, const SearchQuery& query, std::size_t limit = 5000);

}  // namespace gatehouse::sqlite_search
