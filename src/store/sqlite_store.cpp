// The SQLite implementation of the Store (store/store.hpp): the transaction log, zstd-compressed
// copies of messages and the run-time state (domains, addresses) in one database file in WAL mode.
//
// One writer thread owns the write connection. record(), update_delivery() and prune() queue work for
// it and it commits everything queued in batches (one transaction per batch), so the SMTP sessions
// never wait for the disk. In the daemon an SMTP reply waits for nothing more: record() appends the
// row to the record journal first (record_journal.hpp), and the writer commits rows every 20 ms
// or so, many at a time (a commit per reply cost the writer twice the CPU, bench/README.md).
// Without the journal (its lock held elsewhere, or a write to it failed) the reply waits for its
// batch's commit (when_written), which concurrent sessions share. The batch's dashboard counts are summed in memory and the search
// index is written in chunks after the rows (sqlite_stats.cpp, sqlite_search.cpp): a commit
// carries as few pages as possible. Reads and the rare, synchronous state changes (CLI, JSON API) use a second
// connection; with WAL they run beside the writer, and beside a daemon's writer in another process
// (busy_timeout covers the moments when a write lock is held).
#include <arpa/inet.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <zstd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <span>
#include <stdexcept>
#include <thread>
#include <variant>

#include "common/text.hpp"
#include "store/record_journal.hpp"
#include "store/sqlite_search.hpp"
#include "store/sqlite_stats.hpp"
#include "store/sqlite_support.hpp"
#include "store/store.hpp"

