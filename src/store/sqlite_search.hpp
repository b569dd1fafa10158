// A substring index for the message log's text searches (subject, sender, recipient) in the SQLite
// store: an FTS5 table with the trigram tokenizer, kept by the store's writer beside each log row
// (sqlite_search.cpp explains why and what it costs). Internal to src/store.
#pragma once
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "store/sqlite_support.hpp"
#include "store/store.hpp"

namespace gatehouse::sqlite_search {

// Creates the index if it is missing. The writer fills it (Writer::index_next), also from the log
// of a store written by an older version.
void prepare(sqlite3* db);

// The writer thread's side, inside its write transactions. Rows are indexed in chunks after they
// are logged, off the path of the SMTP reply (sqlite_search.cpp says why); every row of the log
// with a rowid above indexed_through() is not in the index yet, and searches test those directly.
class Writer {
 public:
  explicit Writer(sqlite3* db);
  // Before a transaction ID is written again: its old entry goes (INSERT OR REPLACE gives the row a new rowid).
  void remove(const std::string& id);
  // After the transaction's row was inserted under `rowid`: counted for the next chunk, or indexed
  // at once when the rowid is not above the mark.
  void logged(std::int64_t rowid, const TransactionRecord& record);
  // Rows logged and not yet indexed (approximately: a row written again counts twice).
  std::int64_t backlog() const { return backlog_; }
  std::int64_t indexed_through() const { return indexed_through_; }
  // Indexes the next `rows` rows above the mark, in the caller's transaction; chunk_committed()
  // once that transaction is committed moves the mark.
  void index_next(std::int64_t rows);
  void chunk_committed();
  // Before prune deletes the rows whose IDs are in temp.prune_ids.
  void prune_selected();

 private:
  void add(std::int64_t rowid, const TransactionRecord& record);

  sqlite::Statement remove_, add_, prune_, chunk_end_, index_rows_;
  std::int64_t indexed_through_ = 0;
  std::int64_t backlog_ = 0;
  std::pair<std::int64_t, std::int64_t> chunk_{0, 0};   // the uncommitted chunk: its last rowid, rows indexed
};

// A time limit for one statement on `db` (a progress handler): past it, the statement fails with
// SQLITE_INTERRUPT and spent() is true. For the search's walk newest first, which a common text
// ends quickly and a rare one would make read the whole log.
// The walk's time in milliseconds; below 0: no walk, straight to the index (the unit tests use
// it, so that both ways are tested on a small store).
inline std::atomic<int> walk_budget_ms{60};

class WalkBudget {
 public:
  explicit WalkBudget(sqlite3* db, std::chrono::milliseconds budget = std::chrono::milliseconds(walk_budget_ms.load()));
  ~WalkBudget();
  WalkBudget(const WalkBudget&) = delete;
  WalkBudget& operator=(const WalkBudget&) = delete;
  bool spent() const { return spent_; }

 private:
  static int check(void* self);
  sqlite3* db_;
  std::chrono::steady_clock::time_point deadline_;
  bool spent_ = false;
};

// For a search with subject / sender / recipient text: an FTS5 MATCH expression that finds a
// superset of the matching rows, when it finds few enough (at most `limit`) that reading them beats
// walking the log newest first; nullopt otherwise (no text of 3 characters or more, or a common one).
std::optional<std::string> selective_match(sqlite3* db, const SearchQuery& query, std::size_t limit = 5000);

}  // namespace gatehouse::sqlite_search
