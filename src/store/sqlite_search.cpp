// The message log's substring searches (Store::search by subject, sender or recipient: SQL LIKE
// '%text%') made fast on a large log with an FTS5 trigram index, search_text(subject, senders,
// recipients), one row per transaction under the transaction's rowid.
//
// Why. A LIKE with a leading % uses no B-tree index, so the search walks the log newest first
// (transactions_time) and tests each row until it has a page. For a common word that is quick;
// for a rare one (1 row in 20,000) or one that matches nothing it reads every row: on the
// benchmark's 1,000,000 rows (bench/web/) 0.5–1 s per search on a quiet machine, more on a busy
// one. A covering index of the searched columns is still a scan (0.6 s for a rare sender on a
// third of those rows). The trigram index answers
// "which rows contain this text" directly (SQLite ≥ 3.34; Debian bookworm has 3.40).
//
// How, keeping the results identical. search() first walks newest first as before, for at most
// 60 ms (WalkBudget): a common text fills its page in that time without touching the index,
// whose row lists for common trigrams are long (reading them cold took up to 1.3 s for
// "alice.smith" on the benchmark). Past the budget the index narrows: search() asks it how many
// rows contain every searched text (at most `limit`, 5,000, are counted); when few do, the query
// gets "AND t.rowid IN (those rows)" and keeps every LIKE condition as it was, so the answer is
// the same rows in the same order — the index may only over-approximate (its case folding is
// Unicode's where LIKE folds ASCII, and a phrase may run across two recipients), never miss (a
// text LIKE matches is a substring the trigram phrase finds). When many rows match all the same
// (a text of middling frequency), the walk runs to its end. Texts shorter than 3 characters (no
// trigram) are not looked up.
//
// When. The index is written in chunks of rows after they are logged, not with each log row: a
// row's own FTS5 insert in the small transaction that an SMTP reply waits for cost about a tenth
// of the gateway's throughput (bench/README.md), and FTS5 writes far less per row in chunks of
// hundreds. Rows above the chunks' mark (Writer::indexed_through) are not in the index yet, so a
// search adds "OR t.rowid > mark" to its index condition and tests them by LIKE as before. The
// writer indexes a chunk when 500 rows wait, when the oldest has waited 5 s, or after 200 ms
// without writes. A crash loses no index entry: the mark is the index's highest rowid when the
// store opens, and every logged row above it is indexed again from the log.
//
// The cost: the index stores its text (a content table, so a row is deleted by rowid — a
// contentless one must be told the old text exactly, which a crash between two writes could get
// wrong), about 0.55 KB a row with its trigrams (1.1 GB → 1.66 GB on the benchmark); a row goes
// when its transaction is written again or pruned. A store of an older version gets its index
// built by the same chunks in the background (the benchmark's million rows: about 40 s of writer
// time), its searches answered by the walk meanwhile.
#include "store/sqlite_search.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace gatehouse::sqlite_search {
namespace {

using sqlite::execute;
using sqlite::Statement;

std::string trim_spaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n'))
    text.remove_suffix(1);
  return std::string(text);
}

// The address in "addr: 550 5.1.1 …" (a refused recipient), as the recipients table keeps it.
std::string refused_address(std::string_view rejected) {
  std::string address = trim_spaces(rejected.substr(0, rejected.find(": ")));
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') address = address.substr(1, address.size() - 2);
  return address;
}

// Characters (not bytes) of UTF-8 text.
std::size_t characters(std::string_view text) {
  std::size_t count = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80) ++count;
  return count;
}

// The first / last `n` characters of UTF-8 text.
std::string first_characters(const std::string& text, std::size_t n) {
  std::size_t seen = 0, i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && seen++ == n) break;
  }
  return text.substr(0, i);
}

std::string last_characters(const std::string& text, std::size_t n) {
  std::size_t seen = 0, i = text.size();
  while (i > 0) {
    --i;
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && ++seen == n) break;
  }
  return text.substr(i);
}

