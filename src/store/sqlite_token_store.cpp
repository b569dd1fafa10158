// The SQLite implementation of the TokenStore (store/token_store.hpp): the classifier's tables in
// the daemon's database (WAL mode, so the CLI learns beside a running daemon). Writes are batched
// by the callers (one transaction per learn() call); counts change by deltas, so a daemon and
// `gatehouse learn` writing at the same time both count.
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <cstring>
#include <mutex>
#include <stdexcept>

#include "store/sqlite_support.hpp"
#include "store/token_store.hpp"

namespace gatehouse {
namespace {

constexpr int kBusyTimeoutMs = 10000;

using sqlite::Connection;
using sqlite::execute;
using sqlite::SqliteError;
using sqlite::Statement;

Error failure(std::string message) {
  Error error;
  error.message = std::move(message);
  return error;
}

std::int64_t to_milliseconds(Clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// Hashes are unsigned 64-bit; SQLite integers are signed: stored bit for bit.
std::int64_t as_signed(std::uint64_t value) {
  std::int64_t out;
  std::memcpy(&out, &value, sizeof out);
  return out;
}
std::uint64_t as_unsigned(std::int64_t value) {
  std::uint64_t out;
  std::memcpy(&out, &value, sizeof out);
  return out;
}

constexpr const char* kSchema = R"sql(
  CREATE TABLE IF NOT EXISTS classifier_tokens (
    hash      INTEGER PRIMARY KEY NOT NULL,   -- 64-bit feature hash (classifier/tokenizer.hpp)
    spam      INTEGER NOT NULL,               -- learned spam messages with the feature
    ham       INTEGER NOT NULL,
    last_seen INTEGER NOT NULL                -- days since the Unix epoch
  );
  -- 'spam' and 'ham': messages learned; 'generation': bumped by every change, so daemons reload.
  CREATE TABLE IF NOT EXISTS classifier_totals (
    key   TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
  );
  INSERT OR IGNORE INTO classifier_totals(key, value) VALUES ('spam', 0), ('ham', 0), ('generation', 0);
  CREATE TABLE IF NOT EXISTS classifier_learned (
    digest TEXT PRIMARY KEY NOT NULL,
    label  TEXT NOT NULL,                     -- ham | spam
    source TEXT NOT NULL,                     -- cli | reply | autolearn | release
    time   INTEGER NOT NULL                   -- milliseconds since the Unix epoch
  );
  CREATE INDEX IF NOT EXISTS classifier_learned_time ON classifier_learned(time);
  CREATE TABLE IF NOT EXISTS classifier_inbound (
    message_id TEXT PRIMARY KEY NOT NULL,     -- without angle brackets
    id         TEXT NOT NULL,                 -- transaction ID
    time       INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS classifier_inbound_time ON classifier_inbound(time);
)sql";

class SqliteTokenStore final : public TokenStore {
 public:
  SqliteTokenStore(std::string path, Connection db) : path_(std::move(path)), db_(std::move(db)) {}

  Result<TokenSnapshot> load() override { return read(nullptr); }
  Result<TokenSnapshot> load_some(const std::vector<std::uint64_t>& hashes) override { return read(&hashes); }

  Result<TokenSnapshot> read(const std::vector<std::uint64_t>* only) {
    std::lock_guard lock(mutex_);
    try {
      TokenSnapshot snapshot;
      execute(db_.get(), "BEGIN");   // one consistent read of tokens and totals
      Statement totals(db_.get(), "SELECT key, value FROM classifier_totals");
      while (totals.step()) {
        std::string key = totals.text(0);
        if (key == "spam") snapshot.spam_messages = static_cast<std::uint64_t>(totals.integer(1));
        else if (key == "ham") snapshot.ham_messages = static_cast<std::uint64_t>(totals.integer(1));
        else if (key == "generation") snapshot.generation = totals.integer(1);
      }
      auto add_row = [&](const Statement& row) {
        snapshot.tokens.push_back({as_unsigned(row.integer(0)), static_cast<std::uint32_t>(row.integer(1)),
                                   static_cast<std::uint32_t>(row.integer(2)), static_cast<std::int32_t>(row.integer(3))});
      };
      if (only) {
        Statement token(db_.get(), "SELECT hash, spam, ham, last_seen FROM classifier_tokens WHERE hash = ?1");
        for (std::uint64_t hash : *only) {
          token.reset().bind(1, as_signed(hash));
          if (token.step()) add_row(token);
        }
      } else {
        Statement tokens(db_.get(), "SELECT hash, spam, ham, last_seen FROM classifier_tokens");
        while (tokens.step()) add_row(tokens);
      }
      execute(db_.get(), "COMMIT");
      return snapshot;
    } catch (const SqliteError& error) {
      rollback();
      return failure(fmt::format("cannot read the classifier tokens from {}: {}", path_, error.what()));
    }
  }

  std::int64_t generation() override {
    std::lock_guard lock(mutex_);
    try {
      Statement query(db_.get(), "SELECT value FROM classifier_totals WHERE key = 'generation'");
      return query.step() ? query.integer(0) : 0;
    } catch (const SqliteError& error) {
      spdlog::error("token store {}: {}", path_, error.what());
      return -1;
    }
  }

  std::optional<LearnedMessage> learned(const std::string& digest) override {
    std::lock_guard lock(mutex_);
    try {
      Statement query(db_.get(), "SELECT label, source FROM classifier_learned WHERE digest = ?1");
      query.bind(1, digest);
      if (query.step()) return LearnedMessage{query.text(0), query.text(1)};
    } catch (const SqliteError& error) {
      spdlog::error("token store {}: {}", path_, error.what());
    }
    return std::nullopt;
  }

  Result<GenerationStep> learn(const std::vector<LearnRecord>& records) override {
    std::lock_guard lock(mutex_);
    try {
      execute(db_.get(), "BEGIN IMMEDIATE");
      GenerationStep step;
      step.before = read_generation();
      Statement upsert(db_.get(),
                       "INSERT INTO classifier_tokens (hash, spam, ham, last_seen) VALUES (?1, max(?2, 0), max(?3, 0), ?4) "
                       "ON CONFLICT (hash) DO UPDATE SET spam = max(spam + ?2, 0), ham = max(ham + ?3, 0), "
                       "last_seen = max(last_seen, ?4)");
      Statement remove_empty(db_.get(), "DELETE FROM classifier_tokens WHERE hash = ?1 AND spam = 0 AND ham = 0");
      Statement totals(db_.get(), "UPDATE classifier_totals SET value = max(value + ?2, 0) WHERE key = ?1");
      Statement remember(db_.get(),
                         "INSERT OR REPLACE INTO classifier_learned (digest, label, source, time) VALUES (?1, ?2, ?3, ?4)");
      Statement forget(db_.get(), "DELETE FROM classifier_learned WHERE digest = ?1");
      const std::int64_t now = to_milliseconds(Clock::now());
      for (const auto& record : records) {
        const bool removes = record.spam < 0 || record.ham < 0;
        for (std::uint64_t feature : record.features) {
          upsert.reset().bind(1, as_signed(feature)).bind(2, record.spam).bind(3, record.ham);
          upsert.bind(4, removes && record.spam <= 0 && record.ham <= 0 ? 0 : record.day).run();
          if (removes) remove_empty.reset().bind(1, as_signed(feature)).run();
        }
        if (record.spam) totals.reset().bind(1, std::string("spam")).bind(2, record.spam).run();
        if (record.ham) totals.reset().bind(1, std::string("ham")).bind(2, record.ham).run();
        if (record.label.empty()) forget.reset().bind(1, record.digest).run();
        else remember.reset().bind(1, record.digest).bind(2, record.label).bind(3, record.source).bind(4, now).run();
      }
      execute(db_.get(), "UPDATE classifier_totals SET value = value + 1 WHERE key = 'generation'");
      step.after = read_generation();
      execute(db_.get(), "COMMIT");
      return step;
    } catch (const SqliteError& error) {
      rollback();
      return failure(fmt::format("cannot save what the classifier learned in {}: {}", path_, error.what()));
    }
  }

  Result<AgeingResult> age(const AgeingPolicy& policy) override {
    std::lock_guard lock(mutex_);
    try {
      AgeingResult result;
      execute(db_.get(), "BEGIN IMMEDIATE");
      result.generation.before = read_generation();
      Statement totals(db_.get(), "SELECT max(value) FROM classifier_totals WHERE key IN ('spam', 'ham')");
      totals.step();
      if (static_cast<std::uint64_t>(totals.integer(0)) > policy.max_learned) {
        // Halving keeps every ratio and lets new lessons weigh twice as much as old ones.
        execute(db_.get(), "UPDATE classifier_tokens SET spam = spam / 2, ham = ham / 2");
        execute(db_.get(), "UPDATE classifier_totals SET value = value / 2 WHERE key IN ('spam', 'ham')");
        result.halved = true;
      }
      Statement drop(db_.get(), "DELETE FROM classifier_tokens WHERE last_seen < ?1 OR (spam = 0 AND ham = 0)");
      result.tokens_removed = static_cast<std::uint64_t>(drop.bind(1, policy.today - policy.max_age_days).run());
      const std::int64_t before = to_milliseconds(policy.forget_before);
      Statement(db_.get(), "DELETE FROM classifier_learned WHERE time < ?1").bind(1, before).run();
      Statement(db_.get(), "DELETE FROM classifier_inbound WHERE time < ?1").bind(1, before).run();
      if (result.halved || result.tokens_removed > 0)
        execute(db_.get(), "UPDATE classifier_totals SET value = value + 1 WHERE key = 'generation'");
      result.generation.after = read_generation();
      execute(db_.get(), "COMMIT");
      return result;
    } catch (const SqliteError& error) {
      rollback();
      return failure(fmt::format("cannot age the classifier tokens in {}: {}", path_, error.what()));
    }
  }

  Status remember_inbound(const std::vector<InboundEntry>& entries) override {
    if (entries.empty()) return Ok{};
    std::lock_guard lock(mutex_);
    try {
      execute(db_.get(), "BEGIN IMMEDIATE");
      Statement insert(db_.get(), "INSERT OR REPLACE INTO classifier_inbound (message_id, id, time) VALUES (?1, ?2, ?3)");
      const std::int64_t now = to_milliseconds(Clock::now());
      for (const auto& [message_id, transaction_id] : entries) insert.reset().bind(1, message_id).bind(2, transaction_id).bind(3, now).run();
      execute(db_.get(), "COMMIT");
      return Ok{};
    } catch (const SqliteError& error) {
      rollback();
      return failure(fmt::format("cannot remember {} inbound Message-IDs in {}: {}", entries.size(), path_, error.what()));
    }
  }

  std::optional<std::string> inbound_transaction(const std::string& message_id) override {
    std::lock_guard lock(mutex_);
    try {
      Statement query(db_.get(), "SELECT id FROM classifier_inbound WHERE message_id = ?1");
      query.bind(1, message_id);
      if (query.step()) return query.text(0);
    } catch (const SqliteError& error) {
      spdlog::error("token store {}: {}", path_, error.what());
    }
    return std::nullopt;
  }

 private:
  std::int64_t read_generation() {
    Statement query(db_.get(), "SELECT value FROM classifier_totals WHERE key = 'generation'");
    return query.step() ? query.integer(0) : 0;
  }
  void rollback() {
    if (!sqlite3_get_autocommit(db_.get())) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }

  const std::string path_;
  std::mutex mutex_;
  Connection db_;
};

}  // namespace

Result<std::unique_ptr<TokenStore>> open_sqlite_token_store(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Connection db(raw);
  if (rc != SQLITE_OK)
    return failure(fmt::format("cannot open the classifier tables in {}: {}", path,
                               db ? sqlite3_errmsg(db.get()) : "out of memory"));
  try {
    sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
    execute(db.get(), "PRAGMA journal_mode = WAL");
    execute(db.get(), "PRAGMA synchronous = NORMAL");
    execute(db.get(), "BEGIN IMMEDIATE");
    execute(db.get(), kSchema);
    execute(db.get(), "COMMIT");
  } catch (const SqliteError& error) {
    if (!sqlite3_get_autocommit(db.get())) sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    return failure(fmt::format("cannot create the classifier tables in {}: {}", path, error.what()));
  }
  return std::unique_ptr<TokenStore>(std::make_unique<SqliteTokenStore>(path, std::move(db)));
}

}  // namespace gatehouse
