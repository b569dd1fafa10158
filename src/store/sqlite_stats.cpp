// The dashboard's counts (Store::statistics) in the SQLite store: a rollup table, stat_counts,
// that the store's writer thread keeps up to date in the same transaction as each log row.
//
// Why a rollup. The dashboard asks, every few seconds, for messages per hour by disposition and
// reason over 24 h, 7 d or 30 d, and for the top client IPs and sender domains. Aggregating the
// log itself means reading every row of the range: measured on the benchmark's store (bench/web/,
// 1,000,000 rows over 30 days), GROUP BY over the log took 0.86 s for the 30 d series and 2.5 s
// for the top client IPs, and it grows with the traffic. The rollup grows with hours × distinct
// keys instead: the series read at most 720 hours × a few (disposition, reason) pairs whatever the
// volume (3 ms for 30 d there); the 30 d top lists read the daily rows, ~480,000 for 140,000 IPs
// (0.3 s), of which the whole days before today are kept summed for ten minutes (cached_totals).
//
// The table: stat_counts(kind, scope, bucket, key, total, rejected), primary key in that order,
// WITHOUT ROWID, so every read is one range of the primary key.
//   kind 'd'          hourly, key = disposition U+001F reason   (the series, the reasons)
//   kind 'ih' / 'id'  per client IP, hourly / daily (UTC)       (top IPs)
//   kind 'sh' / 'sd'  per sender domain, hourly / daily (UTC)   (top sender domains; the null sender left out)
//   scope ''          every transaction; scope 'example.org': the transactions with a recipient
//                     (accepted or refused) in that domain — a domain administrator's figures are
//                     the sum over their domains, a transaction to two of them counting in each.
//   total, rejected   transactions, and of those rejected.
// Hourly per-IP and per-sender rows serve ranges within the last 48 hours (the 24 h view) and are
// dropped after that (maintain()); longer ranges count whole UTC days for their top lists (the
// answer says from when: top_since). A transaction written again under its ID (the delivery queue
// re-records its outcome) first takes back what the stored row counted, so nothing counts twice.
// prune() drops the counts of the hours and days it removed. A store of an older version is
// filled from its log once, when it is first opened (prepare()).
//
// The cost: about ten counts per logged transaction, summed in memory over the writer's batch and
// upserted once per distinct row and batch (a batch from few clients and senders touches few rows); 2.4 million rollup rows for the benchmark's million transactions
// (bench/web/README.md has the figures).
#include "store/sqlite_stats.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>

#include "common/text.hpp"