// An FTS5 phrase for `text` in `column`: the text in double quotes, its quotes doubled.
std::string phrase(const char* column, std::string_view text) {
  std::string out = column;
  out += " : \"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

void prepare(sqlite3* db) {
  execute(db, "CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(subject, senders, recipients, tokenize = 'trigram')");
}

Writer::Writer(sqlite3* db)
    : remove_(db, "DELETE FROM search_text WHERE rowid = (SELECT rowid FROM transactions WHERE id = ?1)", true),
      add_(db, "INSERT INTO search_text (rowid, subject, senders, recipients) VALUES (?1, ?2, ?3, ?4)", true),
      prune_(db,
             "DELETE FROM search_text WHERE rowid IN (SELECT t.rowid FROM transactions t WHERE t.id IN "
             "(SELECT id FROM temp.prune_ids))",
             true),
      chunk_end_(db, "SELECT max(rowid) FROM (SELECT rowid FROM transactions WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)",
                 true),
      index_rows_(db,
                  "INSERT INTO search_text (rowid, subject, senders, recipients) "
                  "SELECT t.rowid, t.subject, t.mail_from || char(10) || t.header_from, "
                  "coalesce((SELECT group_concat(r.address, char(10)) FROM recipients r WHERE r.id = t.id), '') "
                  "FROM transactions t WHERE t.rowid > ?1 AND t.rowid <= ?2",
                  true) {
  Statement last(db, "SELECT rowid FROM search_text ORDER BY rowid DESC LIMIT 1");
  indexed_through_ = last.step() ? last.integer(0) : 0;
  Statement count(db, "SELECT count(*) FROM transactions WHERE rowid > ?1");
  count.bind_integer(1, indexed_through_);
  count.step();
  backlog_ = count.integer(0);
}

void Writer::logged(std::int64_t rowid, const TransactionRecord& record) {
  // A rowid at or below the mark (SQLite reuses the highest rowid after it was deleted: a
  // transaction written again) is indexed at once, since index_next() starts above the mark.
  if (rowid <= indexed_through_) add(rowid, record);
  else ++backlog_;
}

void Writer::index_next(std::int64_t rows) {
  chunk_end_.reset().bind_integer(1, indexed_through_).bind_integer(2, rows);
  std::int64_t end = chunk_end_.step() && !chunk_end_.is_null(0) ? chunk_end_.integer(0) : indexed_through_;
  chunk_end_.reset();
  chunk_ = {end, 0};
  if (end > indexed_through_) chunk_.second = index_rows_.reset().bind_integer(1, indexed_through_).bind_integer(2, end).run();
}

void Writer::chunk_committed() {
  if (chunk_.second == 0) backlog_ = 0;   // nothing left above the mark (rows counted were written again)
  else backlog_ = std::max<std::int64_t>(0, backlog_ - chunk_.second);
  indexed_through_ = std::max(indexed_through_, chunk_.first);
  chunk_ = {indexed_through_, 0};
}

void Writer::remove(const std::string& id) { remove_.reset().bind_text(1, id).run(); }

void Writer::add(std::int64_t rowid, const TransactionRecord& record) {
  std::string recipients;
  auto append = [&](const std::string& address) {
    if (!recipients.empty()) recipients += '\n';
    recipients += address;
  };
  for (const auto& address : record.recipients) append(address);
  for (const auto& refused : record.rejected_recipients) append(refused_address(refused));
  add_.reset()
      .bind_integer(1, rowid)
      .bind_text(2, record.subject)
      .bind_text(3, record.mail_from + "\n" + record.header_from)
      .bind_text(4, recipients)
      .run();
}

void Writer::prune_selected() { prune_.reset().run(); }

WalkBudget::WalkBudget(sqlite3* db, std::chrono::milliseconds budget)
    : db_(db), deadline_(std::chrono::steady_clock::now() + budget) {
  sqlite3_progress_handler(db_, 1000, &WalkBudget::check, this);
}

WalkBudget::~WalkBudget() { sqlite3_progress_handler(db_, 0, nullptr, nullptr); }

int WalkBudget::check(void* self) {
  auto* budget = static_cast<WalkBudget*>(self);
  if (std::chrono::steady_clock::now() < budget->deadline_) return 0;
  budget->spent_ = true;
  return 1;
}

std::optional<std::string> selective_match(sqlite3* db, const SearchQuery& query, std::size_t limit) {
  // An FTS5 phrase reads the row lists of all its trigrams, and a common one (".ex" of
  // "@rare-sender.example") costs a quarter of a second on a million rows. A row that contains the
  // text contains its first and its last six characters too, so those shorter phrases are tried
  // first: any of the three that finds few rows will do, as the LIKE conditions decide anyway.
  Statement count(db, "SELECT count(*) FROM (SELECT rowid FROM search_text WHERE search_text MATCH ?1 LIMIT ?2)");
  for (int window : {1, 2, 0}) {   // the first six characters, the last six, the whole text
    std::string match;
    bool shorter = false;
    auto add = [&](const char* column, const std::string& text) {
      if (characters(text) < 3) return;
      std::string part = text;
      if (window != 0 && characters(text) > 6) {
        shorter = true;
        part = window == 1 ? first_characters(text, 6) : last_characters(text, 6);
      }
      if (!match.empty()) match += " AND ";
      match += phrase(column, part);
    };
    add("subject", query.subject);
    add("senders", query.sender);
    add("recipients", query.recipient);
    if (match.empty()) return std::nullopt;
    if (window != 0 && !shorter) continue;   // nothing to shorten: the whole text, once
    count.reset().bind_text(1, match).bind_integer(2, static_cast<std::int64_t>(limit) + 1);
    count.step();
    if (count.integer(0) <= static_cast<std::int64_t>(limit)) return match;
  }
  return std::nullopt;
}

}  // namespace gatehouse::sqlite_search