namespace gatehouse {
namespace {

constexpr int kSchemaVersion = 3;
constexpr int kBusyTimeoutMs = 5000;
constexpr std::size_t kMaxBatchWrites = 1000;
constexpr auto kBatchWindow = std::chrono::milliseconds(20);
// The batch window also ends when no write came for this long: on a quiet gateway a row is in
// the log (for the command line, another process) a moment after its reply.
constexpr auto kQuietCommit = std::chrono::milliseconds(2);
// When a caller waits (an SMTP reply waits for its log row) and the last batch had several writes
// (concurrent sessions), the writer lets as many gather again, for up to a millisecond and at most
// kGatherWrites: a commit writes every page it touched (log, indexes, search index, counts) to the
// WAL, so a commit of one row costs nearly what a commit of sixteen does. Measured under load
// (bench/README.md, concurrency 20): 1.7 rows and 12 WAL frames per commit without the pause.
// A lone session (the last batch had one write) does not wait.
constexpr auto kGatherWindow = std::chrono::microseconds(1000);
constexpr std::size_t kGatherWrites = 16;
// The search index is written in chunks (sqlite_search.cpp): this many rows per transaction, when
// that many wait or the oldest has waited kSearchMaxDelay, or after kSearchIdle without writes.
constexpr std::int64_t kSearchChunk = 500;
constexpr auto kSearchMaxDelay = std::chrono::seconds(5);
constexpr auto kSearchIdle = std::chrono::milliseconds(200);
constexpr auto kSearchRetry = std::chrono::seconds(60);   // after a failed chunk
constexpr std::int64_t kFlushIndexRows = 20'000;        // flush() waits for at most this many
constexpr int kCompressionLevel = 3;
constexpr int kPruneChunkRows = 5000;  // rows deleted per transaction, so other writers get turns
constexpr int kBeginAttempts = 6;      // each waits up to the busy timeout for another writer

using sqlite::Connection;
using sqlite::execute;
using sqlite::SqliteError;
using sqlite::Statement;

Connection open_connection(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Connection db(raw);
  if (rc != SQLITE_OK) {
    if (!db) throw SqliteError("out of memory");
    std::string reason = sqlite3_errmsg(db.get());
    if (int system_error = sqlite3_system_errno(db.get())) reason += fmt::format(" ({})", std::strerror(system_error));
    throw SqliteError(reason);
  }
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  execute(db.get(), "PRAGMA synchronous = NORMAL");
  return db;
}

// Creates the tables on first use; refuses a database written by a newer version.
void prepare_schema(sqlite3* db, const std::string& path) {
  {
    Statement journal(db, "PRAGMA journal_mode = WAL");
    if (!journal.step() || journal.text(0) != "wal")
      spdlog::warn("store {}: WAL journal mode is not available here; writes will block reads", path);
  }
  execute(db, "BEGIN IMMEDIATE");
  try {
    Statement version_query(db, "PRAGMA user_version");
    version_query.step();
    std::int64_t version = version_query.integer(0);
    version_query.reset();
    if (version > kSchemaVersion)
      throw SqliteError(
          fmt::format("schema version {} is newer than this program supports ({})", version, kSchemaVersion));
    if (version < 1) {
      execute(db, R"sql(
        CREATE TABLE IF NOT EXISTS transactions (
          id                  TEXT PRIMARY KEY NOT NULL,
          time                INTEGER NOT NULL,  -- milliseconds since the Unix epoch
          client_ip           TEXT NOT NULL COLLATE NOCASE,
          client_ptr          TEXT NOT NULL,
          helo                TEXT NOT NULL,
          tls                 TEXT NOT NULL,
          mail_from           TEXT NOT NULL,
          recipients          TEXT NOT NULL,     -- JSON array of strings
          rejected_recipients TEXT NOT NULL,     -- JSON array of strings
          header_from         TEXT NOT NULL,
          subject             TEXT NOT NULL,
          message_id          TEXT NOT NULL,
          size                INTEGER NOT NULL,
          disposition         TEXT NOT NULL,
          reason              TEXT NOT NULL,
          reply               TEXT NOT NULL,
          score               REAL NOT NULL,
          checks              TEXT NOT NULL,     -- JSON array of {"name", "score", "detail"}
          direction           TEXT NOT NULL,
          domain              TEXT NOT NULL COLLATE NOCASE,
          backend             TEXT NOT NULL,
          delivery_status     TEXT NOT NULL,
          delivery_attempts   INTEGER NOT NULL,
          delivery_detail     TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS transactions_time ON transactions(time, id);
        CREATE INDEX IF NOT EXISTS transactions_mail_from ON transactions(mail_from);
        CREATE INDEX IF NOT EXISTS transactions_client_ip ON transactions(client_ip);
        CREATE INDEX IF NOT EXISTS transactions_disposition ON transactions(disposition, time);
        CREATE INDEX IF NOT EXISTS transactions_domain ON transactions(domain, time);

        -- Every recipient of a transaction, accepted or not, for searching by recipient.
        CREATE TABLE IF NOT EXISTS recipients (
          id       TEXT NOT NULL,
          address  TEXT NOT NULL COLLATE NOCASE,
          accepted INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS recipients_address ON recipients(address);
        CREATE INDEX IF NOT EXISTS recipients_id ON recipients(id);

        -- The raw message, compressed with zstd.
        CREATE TABLE IF NOT EXISTS messages (
          id   TEXT PRIMARY KEY NOT NULL,
          body BLOB NOT NULL
        );

        CREATE TABLE IF NOT EXISTS domains (
          name             TEXT PRIMARY KEY NOT NULL,
          backend          TEXT NOT NULL,
          recipients       TEXT NOT NULL,
          tag_threshold    REAL NOT NULL,
          reject_threshold REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS addresses (
          address TEXT PRIMARY KEY NOT NULL,  -- lower case
          domain  TEXT NOT NULL               -- the part after the last '@'
        );
        CREATE INDEX IF NOT EXISTS addresses_domain ON addresses(domain);

        -- 'generation' counts changes of the run-time state, so daemons know when to reload it.
        CREATE TABLE IF NOT EXISTS state (
          key   TEXT PRIMARY KEY NOT NULL,
          value INTEGER NOT NULL
        );
        INSERT OR IGNORE INTO state(key, value) VALUES ('generation', 0);
      )sql");
    }
    if (version < 2) {
      // Version 2: the web administration's accounts, sessions and audit log; each recipient's
      // domain, so that a domain administrator's search is restricted in the query (src/web).
      execute(db, R"sql(
        ALTER TABLE recipients ADD COLUMN domain TEXT NOT NULL DEFAULT '' COLLATE NOCASE;
        UPDATE recipients SET domain = lower(substr(address, instr(address, '@') + 1)) WHERE instr(address, '@') > 0;
        CREATE INDEX IF NOT EXISTS recipients_domain ON recipients(domain, id);

        CREATE TABLE IF NOT EXISTS users (
          name          TEXT PRIMARY KEY NOT NULL,
          password_hash TEXT NOT NULL,        -- argon2id (crypto_pwhash_str)
          role          TEXT NOT NULL,        -- admin | domain_admin
          domains       TEXT NOT NULL,        -- JSON array of strings
          created       INTEGER NOT NULL      -- milliseconds since the Unix epoch
        );
        CREATE TABLE IF NOT EXISTS web_sessions (
          token_hash TEXT PRIMARY KEY NOT NULL,  -- hex SHA-256 of the cookie value
          username   TEXT NOT NULL,
          csrf_token TEXT NOT NULL,
          client_ip  TEXT NOT NULL,
          created    INTEGER NOT NULL,
          expires    INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS web_sessions_expires ON web_sessions(expires);
        CREATE INDEX IF NOT EXISTS web_sessions_username ON web_sessions(username);
        CREATE TABLE IF NOT EXISTS audit (
          id        INTEGER PRIMARY KEY AUTOINCREMENT,
          time      INTEGER NOT NULL,
          username  TEXT NOT NULL,
          client_ip TEXT NOT NULL,
          action    TEXT NOT NULL,
          detail    TEXT NOT NULL
        );
      )sql");
    }
    if (version < 3) {
      // Version 3: a domain's greylisting and reject text; the settings of the web's Lists and
      // Settings pages (engine/runtime_policy.hpp).
      execute(db, R"sql(
        ALTER TABLE domains ADD COLUMN greylisting INTEGER;   -- NULL: as configured
        ALTER TABLE domains ADD COLUMN reject_text TEXT NOT NULL DEFAULT '';
        CREATE TABLE IF NOT EXISTS settings (
          key   TEXT PRIMARY KEY NOT NULL,
          value TEXT NOT NULL                  -- a JSON document
        );
      )sql");
    }
    // Greylisting state (checks/greylisting.hpp): tables of their own, created when missing, which an
    // older version of the program ignores. Written by the writer thread only; pruned hourly.
    execute(db, R"sql(
      CREATE TABLE IF NOT EXISTS greylist_triplets (
        network    TEXT NOT NULL,             -- client network: IPv4 /24, IPv6 /64
        sender     TEXT NOT NULL,             -- lower case; '' = the null sender
        recipient  TEXT NOT NULL,             -- lower case
        first_seen INTEGER NOT NULL,          -- milliseconds since the Unix epoch
        last_seen  INTEGER NOT NULL,
        passed     INTEGER NOT NULL,          -- 1: retried in time, accepted from now on
        PRIMARY KEY (network, sender, recipient)
      );
      CREATE INDEX IF NOT EXISTS greylist_triplets_first_seen ON greylist_triplets(passed, first_seen);
      CREATE INDEX IF NOT EXISTS greylist_triplets_last_seen ON greylist_triplets(passed, last_seen);
      CREATE TABLE IF NOT EXISTS greylist_networks (
        network         TEXT PRIMARY KEY NOT NULL,
        passed_triplets INTEGER NOT NULL,     -- distinct triplets that passed (auto-whitelist)
        last_seen       INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS greylist_networks_last_seen ON greylist_networks(last_seen);
    )sql");
    if (version < kSchemaVersion)
      execute(db, fmt::format("PRAGMA user_version = {}", kSchemaVersion).c_str());
    execute(db, "COMMIT");
  } catch (...) {
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

// ---------------------------------------------------------------------------------------------
// Conversions.

// An Error carrying only a message.
Error failure(std::string message) {
  Error error;
  error.message = std::move(message);
  return error;
}

std::int64_t to_milliseconds(Clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

Clock::time_point from_milliseconds(std::int64_t milliseconds) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(milliseconds)));
}

std::string strings_to_json(const std::vector<std::string>& values) {
  boost::json::array array;
  for (const auto& value : values) array.emplace_back(value);
  return boost::json::serialize(array);
}

std::vector<std::string> strings_from_json(std::string_view text) {
  std::vector<std::string> values;
  boost::system::error_code error;
  boost::json::value parsed = boost::json::parse(text, error);
  if (error || !parsed.is_array()) return values;
  for (const auto& item : parsed.as_array())
    if (item.is_string()) values.emplace_back(item.as_string().data(), item.as_string().size());
  return values;
}

std::string checks_to_json(const std::vector<CheckResult>& checks) {
  boost::json::array array;
  for (const auto& check : checks)
    array.push_back(boost::json::object{{"name", check.name}, {"score", check.score}, {"detail", check.detail}});
  return boost::json::serialize(array);
}

std::vector<CheckResult> checks_from_json(std::string_view text) {
  std::vector<CheckResult> checks;
  boost::system::error_code error;
  boost::json::value parsed = boost::json::parse(text, error);
  if (error || !parsed.is_array()) return checks;
  for (const auto& item : parsed.as_array()) {
    if (!item.is_object()) continue;
    const auto& object = item.as_object();
    CheckResult check;
    if (auto* name = object.if_contains("name"); name && name->is_string())
      check.name.assign(name->as_string().data(), name->as_string().size());
    if (auto* score = object.if_contains("score"); score && score->is_number())
      check.score = score->to_number<double>();
    if (auto* detail = object.if_contains("detail"); detail && detail->is_string())
      check.detail.assign(detail->as_string().data(), detail->as_string().size());
    checks.push_back(std::move(check));
  }
  return checks;
}

std::string ascii_upper(std::string_view text) {
  std::string raised(text);
  for (char& c : raised)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return raised;
}

// The address in "addr: 550 5.1.1 …" (a rejected recipient), without angle brackets.
std::string_view rejected_address(std::string_view rejected) {
  std::string_view address = trim_ascii_whitespace(rejected.substr(0, rejected.find(": ")));
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>')
    address = address.substr(1, address.size() - 2);
  return address;
}

// A LIKE pattern that matches `text` literally (with ESCAPE '\').
std::string escape_like(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

bool is_complete_ip_address(const std::string& text) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 || inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

struct CompressionContextFree {
  void operator()(ZSTD_CCtx* context) const noexcept { ZSTD_freeCCtx(context); }
};

std::optional<std::string> compress(std::string_view raw) {
  // One context per calling thread, reused: compression runs in the threads that call record().
  thread_local std::unique_ptr<ZSTD_CCtx, CompressionContextFree> context(ZSTD_createCCtx());
  if (!context) return std::nullopt;
  std::string compressed(ZSTD_compressBound(raw.size()), '\0');
  std::size_t size =
      ZSTD_compressCCtx(context.get(), compressed.data(), compressed.size(), raw.data(), raw.size(), kCompressionLevel);
  if (ZSTD_isError(size)) {
    spdlog::error("store: cannot compress a message: {}", ZSTD_getErrorName(size));
    return std::nullopt;
  }
  compressed.resize(size);
  return compressed;
}

std::optional<std::string> decompress(std::string_view compressed) {
  unsigned long long size = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) return std::nullopt;
  std::string raw(size, '\0');
  std::size_t written = ZSTD_decompress(raw.data(), raw.size(), compressed.data(), compressed.size());
  if (ZSTD_isError(written) || written != size) return std::nullopt;
  return raw;
}

constexpr std::string_view kRecordColumns =
    "t.id, t.time, t.client_ip, t.client_ptr, t.helo, t.tls, t.mail_from, t.recipients, t.rejected_recipients, "
    "t.header_from, t.subject, t.message_id, t.size, t.disposition, t.reason, t.reply, t.score, t.checks, "
    "t.direction, t.domain, t.backend, t.delivery_status, t.delivery_attempts, t.delivery_detail, "
    "EXISTS (SELECT 1 FROM messages m WHERE m.id = t.id)";

TransactionRecord read_record(const Statement& row) {
  TransactionRecord record;
  record.id = row.text(0);
  record.time = from_milliseconds(row.integer(1));
  record.client_ip = row.text(2);
  record.client_ptr = row.text(3);
  record.helo = row.text(4);
  record.tls = row.text(5);
  record.mail_from = row.text(6);
  record.recipients = strings_from_json(row.text(7));
  record.rejected_recipients = strings_from_json(row.text(8));
  record.header_from = row.text(9);
  record.subject = row.text(10);
  record.message_id = row.text(11);
  record.size = static_cast<std::uint64_t>(row.integer(12));
  record.disposition = row.text(13);
  record.reason = row.text(14);
  record.reply = row.text(15);
  record.score = row.real(16);
  record.checks = checks_from_json(row.text(17));
  record.direction = row.text(18);
  record.domain = row.text(19);
  record.backend = row.text(20);
  record.delivery_status = row.text(21);
  record.delivery_attempts = static_cast<int>(row.integer(22));
  record.delivery_detail = row.text(23);
  record.has_message = row.integer(24) != 0;
  return record;
}

// ---------------------------------------------------------------------------------------------
// The writer's work items, in queue order.

struct RecordWrite {
  TransactionRecord record;
  std::optional<std::string> compressed_body;  // nullopt: keep whatever body is stored
  std::optional<std::uint64_t> journal_file;   // in the record journal (record_journal.hpp), this file
};
struct DeliveryWrite {
  DeliveryUpdate update;
};
struct PruneWrite {
  std::int64_t before_milliseconds;
  std::promise<std::size_t> removed_rows;
};
struct GreylistTripletWrite {
  GreylistTriplet triplet;
};
struct GreylistNetworkWrite {
  GreylistNetwork network;
};
struct GreylistPruneWrite {
  std::int64_t unpassed_before_milliseconds;
  std::int64_t passed_before_milliseconds;
  std::promise<std::size_t> removed_rows;
};
// flush(): the search index catches up with the log (sqlite_search.cpp), at most kFlushIndexRows.
struct SearchIndexWrite {};
using Write = std::variant<RecordWrite, DeliveryWrite, PruneWrite, GreylistTripletWrite, GreylistNetworkWrite,
                           GreylistPruneWrite, SearchIndexWrite>;

// The writer's prepared statements, reused for every batch.
struct WriterStatements {
  explicit WriterStatements(sqlite3* db)
      : begin(db, "BEGIN IMMEDIATE", true),
        commit(db, "COMMIT", true),
        rollback(db, "ROLLBACK", true),
        savepoint(db, "SAVEPOINT one_write", true),
        release_savepoint(db, "RELEASE one_write", true),
        rollback_to_savepoint(db, "ROLLBACK TO one_write", true),
        delete_recipients(db, "DELETE FROM recipients WHERE id = ?1", true),
        insert_transaction(db,
                           "INSERT OR REPLACE INTO transactions (id, time, client_ip, client_ptr, helo, tls, "
                           "mail_from, recipients, rejected_recipients, header_from, subject, message_id, size, "
                           "disposition, reason, reply, score, checks, direction, domain, backend, "
                           "delivery_status, delivery_attempts, delivery_detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                           "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
                           true),
        insert_recipient(db, "INSERT INTO recipients (id, address, accepted, domain) VALUES (?1, ?2, ?3, ?4)", true),
        insert_message(db, "INSERT OR REPLACE INTO messages (id, body) VALUES (?1, ?2)", true),
        update_delivery(db,
                        "UPDATE transactions SET delivery_status = ?2, delivery_attempts = ?3, "
                        "delivery_detail = ?4 WHERE id = ?1",
                        true),
        select_prune_ids(db, "INSERT INTO temp.prune_ids (id) SELECT id FROM transactions WHERE time < ?1 LIMIT ?2",
                         true),
        delete_pruned_recipients(db, "DELETE FROM recipients WHERE id IN (SELECT id FROM temp.prune_ids)", true),
        delete_pruned_messages(db, "DELETE FROM messages WHERE id IN (SELECT id FROM temp.prune_ids)", true),
        delete_pruned_transactions(db, "DELETE FROM transactions WHERE id IN (SELECT id FROM temp.prune_ids)", true),
        clear_prune_ids(db, "DELETE FROM temp.prune_ids", true),
        save_greylist_triplet(db,
                              "INSERT OR REPLACE INTO greylist_triplets (network, sender, recipient, first_seen, "
                              "last_seen, passed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                              true),
        save_greylist_network(db,
                              "INSERT OR REPLACE INTO greylist_networks (network, passed_triplets, last_seen) "
                              "VALUES (?1, ?2, ?3)",
                              true) {}

  Statement begin, commit, rollback, savepoint, release_savepoint, rollback_to_savepoint;
  Statement delete_recipients, insert_transaction, insert_recipient, insert_message, update_delivery;
  Statement select_prune_ids, delete_pruned_recipients, delete_pruned_messages, delete_pruned_transactions,
      clear_prune_ids;
  Statement save_greylist_triplet, save_greylist_network;
};

Connection open_writer_connection(const std::string& path) {
  Connection db = open_connection(path);
  prepare_schema(db.get(), path);
  sqlite_stats::prepare(db.get());         // the dashboard's counts (sqlite_stats.cpp)
  sqlite_search::prepare(db.get());        // the text searches' index (sqlite_search.cpp)
  execute(db.get(), "PRAGMA temp_store = MEMORY");
  execute(db.get(), "CREATE TEMP TABLE IF NOT EXISTS prune_ids (id TEXT PRIMARY KEY NOT NULL)");
  return db;
}

// ---------------------------------------------------------------------------------------------

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, Connection writer_db, Connection reader_db, Connection greylist_db,
              std::unique_ptr<RecordJournal> journal, bool keep_journal)
      : path_(std::move(path)),
        writer_db_(std::move(writer_db)),
        writer_statements_(writer_db_.get()),
        stats_writer_(writer_db_.get()),
        search_writer_(writer_db_.get()),
        reader_db_(std::move(reader_db)),
        greylist_db_(std::move(greylist_db)),
        journal_(std::move(journal)),
        journaling_(journal_ && keep_journal),
        writer_thread_([this] { run_writer(); }) {
    pthread_setname_np(writer_thread_.native_handle(), "gatehouse-store");
    if (!journal_) return;
    replay_journal();
    if (!journaling_) journal_->unlock();   // a command-line process: its writes wait for their commit
  }

  ~SqliteStore() override {
    {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;
    }
    work_queued_.notify_one();
    writer_thread_.join();  // the writer drains the queue before it stops
  }

  void record(TransactionRecord record, std::string raw_message) override {
    RecordWrite write{std::move(record), std::nullopt, std::nullopt};
    if (!raw_message.empty()) write.compressed_body = compress(raw_message);
    if (journaling_) {
      auto file = journal_->append(write.record, write.compressed_body);
      if (file)
        write.journal_file = *file;
      else
        spdlog::error("store {}: record journal: {}; the reply waits for the row's commit", path_,
                      file.error().message);
    }
    const bool promised = !write.journal_file;   // when_written() waits for its commit
    enqueue(std::move(write), false, promised);
  }

  void update_delivery(DeliveryUpdate update) override { enqueue(DeliveryWrite{std::move(update)}, false); }

  // ---- greylisting state: saved by the writer, read on a connection of its own

  void save_greylist_triplet(const GreylistTriplet& triplet) override { enqueue(GreylistTripletWrite{triplet}, false); }

  void save_greylist_network(const GreylistNetwork& network) override { enqueue(GreylistNetworkWrite{network}, false); }

  std::optional<GreylistTriplet> find_greylist_triplet(const std::string& network, const std::string& sender,
                                                       const std::string& recipient) override {
    std::lock_guard lock(greylist_mutex_);
    try {
      Statement query(greylist_db_.get(),
                      "SELECT first_seen, last_seen, passed FROM greylist_triplets "
                      "WHERE network = ?1 AND sender = ?2 AND recipient = ?3");
      query.bind_text(1, network).bind_text(2, sender).bind_text(3, recipient);
      if (query.step())
        return GreylistTriplet{network, sender, recipient, from_milliseconds(query.integer(0)),
                               from_milliseconds(query.integer(1)), query.integer(2) != 0};
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read greylisting state: {}", path_, error.what());
    }
    return std::nullopt;
  }

  std::optional<GreylistNetwork> find_greylist_network(const std::string& network) override {
    std::lock_guard lock(greylist_mutex_);
    try {
      Statement query(greylist_db_.get(), "SELECT passed_triplets, last_seen FROM greylist_networks WHERE network = ?1");
      query.bind_text(1, network);
      if (query.step()) return GreylistNetwork{network, query.integer(0), from_milliseconds(query.integer(1))};
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read greylisting state: {}", path_, error.what());
    }
    return std::nullopt;
  }

  std::size_t prune_greylist(Clock::time_point unpassed_before, Clock::time_point passed_before) override {
    GreylistPruneWrite write{to_milliseconds(unpassed_before), to_milliseconds(passed_before), {}};
    auto removed = write.removed_rows.get_future();
    enqueue(std::move(write), true);
    return removed.get();
  }

  // Everything queued so far committed, and the search index caught up with it (up to
  // kFlushIndexRows rows), so that a search right after finds it through the index too.
  void flush() override {
    enqueue(SearchIndexWrite{}, true);
    wait_for_queued();
  }

  // Blocks until the writer has handled every write queued so far. Not from the writer thread.
  void wait_for_queued() {
    std::unique_lock lock(queue_mutex_);
    std::uint64_t target = queued_count_;
    if (written_count_ >= target) return;
    hurry_until_ = std::max(hurry_until_, target);
    work_queued_.notify_one();
    work_written_.wait(lock, [&] { return written_count_ >= target; });
  }

  // Commits what a previous run left in the record journal (rows already in the log skipped),
  // then deletes those files; they stay when a row could not be committed.
  void replay_journal() {
    auto entries = journal_->leftovers();
    if (entries.empty()) {
      journal_->discard_leftovers();
      return;
    }
    std::vector<std::string> replayed;
    std::size_t skipped = 0;
    for (auto& entry : entries) {
      if (row_exists(entry.record.id)) {
        ++skipped;
        continue;
      }
      replayed.push_back(entry.record.id);
      enqueue(RecordWrite{std::move(entry.record), std::move(entry.compressed_body), std::nullopt}, true);
    }
    wait_for_queued();
    std::size_t missing = 0;
    for (const auto& id : replayed)
      if (!row_exists(id)) ++missing;
    if (missing > 0) {
      spdlog::error("store {}: {} of {} rows of the record journal could not be committed; the journal is kept for "
                    "the next start",
                    path_, missing, replayed.size());
      return;
    }
    spdlog::info("store {}: committed {} rows left in the record journal by the previous run ({} were already there)",
                 path_, replayed.size(), skipped);
    journal_->discard_leftovers();
  }

  bool row_exists(const std::string& id) {
    std::lock_guard lock(reader_mutex_);
    try {
      Statement query(reader_db_.get(), "SELECT 1 FROM transactions WHERE id = ?1");
      query.bind_text(1, id);
      return query.step();
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read transaction {}: {}", path_, id, error.what());
      return false;
    }
  }

  // Before a read: the rows queued so far are committed (the record journal lets replies go
  // before that; a reader in this process sees what was replied to). Not from the writer thread.
  void catch_up() {
    if (journaling_) wait_for_queued();
  }

  // What a reply waits for: every row queued so far is in the record journal or committed.
  void when_written(std::function<void()> done) override {
    {
      std::lock_guard lock(queue_mutex_);
      std::uint64_t target = must_commit_through_;
      if (written_count_ < target) {
        hurry_until_ = std::max(hurry_until_, target);
        written_waiters_.emplace_back(target, std::move(done));
        work_queued_.notify_one();
        return;
      }
    }
    done();
  }

  std::optional<TransactionRecord> find(const std::string& id) override {
    catch_up();
    std::lock_guard lock(reader_mutex_);
    try {
      Statement query(reader_db_.get(), fmt::format("SELECT {} FROM transactions t WHERE t.id = ?1", kRecordColumns));
      query.bind_text(1, id);
      if (query.step()) return read_record(query);
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read transaction {}: {}", path_, id, error.what());
    }
    return std::nullopt;
  }

  std::vector<TransactionRecord> search(const SearchQuery& query) override {
    catch_up();
    std::string sql = fmt::format("SELECT {} FROM transactions t WHERE 1", kRecordColumns);
    std::vector<std::variant<std::string, std::int64_t>> parameters;
    if (query.since) {
      sql += " AND t.time >= ?";
      parameters.emplace_back(to_milliseconds(*query.since));
    }
    if (query.until) {
      sql += " AND t.time < ?";
      parameters.emplace_back(to_milliseconds(*query.until));
    }
    if (!query.sender.empty()) {
      sql += " AND (t.mail_from LIKE ? ESCAPE '\\' OR t.header_from LIKE ? ESCAPE '\\')";
      parameters.emplace_back("%" + escape_like(query.sender) + "%");
      parameters.emplace_back("%" + escape_like(query.sender) + "%");
    }
    if (!query.recipient.empty()) {
      sql += " AND EXISTS (SELECT 1 FROM recipients r WHERE r.id = t.id AND r.address LIKE ? ESCAPE '\\')";
      parameters.emplace_back("%" + escape_like(query.recipient) + "%");
    }
    if (!query.subject.empty()) {
      sql += " AND t.subject LIKE ? ESCAPE '\\'";
      parameters.emplace_back("%" + escape_like(query.subject) + "%");
    }
    if (!query.client_ip.empty()) {
      // A whole address matches exactly (10.0.0.1 is not 10.0.0.10); anything else is a prefix.
      if (is_complete_ip_address(query.client_ip)) {
        sql += " AND t.client_ip = ?";
        parameters.emplace_back(query.client_ip);
      } else {
        sql += " AND t.client_ip LIKE ? ESCAPE '\\'";
        parameters.emplace_back(escape_like(query.client_ip) + "%");
      }
    }
    if (!query.disposition.empty()) {
      sql += " AND t.disposition = ?";
      parameters.emplace_back(query.disposition);
    }
    if (!query.id.empty()) {
      sql += " AND t.id IN (?, ?)";  // IDs are quoted by people: accept them in lower case too
      parameters.emplace_back(query.id);
      parameters.emplace_back(ascii_upper(query.id));
    }
    if (!query.domain.empty()) {
      sql += " AND t.domain = ?";  // the column compares without case
      parameters.emplace_back(query.domain);
    }
    if (!query.reason.empty()) {
      sql += " AND t.reason LIKE ? ESCAPE '\\'";
      parameters.emplace_back("%" + escape_like(query.reason) + "%");
    }
    if (!query.visible_domains.empty()) {
      sql += " AND EXISTS (SELECT 1 FROM recipients r WHERE r.id = t.id AND r.domain IN (";
      for (std::size_t i = 0; i < query.visible_domains.size(); ++i) {
        sql += i ? ", ?" : "?";
        parameters.emplace_back(to_lower_ascii(query.visible_domains[i]));
      }
      sql += "))";
    }
    if (query.before_time) {
      sql += " AND (t.time < ? OR (t.time = ? AND t.id < ?))";
      parameters.emplace_back(to_milliseconds(*query.before_time));
      parameters.emplace_back(to_milliseconds(*query.before_time));
      parameters.emplace_back(query.before_id);
    }
    std::vector<TransactionRecord> records;
    auto run = [&](std::string text, std::vector<std::variant<std::string, std::int64_t>> values) {
      text += " ORDER BY t.time DESC, t.id DESC LIMIT ? OFFSET ?";
      // A limit of 0 means no limit.
      values.emplace_back(query.limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(query.limit));
      values.emplace_back(static_cast<std::int64_t>(query.offset));
      Statement statement(reader_db_.get(), text);
      for (std::size_t i = 0; i < values.size(); ++i) {
        int index = static_cast<int>(i + 1);
        if (auto* value = std::get_if<std::string>(&values[i]))
          statement.bind_text(index, *value);
        else
          statement.bind_integer(index, std::get<std::int64_t>(values[i]));
      }
      records.clear();
      while (statement.step()) records.push_back(read_record(statement));
    };
    std::lock_guard lock(reader_mutex_);
    try {
      // Subject / sender / recipient texts (sqlite_search.cpp): the walk newest first gets a moment,
      // which a common text's page needs; a rarer one is looked up in the trigram index instead,
      // the conditions above unchanged.
      const bool text = !query.subject.empty() || !query.sender.empty() || !query.recipient.empty();
      bool done = false;
      if (text && sqlite_search::walk_budget_ms >= 0) {
        sqlite_search::WalkBudget budget(reader_db_.get());
        try {
          run(sql, parameters);
          done = true;
        } catch (const SqliteError&) {
          if (!budget.spent()) throw;
        }
      }
      if (!done) {
        if (text) {
          if (auto match = sqlite_search::selective_match(reader_db_.get(), query)) {
            // Rows logged since the index's last chunk are not in it: LIKE tests those.
            sql += " AND (t.rowid IN (SELECT rowid FROM search_text WHERE search_text MATCH ?) OR t.rowid > ?)";
            parameters.emplace_back(std::move(*match));
            parameters.emplace_back(search_indexed_through_.load());
          }
        }
        run(sql, parameters);
      }
    } catch (const SqliteError& error) {
      spdlog::error("store {}: search failed: {}", path_, error.what());
    }
    return records;
  }

  Statistics statistics(const StatsQuery& query) override {
    std::lock_guard lock(reader_mutex_);
    try {
      return sqlite_stats::read(reader_db_.get(), query, to_milliseconds(Clock::now()));
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read the statistics: {}", path_, error.what());
    }
    return {};
  }

  std::optional<std::string> message(const std::string& id) override {
    catch_up();
    std::lock_guard lock(reader_mutex_);
    try {
      Statement query(reader_db_.get(), "SELECT body FROM messages WHERE id = ?1");
      query.bind_text(1, id);
      if (!query.step()) return std::nullopt;
      auto raw = decompress(query.blob(0));
      if (!raw) spdlog::error("store {}: the stored copy of message {} is corrupt", path_, id);
      return raw;
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read message {}: {}", path_, id, error.what());
    }
    return std::nullopt;
  }

  std::size_t prune(Clock::time_point before) override {
    PruneWrite write{to_milliseconds(before), {}};
    auto removed_rows = write.removed_rows.get_future();
    enqueue(std::move(write), true);
    return removed_rows.get();
  }

  Status put_domain(const StoredDomain& domain) override {
    std::string name = to_lower_ascii(trim_ascii_whitespace(domain.name));
    if (name.empty()) return failure("a domain needs a name");
    if (domain.recipients != "list" && domain.recipients != "backend" && domain.recipients != "any")
      return failure(fmt::format("domain {}: recipients must be \"list\", \"backend\" or \"any\", not \"{}\"", name,
                                 domain.recipients));
    return change_state(fmt::format("save domain {}", name), [&](sqlite3* db) -> Result<bool> {
      Statement upsert(db,
                       "INSERT INTO domains (name, backend, recipients, tag_threshold, reject_threshold, greylisting, "
                       "reject_text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name) DO UPDATE SET "
                       "backend = excluded.backend, recipients = excluded.recipients, "
                       "tag_threshold = excluded.tag_threshold, reject_threshold = excluded.reject_threshold, "
                       "greylisting = excluded.greylisting, reject_text = excluded.reject_text");
      upsert.bind_text(1, name)
          .bind_text(2, domain.backend)
          .bind_text(3, domain.recipients)
          .bind_real(4, domain.tag_threshold)
          .bind_real(5, domain.reject_threshold)
          .bind_text(7, domain.reject_text);
      if (domain.greylisting) upsert.bind_integer(6, *domain.greylisting ? 1 : 0);
      upsert.run();
      return true;
    });
  }

  Status remove_domain(const std::string& name) override {
    std::string key = to_lower_ascii(trim_ascii_whitespace(name));
    return change_state(fmt::format("remove domain {}", key), [&](sqlite3* db) -> Result<bool> {
      if (Statement(db, "DELETE FROM domains WHERE name = ?1").bind_text(1, key).run() == 0)
        return failure(fmt::format("no such domain: {}", key));
      return true;
    });
  }

  std::vector<StoredDomain> domains() override {
    std::vector<StoredDomain> domains;
    std::lock_guard lock(reader_mutex_);
    try {
      Statement query(reader_db_.get(),
                      "SELECT name, backend, recipients, tag_threshold, reject_threshold, greylisting, reject_text "
                      "FROM domains ORDER BY name");
      while (query.step()) {
        StoredDomain domain{query.text(0), query.text(1), query.text(2), query.real(3), query.real(4)};
        if (!query.is_null(5)) domain.greylisting = query.integer(5) != 0;
        domain.reject_text = query.text(6);
        domains.push_back(std::move(domain));
      }
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read domains: {}", path_, error.what());
    }
    return domains;
  }

  Status add_address(const std::string& address) override {
    std::string normalized = to_lower_ascii(trim_ascii_whitespace(address));
    auto at = normalized.rfind('@');
    if (at == std::string::npos) return failure(fmt::format("\"{}\" is not an e-mail address: it has no '@'", address));
    if (at == 0 || at + 1 == normalized.size())
      return failure(
          fmt::format("\"{}\" is not an e-mail address: it needs a name before and a domain after the '@'", address));
    std::string domain = normalized.substr(at + 1);
    return change_state(fmt::format("add address {}", normalized), [&](sqlite3* db) -> Result<bool> {
      Statement insert(db, "INSERT OR IGNORE INTO addresses (address, domain) VALUES (?1, ?2)");
      return insert.bind_text(1, normalized).bind_text(2, domain).run() > 0;
    });
  }

  Status remove_address(const std::string& address) override {
    std::string normalized = to_lower_ascii(trim_ascii_whitespace(address));
    return change_state(fmt::format("remove address {}", normalized), [&](sqlite3* db) -> Result<bool> {
      if (Statement(db, "DELETE FROM addresses WHERE address = ?1").bind_text(1, normalized).run() == 0)
        return failure(fmt::format("no such address: {}", normalized));
      return true;
    });
  }

  std::vector<std::string> addresses(const std::string& domain) override {
    std::vector<std::string> addresses;
    std::lock_guard lock(reader_mutex_);
    try {
      std::string wanted = to_lower_ascii(trim_ascii_whitespace(domain));
      Statement query(reader_db_.get(), wanted.empty()
                                            ? "SELECT address FROM addresses ORDER BY address"
                                            : "SELECT address FROM addresses WHERE domain = ?1 ORDER BY address");
      if (!wanted.empty()) query.bind_text(1, wanted);
      while (query.step()) addresses.push_back(query.text(0));
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read addresses: {}", path_, error.what());
    }
    return addresses;
  }

  Status put_setting(const std::string& key, const std::string& value) override {
    return change_state(fmt::format("save setting {}", key), [&](sqlite3* db) -> Result<bool> {
      if (value.empty()) return Statement(db, "DELETE FROM settings WHERE key = ?1").bind_text(1, key).run() > 0;
      Statement upsert(db, "INSERT INTO settings (key, value) VALUES (?1, ?2) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
      upsert.bind_text(1, key).bind_text(2, value).run();
      return true;
    });
  }

  std::optional<std::string> setting(const std::string& key) override {
    std::lock_guard lock(reader_mutex_);
    try {
      Statement query(reader_db_.get(), "SELECT value FROM settings WHERE key = ?1");
      query.bind_text(1, key);
      if (query.step()) return query.text(0);
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read setting {}: {}", path_, key, error.what());
    }
    return std::nullopt;
  }

  std::vector<std::pair<std::string, std::string>> settings() override {
    std::vector<std::pair<std::string, std::string>> settings;
    std::lock_guard lock(reader_mutex_);
    try {
      Statement query(reader_db_.get(), "SELECT key, value FROM settings ORDER BY key");
      while (query.step()) settings.emplace_back(query.text(0), query.text(1));
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read the settings: {}", path_, error.what());
    }
    return settings;
  }

  // -1 when the store cannot be read.
  std::int64_t state_generation() override {
    std::lock_guard lock(reader_mutex_);
    try {
      Statement query(reader_db_.get(), "SELECT value FROM state WHERE key = 'generation'");
      return query.step() ? query.integer(0) : 0;
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read the state generation: {}", path_, error.what());
      return -1;
    }
  }

  // ---- web administration: accounts, sessions, audit log (no generation bump: not gateway state)

  Status add_user(const User& user) override {
    std::string name(trim_ascii_whitespace(user.name));
    if (name.empty()) return failure("a user needs a name");
    if (user.role != "admin" && user.role != "domain_admin")
      return failure(fmt::format("user {}: role must be \"admin\" or \"domain_admin\", not \"{}\"", name, user.role));
    std::vector<std::string> domains;
    for (const auto& domain : user.domains) domains.push_back(to_lower_ascii(trim_ascii_whitespace(domain)));
    auto created = user.created == Clock::time_point{} ? Clock::now() : user.created;
    return change_state(fmt::format("add user {}", name), [&](sqlite3* db) -> Result<bool> {
      Statement insert(db,
                       "INSERT OR IGNORE INTO users (name, password_hash, role, domains, created) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)");
      if (insert.bind_text(1, name)
              .bind_text(2, user.password_hash)
              .bind_text(3, user.role)
              .bind_text(4, strings_to_json(domains))
              .bind_integer(5, to_milliseconds(created))
              .run() == 0)
        return failure(fmt::format("user {} already exists", name));
      return false;
    });
  }

  Status remove_user(const std::string& name) override {
    return change_state(fmt::format("remove user {}", name), [&](sqlite3* db) -> Result<bool> {
      if (Statement(db, "DELETE FROM users WHERE name = ?1").bind_text(1, name).run() == 0)
        return failure(fmt::format("no such user: {}", name));
      Statement(db, "DELETE FROM web_sessions WHERE username = ?1").bind_text(1, name).run();
      return false;
    });
  }

  std::optional<User> find_user(const std::string& name) override {
    auto found = read_users("WHERE name = ?1", name);
    if (found.empty()) return std::nullopt;
    return std::move(found.front());
  }

  std::vector<User> users() override { return read_users("ORDER BY name", {}); }

  Status add_session(const WebSession& session) override {
    return change_state("save a web session", [&](sqlite3* db) -> Result<bool> {
      Statement(db,
                "INSERT OR REPLACE INTO web_sessions (token_hash, username, csrf_token, client_ip, created, expires) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
          .bind_text(1, session.token_hash)
          .bind_text(2, session.username)
          .bind_text(3, session.csrf_token)
          .bind_text(4, session.client_ip)
          .bind_integer(5, to_milliseconds(session.created))
          .bind_integer(6, to_milliseconds(session.expires))
          .run();
      return false;
    });
  }

  std::optional<WebSession> find_session(const std::string& token_hash) override {
    std::lock_guard lock(reader_mutex_);
    try {
      Statement query(reader_db_.get(),
                      "SELECT token_hash, username, csrf_token, client_ip, created, expires FROM web_sessions "
                      "WHERE token_hash = ?1");
      query.bind_text(1, token_hash);
      if (!query.step()) return std::nullopt;
      return WebSession{query.text(0), query.text(1), query.text(2), query.text(3), from_milliseconds(query.integer(4)),
                        from_milliseconds(query.integer(5))};
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read a web session: {}", path_, error.what());
    }
    return std::nullopt;
  }

  void remove_session(const std::string& token_hash) override {
    auto removed = change_state("remove a web session", [&](sqlite3* db) -> Result<bool> {
      Statement(db, "DELETE FROM web_sessions WHERE token_hash = ?1").bind_text(1, token_hash).run();
      return false;
    });
    if (!removed) spdlog::error("{}", removed.error().message);
  }

  std::size_t remove_expired_sessions(Clock::time_point now) override {
    std::size_t removed = 0;
    auto status = change_state("remove expired web sessions", [&](sqlite3* db) -> Result<bool> {
      removed = static_cast<std::size_t>(
          Statement(db, "DELETE FROM web_sessions WHERE expires <= ?1").bind_integer(1, to_milliseconds(now)).run());
      return false;
    });
    if (!status) spdlog::error("{}", status.error().message);
    return removed;
  }

  Status audit(const AuditEntry& entry) override {
    auto time = entry.time == Clock::time_point{} ? Clock::now() : entry.time;
    return change_state("write the audit log", [&](sqlite3* db) -> Result<bool> {
      Statement(db, "INSERT INTO audit (time, username, client_ip, action, detail) VALUES (?1, ?2, ?3, ?4, ?5)")
          .bind_integer(1, to_milliseconds(time))
          .bind_text(2, entry.username)
          .bind_text(3, entry.client_ip)
          .bind_text(4, entry.action)
          .bind_text(5, entry.detail)
          .run();
      return false;
    });
  }

  std::vector<AuditEntry> audit_log(std::size_t limit, std::int64_t before_id) override {
    std::vector<AuditEntry> entries;
    std::lock_guard lock(reader_mutex_);
    try {
      Statement query(reader_db_.get(),
                      "SELECT id, time, username, client_ip, action, detail FROM audit WHERE ?1 <= 0 OR id < ?1 "
                      "ORDER BY id DESC LIMIT ?2");
      query.bind_integer(1, before_id).bind_integer(2, limit == 0 ? -1 : static_cast<std::int64_t>(limit));
      while (query.step())
        entries.push_back(AuditEntry{query.integer(0), from_milliseconds(query.integer(1)), query.text(2), query.text(3),
                                     query.text(4), query.text(5)});
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read the audit log: {}", path_, error.what());
    }
    return entries;
  }

 private:
  std::vector<User> read_users(const char* where, const std::string& name) {
    std::vector<User> users;
    std::lock_guard lock(reader_mutex_);
    try {
      Statement query(reader_db_.get(),
                      fmt::format("SELECT name, password_hash, role, domains, created FROM users {}", where));
      if (!name.empty()) query.bind_text(1, name);
      while (query.step())
        users.push_back(User{query.text(0), query.text(1), query.text(2), strings_from_json(query.text(3)),
                             from_milliseconds(query.integer(4))});
    } catch (const SqliteError& error) {
      spdlog::error("store {}: cannot read users: {}", path_, error.what());
    }
    return users;
  }

  // ---- the queue, shared by the callers and the writer thread

  // `promised`: a reply waits for this write's commit (when_written).
  void enqueue(Write write, bool urgent, bool promised = false) {
    bool wake_writer;
    {
      std::lock_guard lock(queue_mutex_);
      queue_.push_back(std::move(write));
      ++queued_count_;
      if (promised) must_commit_through_ = queued_count_;
      if (urgent) hurry_until_ = std::max(hurry_until_, queued_count_);
      // The first write starts the writer's batch window; a full batch or a waiting caller ends it.
      wake_writer = urgent || gathering_ || queue_.size() == 1 || queue_.size() >= kMaxBatchWrites;
    }
    if (wake_writer) work_queued_.notify_one();
  }

  void run_writer() {
    std::unique_lock lock(queue_mutex_);
    for (;;) {
      const auto has_work = [&] { return stopping_ || !queue_.empty(); };
      if (!has_work() && search_writer_.backlog() > 0 && Clock::now() >= search_retry_after_) {
        // Idle for a moment with rows not yet in the search index: index them until work comes.
        if (!work_queued_.wait_for(lock, kSearchIdle, has_work)) {
          do {
            lock.unlock();
            const bool indexed = index_search_chunk();
            lock.lock();
            if (!indexed) break;
          } while (!has_work() && search_writer_.backlog() > 0);
          continue;
        }
      }
      work_queued_.wait(lock, has_work);
      if (queue_.empty()) return;  // stopping, and everything is written
      // Let more writes gather for a moment, so that one transaction carries many; a quiet
      // moment ends the window early.
      {
        const auto ready = [&] {
          return stopping_ || hurry_until_ > written_count_ || queue_.size() >= kMaxBatchWrites;
        };
        const auto window_end = std::chrono::steady_clock::now() + kBatchWindow;
        std::size_t seen = queue_.size();
        while (!work_queued_.wait_until(lock, std::min(window_end, std::chrono::steady_clock::now() + kQuietCommit),
                                        ready)) {
          if (std::chrono::steady_clock::now() >= window_end || queue_.size() == seen) break;
          seen = queue_.size();
        }
      }
      const std::size_t expected = std::min(kGatherWrites, last_batch_writes_);
      if (!stopping_ && queue_.size() < expected) {
        gathering_ = true;
        work_queued_.wait_for(lock, kGatherWindow, [&] { return stopping_ || queue_.size() >= expected; });
        gathering_ = false;
      }
      std::vector<Write> batch;
      std::size_t count = std::min(queue_.size(), kMaxBatchWrites);
      last_batch_writes_ = count;
      batch.reserve(count);
      for (std::size_t i = 0; i < count; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      lock.unlock();
      write_batch(batch);
      lock.lock();
      written_count_ += count;
      work_written_.notify_all();
      if (!written_waiters_.empty()) {
        std::vector<std::function<void()>> ready;
        std::erase_if(written_waiters_, [&](auto& waiter) {
          if (waiter.first > written_count_) return false;
          ready.push_back(std::move(waiter.second));
          return true;
        });
        lock.unlock();
        for (auto& done : ready) done();
        lock.lock();
      }
      // Under steady traffic: a chunk of the search index once enough rows wait, or the oldest long enough.
      const auto now = Clock::now();
      if (search_writer_.backlog() > 0 && now >= search_retry_after_ &&
          (search_writer_.backlog() >= kSearchChunk || now - last_search_chunk_ >= kSearchMaxDelay)) {
        lock.unlock();
        index_search_chunk();
        lock.lock();
      }
    }
  }

  // ---- the writer thread only

  // One chunk of the search index in a transaction of its own; false when it failed (logged, and
  // not tried again for kSearchRetry: the rows above the mark stay searchable by LIKE).
  bool index_search_chunk() {
    last_search_chunk_ = Clock::now();
    if (!begin_write_transaction()) {
      search_retry_after_ = last_search_chunk_ + kSearchRetry;
      return false;
    }
    try {
      search_writer_.index_next(kSearchChunk);
      writer_statements_.commit.reset().run();
      search_writer_.chunk_committed();
      search_indexed_through_.store(search_writer_.indexed_through());
      return true;
    } catch (const SqliteError& error) {
      spdlog::warn("store {}: cannot update the search index (rows above {} stay unindexed for now): {}", path_,
                   search_writer_.indexed_through(), error.what());
      rollback_if_open();
      search_retry_after_ = last_search_chunk_ + kSearchRetry;
      return false;
    }
  }

  void write_batch(std::vector<Write>& batch) {
    // A prune runs in transactions of its own, between the writes queued before and after it.
    auto segment_start = batch.begin();
    for (auto it = batch.begin(); it != batch.end(); ++it) {
      if (auto* prune = std::get_if<PruneWrite>(&*it)) {
        write_segment({segment_start, it});
        auto removed = prune_rows(prune->before_milliseconds);
        prune_stats(prune->before_milliseconds);
        prune->removed_rows.set_value(removed);
        segment_start = it + 1;
      } else if (auto* greylist_prune = std::get_if<GreylistPruneWrite>(&*it)) {
        write_segment({segment_start, it});
        greylist_prune->removed_rows.set_value(prune_greylist_rows(*greylist_prune));
        segment_start = it + 1;
      } else if (std::holds_alternative<SearchIndexWrite>(*it)) {
        write_segment({segment_start, it});
        for (std::int64_t indexed = 0; indexed < kFlushIndexRows && search_writer_.backlog() > 0; indexed += kSearchChunk)
          if (!index_search_chunk()) break;
        segment_start = it + 1;
      }
    }
    write_segment({segment_start, batch.end()});
  }

  // One write transaction for a run of writes. The common case runs them straight through, so
  // the search index (FTS5, which flushes its pending terms at every savepoint) and the statistics
  // are written once per batch. Should any write fail, the transaction is rolled back and the run
  // is written again with a savepoint around each write, so that only the failing one is lost.
  void write_segment(std::span<Write> writes) {
    if (writes.empty()) return;
    if (!write_segment_attempt(writes, false)) write_segment_attempt(writes, true);
    for (const auto& write : writes)
      if (const auto* record = std::get_if<RecordWrite>(&write); record && record->journal_file)
        journal_->committed(*record->journal_file);
  }

  // False when a write failed without savepoints (the transaction is rolled back, nothing kept).
  bool write_segment_attempt(std::span<Write> writes, bool savepoints) {
    auto& statements = writer_statements_;
    stats_writer_.discard_pending();
    if (!begin_write_transaction()) {
      spdlog::error("store {}: {} log writes lost: no write transaction could be started", path_, writes.size());
      return true;
    }
    try {
      stats_writer_.maintain(to_milliseconds(Clock::now()));
    } catch (const SqliteError& error) {
      spdlog::warn("store {}: cannot drop old hourly statistics: {}", path_, error.what());
    }
    for (auto& write : writes) {
      try {
        if (savepoints) statements.savepoint.reset().run();
        write_one(write);
        if (savepoints) statements.release_savepoint.reset().run();
      } catch (const std::exception& error) {
        if (!savepoints) {
          spdlog::warn("store {}: writing transaction {} failed ({}); writing the batch again one by one", path_,
                       write_id(write), error.what());
          rollback_if_open();
          return false;
        }
        spdlog::error("store {}: cannot write transaction {}: {}", path_, write_id(write), error.what());
        if (sqlite3_get_autocommit(writer_db_.get())) {  // SQLite rolled the whole transaction back
          spdlog::error("store {}: {} log writes lost with the failed transaction", path_, writes.size());
          stats_writer_.discard_pending();
          return true;
        }
        try {
          statements.rollback_to_savepoint.reset().run();
          statements.release_savepoint.reset().run();
        } catch (const SqliteError&) {
        }
      }
    }
    try {
      statements.savepoint.reset().run();
      stats_writer_.write_pending();
      statements.release_savepoint.reset().run();
    } catch (const SqliteError& error) {
      spdlog::warn("store {}: the dashboard's counts of {} writes are lost: {}", path_, writes.size(), error.what());
      stats_writer_.discard_pending();
      try {
        statements.rollback_to_savepoint.reset().run();
        statements.release_savepoint.reset().run();
      } catch (const SqliteError&) {
      }
    }
    try {
      statements.commit.reset().run();
    } catch (const SqliteError& error) {
      spdlog::error("store {}: {} log writes lost: commit failed: {}", path_, writes.size(), error.what());
      rollback_if_open();
    }
    return true;
  }

  void write_one(const Write& write) {
    if (auto* record = std::get_if<RecordWrite>(&write))
      write_record(*record);
    else if (auto* delivery = std::get_if<DeliveryWrite>(&write))
      write_delivery(*delivery);
    else if (auto* triplet = std::get_if<GreylistTripletWrite>(&write))
      write_greylist_triplet(triplet->triplet);
    else if (auto* network = std::get_if<GreylistNetworkWrite>(&write))
      write_greylist_network(network->network);
  }

  void write_record(const RecordWrite& write) {
    const TransactionRecord& record = write.record;
    auto& statements = writer_statements_;
    // The dashboard's counts: what a row written before under this ID counted is taken back.
    const auto now = to_milliseconds(Clock::now());
    const auto before = stats_writer_.stored(record.id);
    if (before) search_writer_.remove(record.id);   // the text searches' index (sqlite_search.cpp)
    statements.delete_recipients.reset().bind_text(1, record.id).run();
    statements.insert_transaction.reset()
        .bind_text(1, record.id)
        .bind_integer(2, to_milliseconds(record.time))
        .bind_text(3, record.client_ip)
        .bind_text(4, record.client_ptr)
        .bind_text(5, record.helo)
        .bind_text(6, record.tls)
        .bind_text(7, record.mail_from)
        .bind_text(8, strings_to_json(record.recipients))
        .bind_text(9, strings_to_json(record.rejected_recipients))
        .bind_text(10, record.header_from)
        .bind_text(11, record.subject)
        .bind_text(12, record.message_id)
        .bind_integer(13, static_cast<std::int64_t>(record.size))
        .bind_text(14, record.disposition)
        .bind_text(15, record.reason)
        .bind_text(16, record.reply)
        .bind_real(17, record.score)
        .bind_text(18, checks_to_json(record.checks))
        .bind_text(19, record.direction)
        .bind_text(20, record.domain)
        .bind_text(21, record.backend)
        .bind_text(22, record.delivery_status)
        .bind_integer(23, record.delivery_attempts)
        .bind_text(24, record.delivery_detail)
        .run();
    search_writer_.logged(sqlite3_last_insert_rowid(writer_db_.get()), record);
    for (const auto& recipient : record.recipients)
      statements.insert_recipient.reset()
          .bind_text(1, record.id)
          .bind_text(2, recipient)
          .bind_integer(3, 1)
          .bind_text(4, domain_of_address(recipient))
          .run();
    for (const auto& rejected : record.rejected_recipients)
      statements.insert_recipient.reset()
          .bind_text(1, record.id)
          .bind_text(2, rejected_address(rejected))
          .bind_integer(3, 0)
          .bind_text(4, domain_of_address(rejected_address(rejected)))
          .run();
    if (write.compressed_body)
      statements.insert_message.reset().bind_text(1, record.id).bind_blob(2, *write.compressed_body).run();
    // Counted once every row of it is written: a write that fails counts nothing.
    if (before) stats_writer_.apply(*before, -1, now);
    stats_writer_.apply(sqlite_stats::contribution_of(record), 1, now);
  }

  void write_delivery(const DeliveryWrite& write) {
    writer_statements_.update_delivery.reset()
        .bind_text(1, write.update.id)
        .bind_text(2, write.update.status)
        .bind_integer(3, write.update.attempts)
        .bind_text(4, write.update.detail)
        .run();
  }

  void write_greylist_triplet(const GreylistTriplet& triplet) {
    writer_statements_.save_greylist_triplet.reset()
        .bind_text(1, triplet.network)
        .bind_text(2, triplet.sender)
        .bind_text(3, triplet.recipient)
        .bind_integer(4, to_milliseconds(triplet.first_seen))
        .bind_integer(5, to_milliseconds(triplet.last_seen))
        .bind_integer(6, triplet.passed ? 1 : 0)
        .run();
  }

  void write_greylist_network(const GreylistNetwork& network) {
    writer_statements_.save_greylist_network.reset()
        .bind_text(1, network.network)
        .bind_integer(2, network.passed_triplets)
        .bind_integer(3, to_milliseconds(network.last_seen))
        .run();
  }

  // Expired greylisting state, in chunks like prune_rows (the indexes on (passed, time) find them).
  std::size_t prune_greylist_rows(const GreylistPruneWrite& prune) {
    static constexpr const char* kDeletes[] = {
        "DELETE FROM greylist_triplets WHERE rowid IN (SELECT rowid FROM greylist_triplets WHERE passed = 0 AND "
        "first_seen < ?1 LIMIT ?3)",
        "DELETE FROM greylist_triplets WHERE rowid IN (SELECT rowid FROM greylist_triplets WHERE passed = 1 AND "
        "last_seen < ?2 LIMIT ?3)",
        "DELETE FROM greylist_networks WHERE rowid IN (SELECT rowid FROM greylist_networks WHERE last_seen < ?2 "
        "LIMIT ?3)"};
    std::size_t removed = 0;
    for (const char* sql : kDeletes) {
      for (;;) {
        if (!begin_write_transaction()) {
          spdlog::error("store {}: greylisting prune stopped: no write transaction could be started", path_);
          return removed;
        }
        try {
          int deleted = Statement(writer_db_.get(), sql)
                            .bind_integer(1, prune.unpassed_before_milliseconds)
                            .bind_integer(2, prune.passed_before_milliseconds)
                            .bind_integer(3, kPruneChunkRows)
                            .run();
          writer_statements_.commit.reset().run();
          removed += static_cast<std::size_t>(deleted);
          if (deleted < kPruneChunkRows) break;
        } catch (const std::exception& error) {
          spdlog::error("store {}: greylisting prune failed: {}", path_, error.what());
          rollback_if_open();
          return removed;
        }
      }
    }
    return removed;
  }

  // Deletes in chunks, one transaction each, so that a large prune does not lock out other writers.
  std::size_t prune_rows(std::int64_t before_milliseconds) {
    auto& statements = writer_statements_;
    std::size_t removed = 0;
    for (;;) {
      if (!begin_write_transaction()) {
        spdlog::error("store {}: prune stopped: no write transaction could be started", path_);
        return removed;
      }
      try {
        int selected = statements.select_prune_ids.reset()
                           .bind_integer(1, before_milliseconds)
                           .bind_integer(2, kPruneChunkRows)
                           .run();
        search_writer_.prune_selected();
        statements.delete_pruned_recipients.reset().run();
        statements.delete_pruned_messages.reset().run();
        int deleted = statements.delete_pruned_transactions.reset().run();
        statements.clear_prune_ids.reset().run();
        statements.commit.reset().run();
        removed += static_cast<std::size_t>(deleted);
        if (selected < kPruneChunkRows) return removed;
      } catch (const std::exception& error) {
        spdlog::error("store {}: prune failed: {}", path_, error.what());
        rollback_if_open();
        return removed;
      }
    }
  }

  // The dashboard's counts of the hours and days a prune removed, in a transaction of their own.
  void prune_stats(std::int64_t before_milliseconds) {
    if (!begin_write_transaction()) return;
    try {
      stats_writer_.prune(before_milliseconds);
      writer_statements_.commit.reset().run();
    } catch (const std::exception& error) {
      spdlog::error("store {}: cannot prune the statistics: {}", path_, error.what());
      rollback_if_open();
    }
  }

  bool begin_write_transaction() {
    for (int attempt = 1; attempt <= kBeginAttempts; ++attempt) {
      try {
        writer_statements_.begin.reset().run();
        return true;
      } catch (const SqliteError& error) {
        spdlog::warn("store {}: cannot start a write transaction (attempt {} of {}): {}", path_, attempt,
                     kBeginAttempts, error.what());
      }
    }
    return false;
  }

  void rollback_if_open() {
    if (sqlite3_get_autocommit(writer_db_.get())) return;
    try {
      writer_statements_.rollback.reset().run();
    } catch (const SqliteError& error) {
      spdlog::error("store {}: rollback failed: {}", path_, error.what());
    }
  }

  static std::string_view write_id(const Write& write) {
    if (auto* record = std::get_if<RecordWrite>(&write)) return record->record.id;
    if (auto* delivery = std::get_if<DeliveryWrite>(&write)) return delivery->update.id;
    if (std::holds_alternative<GreylistTripletWrite>(write) || std::holds_alternative<GreylistNetworkWrite>(write))
      return "(greylisting)";
    if (std::holds_alternative<SearchIndexWrite>(write)) return "(search index)";
    return "(prune)";
  }

  // ---- synchronous state changes, on the reader connection

  // Runs `change` in a write transaction and bumps the generation if it reports a change.
  Status change_state(const std::string& what, const std::function<Result<bool>(sqlite3*)>& change) {
    std::lock_guard lock(reader_mutex_);
    sqlite3* db = reader_db_.get();
    try {
      execute(db, "BEGIN IMMEDIATE");
      Result<bool> changed = change(db);
      if (!changed) {
        execute(db, "ROLLBACK");
        return changed.error();
      }
      if (*changed) execute(db, "UPDATE state SET value = value + 1 WHERE key = 'generation'");
      execute(db, "COMMIT");
      return Ok{};
    } catch (const SqliteError& error) {
      if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return failure(fmt::format("cannot {} in store {}: {}", what, path_, error.what()));
    }
  }

  const std::string path_;

  // The writer thread's connection and statements (statements are destroyed first).
  Connection writer_db_;
  WriterStatements writer_statements_;
  sqlite_stats::Writer stats_writer_;
  sqlite_search::Writer search_writer_;

  std::mutex queue_mutex_;
  std::condition_variable work_queued_;
  std::condition_variable work_written_;
  std::vector<std::pair<std::uint64_t, std::function<void()>>> written_waiters_;  // when_written()
  std::deque<Write> queue_;
  std::uint64_t queued_count_ = 0;   // writes ever queued
  std::uint64_t must_commit_through_ = 0;   // the last write a reply waits to be committed (not journaled)
  std::atomic<std::int64_t> search_indexed_through_{search_writer_.indexed_through()};  // its mark, for search()
  Clock::time_point last_search_chunk_ = Clock::now();  // writer thread only
  Clock::time_point search_retry_after_{};              // writer thread only
  std::size_t last_batch_writes_ = 1;  // how many writes the writer's previous batch had
  bool gathering_ = false;            // the writer waits for a batch to gather: wake it at every write
  std::uint64_t written_count_ = 0;  // writes ever handled by the writer (committed, or failed and logged)
  std::uint64_t hurry_until_ = 0;    // someone waits for the writes up to this count: skip the batch window
  bool stopping_ = false;

  std::mutex reader_mutex_;
  Connection reader_db_;
  // Greylisting's reads (at RCPT) have a connection of their own: a long search of the log on the
  // reader connection never holds up an SMTP reply.
  std::mutex greylist_mutex_;
  Connection greylist_db_;

  std::unique_ptr<RecordJournal> journal_;   // null: every row's reply waits for its commit
  const bool journaling_;                     // rows go to journal_ (the daemon), not only replayed
  std::thread writer_thread_;  // last, so it starts once everything above exists
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, const StoreOptions& options) {
  try {
    Connection writer_db = open_writer_connection(path);
    Connection reader_db = open_connection(path);
    Connection greylist_db = open_connection(path);
    // The record journal: the daemon writes rows to it; any process that can take its lock first
    // commits what a crashed daemon left there (record_journal.hpp).
    std::unique_ptr<RecordJournal> journal;
    if (path != ":memory:" && !path.empty()) {
      auto opened = RecordJournal::open(path, options.journal_records);
      if (opened)
        journal = std::move(*opened);
      else if (options.journal_records)
        spdlog::warn("store {}: no record journal ({}); each reply waits for its row's commit", path,
                     opened.error().message);
    }
    return std::unique_ptr<Store>(std::make_unique<SqliteStore>(path, std::move(writer_db), std::move(reader_db),
                                                                std::move(greylist_db), std::move(journal),
                                                                options.journal_records));
  } catch (const SqliteError& error) {
    return failure(fmt::format("cannot open store {}: {}", path, error.what()));
  } catch (const std::system_error& error) {  // the writer thread could not start
    return failure(fmt::format("cannot open store {}: {}", path, error.what()));
  }
}

}  // namespace gatehouse