namespace gatehouse::sqlite_stats {
namespace {

using sqlite::execute;
using sqlite::Statement;

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kHourlyKeep = 48 * kHour;   // hourly per-IP / per-sender rows
constexpr char kSeparator = '\x1f';

std::int64_t floor_to(std::int64_t ms, std::int64_t unit) {
  std::int64_t q = ms / unit;
  if (ms % unit < 0) --q;
  return q * unit;
}

// The address in "addr: 550 5.1.1 …" (a refused recipient), as the recipients table keeps it.
std::string_view refused_address(std::string_view rejected) {
  std::string_view address = rejected.substr(0, rejected.find(": "));
  while (!address.empty() && (address.front() == ' ' || address.front() == '\t')) address.remove_prefix(1);
  while (!address.empty() && (address.back() == ' ' || address.back() == '\t' || address.back() == '\r' || address.back() == '\n'))
    address.remove_suffix(1);
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') address = address.substr(1, address.size() - 2);
  return address;
}

// SQL for the lower-case domain after the last '@' of `column` ('' without one), as
// domain_of_address (common/text.hpp).
std::string sql_domain(const std::string& column) {
  return fmt::format("CASE WHEN instr({0}, '@') = 0 THEN '' ELSE lower(substr({0}, length(rtrim({0}, replace({0}, '@', ''))) + 1)) END",
                     column);
}

// Per key: transactions, of those rejected.
using Totals = std::unordered_map<std::string, std::pair<std::int64_t, std::int64_t>>;

// The top lists of 7 and 30 days sum ~140,000 IPs over ~480,000 daily rows on the benchmark's
// store (0.3 s each); the whole days before today hardly change, so their sums are kept here for
// ten minutes (keyed by the store, kind, scopes and days), and only today's rows are read again.
// A transaction of an earlier day written again, or a prune, shows in them within ten minutes.
constexpr std::int64_t kPastTtl = 10 * 60 * 1000;
constexpr std::size_t kPastEntries = 16;
std::mutex past_mutex;
std::map<std::string, std::pair<std::int64_t, std::shared_ptr<const Totals>>> past_cache;   // key → (expires, totals)

std::shared_ptr<const Totals> cached_totals(const std::string& key, std::int64_t now_ms, const std::function<void(Totals&)>& count) {
  {
    std::lock_guard lock(past_mutex);
    auto found = past_cache.find(key);
    if (found != past_cache.end() && found->second.first > now_ms) return found->second.second;
  }
  auto totals = std::make_shared<Totals>();
  count(*totals);
  std::lock_guard lock(past_mutex);
  if (past_cache.size() >= kPastEntries) {
    for (auto it = past_cache.begin(); it != past_cache.end();)
      it = it->second.first <= now_ms ? past_cache.erase(it) : std::next(it);
    if (past_cache.size() >= kPastEntries) past_cache.clear();
  }
  past_cache[key] = {now_ms + kPastTtl, totals};
  return totals;
}

}  // namespace

void prepare(sqlite3* db) {
  execute(db, "BEGIN IMMEDIATE");
  try {
    bool exists;
    {
      Statement query(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stat_counts'");
      exists = query.step();
    }
    if (!exists) {
      execute(db, R"sql(
        CREATE TABLE stat_counts (
          kind     TEXT NOT NULL,
          scope    TEXT NOT NULL,
          bucket   INTEGER NOT NULL,   -- start of the hour or UTC day, milliseconds since the epoch
          key      TEXT NOT NULL,
          total    INTEGER NOT NULL,
          rejected INTEGER NOT NULL,
          PRIMARY KEY (kind, scope, bucket, key)
        ) WITHOUT ROWID;
      )sql");
      // The log already there (a store of an older version): counted once, here.
      const std::string hourly_since = fmt::format(
          "{}", floor_to(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count(), kHour) -
                    kHourlyKeep);
      const std::string sender = sql_domain("t.mail_from");
      const std::string all = "FROM transactions t";
      const std::string per_domain =
          "FROM transactions t JOIN (SELECT DISTINCT id, domain FROM recipients WHERE domain != '') r ON r.id = t.id";
      struct Kind {
        const char* kind;
        std::int64_t unit;
        std::string key;
        std::string where;
      };
      const std::vector<Kind> kinds{
          {"d", kHour, "t.disposition || char(31) || t.reason", "1"},
          {"id", kDay, "t.client_ip", "1"},
          {"ih", kHour, "t.client_ip", "t.time >= " + hourly_since},
          {"sd", kDay, sender, "(" + sender + ") != ''"},
          {"sh", kHour, sender, "(" + sender + ") != '' AND t.time >= " + hourly_since},
      };
      for (const auto& kind : kinds)
        for (bool scoped : {false, true})
          execute(db, fmt::format("INSERT INTO stat_counts (kind, scope, bucket, key, total, rejected) "
                                  "SELECT '{0}', {1}, (t.time / {2}) * {2}, {3}, count(*), sum(t.disposition = 'reject') "
                                  "{4} WHERE {5} GROUP BY 2, 3, 4",
                                  kind.kind, scoped ? "lower(r.domain)" : "''", kind.unit, kind.key,
                                  scoped ? per_domain : all, kind.where)
                          .c_str());
    }
    execute(db, "COMMIT");
  } catch (...) {
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

Contribution contribution_of(const TransactionRecord& record) {
  Contribution c;
  c.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(record.time.time_since_epoch()).count();
  c.disposition = record.disposition;
  c.reason = record.reason;
  c.client_ip = record.client_ip;
  c.sender_domain = domain_of_address(record.mail_from);
  std::set<std::string> domains;
  for (const auto& address : record.recipients)
    if (auto domain = domain_of_address(address); !domain.empty()) domains.insert(domain);
  for (const auto& refused : record.rejected_recipients)
    if (auto domain = domain_of_address(refused_address(refused)); !domain.empty()) domains.insert(domain);
  c.recipient_domains.assign(domains.begin(), domains.end());
  return c;
}

Writer::Writer(sqlite3* db)
    : select_transaction_(db, "SELECT time, disposition, reason, client_ip, mail_from FROM transactions WHERE id = ?1", true),
      select_domains_(db, "SELECT DISTINCT lower(domain) FROM recipients WHERE id = ?1 AND domain != ''", true),
      upsert_(db,
              "INSERT INTO stat_counts (kind, scope, bucket, key, total, rejected) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
              "ON CONFLICT (kind, scope, bucket, key) DO UPDATE SET total = total + excluded.total, "
              "rejected = rejected + excluded.rejected",
              true),
      drop_hourly_(db, "DELETE FROM stat_counts WHERE kind IN ('ih', 'sh') AND bucket < ?1", true),
      prune_hourly_(db, "DELETE FROM stat_counts WHERE kind IN ('d', 'ih', 'sh') AND bucket + 3600000 <= ?1", true),
      prune_daily_(db, "DELETE FROM stat_counts WHERE kind IN ('id', 'sd') AND bucket + 86400000 <= ?1", true) {}

std::optional<Contribution> Writer::stored(const std::string& id) {
  select_transaction_.reset().bind_text(1, id);
  if (!select_transaction_.step()) return std::nullopt;
  Contribution c;
  c.time_ms = select_transaction_.integer(0);
  c.disposition = select_transaction_.text(1);
  c.reason = select_transaction_.text(2);
  c.client_ip = select_transaction_.text(3);
  c.sender_domain = domain_of_address(select_transaction_.text(4));
  select_transaction_.reset();
  select_domains_.reset().bind_text(1, id);
  while (select_domains_.step()) c.recipient_domains.push_back(select_domains_.text(0));
  select_domains_.reset();
  return c;
}

void Writer::add(const char* kind, const std::string& scope, std::int64_t bucket, const std::string& key, int sign,
                 bool rejected) {
  auto& counts = pending_[Key{kind, scope, bucket, key}];
  counts.first += sign;
  if (rejected) counts.second += sign;
}

void Writer::write_pending() {
  for (const auto& [key, counts] : pending_) {
    if (counts.first == 0 && counts.second == 0) continue;   // taken back and added again in one batch
    upsert_.reset()
        .bind_text(1, key.kind)
        .bind_text(2, key.scope)
        .bind_integer(3, key.bucket)
        .bind_text(4, key.key)
        .bind_integer(5, counts.first)
        .bind_integer(6, counts.second)
        .run();
  }
  pending_.clear();
}

void Writer::apply(const Contribution& c, int sign, std::int64_t now_ms) {
  const bool rejected = c.disposition == "reject";
  const std::int64_t hour = floor_to(c.time_ms, kHour), day = floor_to(c.time_ms, kDay);
  const bool recent = hour >= floor_to(now_ms, kHour) - kHourlyKeep;
  std::string reason_key = c.disposition;
  reason_key += kSeparator;
  reason_key += c.reason;
  auto count_scope = [&](const std::string& scope) {
    add("d", scope, hour, reason_key, sign, rejected);
    add("id", scope, day, c.client_ip, sign, rejected);
    if (recent) add("ih", scope, hour, c.client_ip, sign, rejected);
    if (!c.sender_domain.empty()) {
      add("sd", scope, day, c.sender_domain, sign, rejected);
      if (recent) add("sh", scope, hour, c.sender_domain, sign, rejected);
    }
  };
  count_scope("");
  for (const auto& domain : c.recipient_domains) count_scope(domain);
}

void Writer::maintain(std::int64_t now_ms) {
  const std::int64_t hour = floor_to(now_ms, kHour);
  if (hour == maintained_hour_) return;
  maintained_hour_ = hour;
  drop_hourly_.reset().bind_integer(1, hour - kHourlyKeep).run();
}

void Writer::prune(std::int64_t before_ms) {
  prune_hourly_.reset().bind_integer(1, before_ms).run();
  prune_daily_.reset().bind_integer(1, before_ms).run();
}

Statistics read(sqlite3* db, const StatsQuery& query, std::int64_t now_ms) {
  Statistics stats;
  const auto to_ms = [](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  };
  const auto from_ms = [](std::int64_t ms) {
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(ms)));
  };
  const std::int64_t since = floor_to(to_ms(query.since), kHour);
  const std::int64_t until = to_ms(query.until);
  const std::int64_t step = std::max<std::int64_t>(kHour, floor_to(std::chrono::duration_cast<std::chrono::milliseconds>(query.step).count(), kHour));

  std::vector<std::string> scopes;
  if (query.domains.empty()) scopes.emplace_back();
  else {
    std::set<std::string> unique;
    for (const auto& domain : query.domains) unique.insert(to_lower_ascii(domain));
    scopes.assign(unique.begin(), unique.end());
  }
  std::string in = "(";
  for (std::size_t i = 0; i < scopes.size(); ++i) in += fmt::format("{}?{}", i ? ", " : "", i + 4);
  in += ")";
  auto bind_scopes = [&](Statement& statement) {
    for (std::size_t i = 0; i < scopes.size(); ++i) statement.bind_text(static_cast<int>(i + 4), scopes[i]);
  };

  // The series and the reasons: kind 'd'.
  {
    Statement series(db, fmt::format("SELECT ((bucket - ?1) / ?3) * ?3 + ?1, key, sum(total) FROM stat_counts "
                                     "WHERE kind = 'd' AND scope IN {} AND bucket >= ?1 AND bucket < ?2 GROUP BY 1, 2 ORDER BY 1, 2",
                                     in));
    series.bind_integer(1, since).bind_integer(2, until).bind_integer(3, step);
    bind_scopes(series);
    std::map<std::pair<std::string, std::string>, std::uint64_t> reasons;
    while (series.step()) {
      auto count = series.integer(2);
      if (count <= 0) continue;
      std::string key = series.text(1);
      auto separator = key.find(kSeparator);
      StatsCount entry{from_ms(series.integer(0)), key.substr(0, separator),
                       separator == std::string::npos ? std::string() : key.substr(separator + 1), static_cast<std::uint64_t>(count)};
      if (entry.disposition != "accept" && entry.disposition != "tag") reasons[{entry.disposition, entry.reason}] += entry.count;
      stats.series.push_back(std::move(entry));
    }
    for (const auto& [key, count] : reasons) stats.reasons.push_back(StatsCount{{}, key.first, key.second, count});
    std::stable_sort(stats.reasons.begin(), stats.reasons.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  }

  // The top lists: hourly rows while they are kept, else whole days.
  const bool hourly = since >= floor_to(now_ms, kHour) - kHourlyKeep;
  const std::int64_t top_since = hourly ? since : floor_to(since, kDay);
  stats.top_since = from_ms(top_since);
  auto group = [&](const char* kind, std::int64_t from, std::int64_t to, Totals& out) {
    Statement statement(db, fmt::format("SELECT key, sum(total), sum(rejected) FROM stat_counts "
                                        "WHERE kind = '{}' AND scope IN {} AND bucket >= ?1 AND bucket < ?2 GROUP BY key",
                                        kind, in));
    statement.bind_integer(1, from).bind_integer(2, to);   // ?3 unused: the scopes are ?4…
    bind_scopes(statement);
    while (statement.step()) {
      auto& entry = out[statement.text(0)];
      entry.first += statement.integer(1);
      entry.second += statement.integer(2);
    }
  };
  auto top = [&](const char* kind, std::vector<StatsTop>& by_total, std::vector<StatsTop>& by_rejected) {
    std::vector<StatsTop> all;
    if (hourly) {
      Totals totals;
      group(kind, top_since, until, totals);
      for (auto& [key, counts] : totals)
        if (counts.first > 0) all.push_back(StatsTop{key, static_cast<std::uint64_t>(counts.first), static_cast<std::uint64_t>(std::max<std::int64_t>(0, counts.second))});
    } else {
      // Whole days before today from the cache (or counted once), today's rows added to them.
      const std::int64_t today = std::min(until, floor_to(now_ms, kDay));
      std::shared_ptr<const Totals> past;
      if (today > top_since) {
        std::string cache_key = fmt::format("{}|{}|{}|{}|{}|{}", static_cast<const void*>(db), sqlite3_db_filename(db, "main"), kind,
                                            fmt::join(scopes, ","), top_since, today);
        past = cached_totals(cache_key, now_ms, [&](Totals& totals) { group(kind, top_since, today, totals); });
      }
      Totals recent;
      group(kind, std::max(top_since, today), until, recent);
      auto emit = [&](const std::string& key, std::int64_t total, std::int64_t rejected) {
        if (total > 0) all.push_back(StatsTop{key, static_cast<std::uint64_t>(total), static_cast<std::uint64_t>(std::max<std::int64_t>(0, rejected))});
      };
      if (past) {
        for (const auto& [key, counts] : *past) {
          auto more = recent.find(key);
          if (more == recent.end()) emit(key, counts.first, counts.second);
          else {
            emit(key, counts.first + more->second.first, counts.second + more->second.second);
            recent.erase(more);
          }
        }
      }
      for (const auto& [key, counts] : recent) emit(key, counts.first, counts.second);
    }
    const std::size_t n = std::min(query.top, all.size());
    auto pick = [&](auto better) {
      std::vector<StatsTop> chosen(n);
      std::partial_sort_copy(all.begin(), all.end(), chosen.begin(), chosen.end(), better);
      return chosen;
    };
    by_total = pick([](const StatsTop& a, const StatsTop& b) { return a.total != b.total ? a.total > b.total : a.key < b.key; });
    by_rejected = pick([](const StatsTop& a, const StatsTop& b) { return a.rejected != b.rejected ? a.rejected > b.rejected : a.key < b.key; });
    std::erase_if(by_rejected, [](const StatsTop& entry) { return entry.rejected == 0; });
  };
  top(hourly ? "ih" : "id", stats.top_ips, stats.top_rejected_ips);
  top(hourly ? "sh" : "sd", stats.top_sender_domains, stats.top_rejected_sender_domains);
  return stats;
}

}  // namespace gatehouse::sqlite_stats
