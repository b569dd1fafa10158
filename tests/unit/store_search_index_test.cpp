// Tests of the message log's text search through the trigram index (store/sqlite_search.cpp): the
// same rows as the LIKE conditions alone — case, substrings, quotes, short texts, non-ASCII, refused
// recipients — and the index kept right when a transaction is written again, pruned, or the store
// was written before the index existed; rows logged and not yet in the index (it is written in
// chunks) found all the same, and indexed once the writer is idle.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "store/sqlite_search.hpp"
#include "store/store.hpp"

namespace gatehouse {
namespace {

using namespace std::chrono_literals;

// Each test twice: the usual way (a small store's walk newest first ends within its time) and
// straight to the trigram index, so that the index's answers are checked too.
class SearchIndexTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    sqlite_search::walk_budget_ms = GetParam() ? -1 : 60;
    char pattern[] = "/tmp/gatehouse-search-index-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
    open();
  }
  void TearDown() override {
    sqlite_search::walk_budget_ms = 60;
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  void open() {
    auto store = open_sqlite_store((directory_ / "store.db").string());
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
  }
  void record(const std::string& id, const std::string& subject, const std::string& sender,
              std::vector<std::string> recipients, std::vector<std::string> refused = {}, int minutes_ago = 1) {
    TransactionRecord r;
    r.id = id;
    r.time = Clock::now() - std::chrono::minutes(minutes_ago);
    r.client_ip = "192.0.2.1";
    r.mail_from = sender;
    r.header_from = "Display <" + sender + ">";
    r.subject = subject;
    r.recipients = std::move(recipients);
    r.rejected_recipients = std::move(refused);
    r.disposition = "accept";
    store_->record(r);
  }
  // Committed, without flush(): the search index gets these rows only in its next chunk.
  void wait_written() {
    std::promise<void> written;
    auto done = written.get_future();
    store_->when_written([&] { written.set_value(); });
    done.wait();
  }
  std::int64_t rows_in_index() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open((directory_ / "store.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* count = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM search_text", -1, &count, nullptr), SQLITE_OK);
    std::int64_t rows = sqlite3_step(count) == SQLITE_ROW ? sqlite3_column_int64(count, 0) : -1;
    sqlite3_finalize(count);
    sqlite3_close(db);
    return rows;
  }
  std::set<std::string> ids(SearchQuery query) {
    std::set<std::string> out;
    for (const auto& r : store_->search(query)) out.insert(r.id);
    return out;
  }
  std::set<std::string> subject(const std::string& text) {
    SearchQuery q;
    q.subject = text;
    return ids(q);
  }
  std::set<std::string> sender(const std::string& text) {
    SearchQuery q;
    q.sender = text;
    return ids(q);
  }
  std::set<std::string> recipient(const std::string& text) {
    SearchQuery q;
    q.recipient = text;
    return ids(q);
  }

  std::filesystem::path directory_;
  std::unique_ptr<Store> store_;
};

using Ids = std::set<std::string>;

TEST_P(SearchIndexTest, FindsWhatLikeFinds) {
  record("M1", "Quarterly REPORT for March", "billing@Invoices.Example", {"alice@example.org"});
  record("M2", "Re: the \"big\" report", "bob@other.test", {"carol@example.org", "dave@other.test"});
  record("M3", "Grüße aus Köln, 100% sicher", "x@y.test", {}, {"<nobody@example.org>: 550 5.1.1 no such user"});
  record("M4", "a_b", "z@z.test", {"erin@example.org"});
  store_->flush();
  EXPECT_EQ(subject("report"), (Ids{"M1", "M2"})) << "ASCII case folds";
  EXPECT_EQ(subject("quarterly report for march"), (Ids{"M1"}));
  EXPECT_EQ(subject("\"big\""), (Ids{"M2"})) << "quotes in the text";
  EXPECT_EQ(subject("re"), (Ids{"M1", "M2"})) << "under three characters: no index, LIKE alone";
  EXPECT_EQ(subject("Köln"), (Ids{"M3"}));
  EXPECT_EQ(subject("KÖLN"), (Ids{})) << "LIKE folds ASCII only; the index may find more, never fewer";
  EXPECT_EQ(subject("100%"), (Ids{"M3"})) << "% is literal";
  EXPECT_EQ(subject("a_b"), (Ids{"M4"})) << "_ is literal";
  EXPECT_EQ(subject("report for april"), (Ids{}));
  EXPECT_EQ(sender("@invoices.example"), (Ids{"M1"}));
  EXPECT_EQ(sender("display <bob"), (Ids{"M2"})) << "the header From too";
  EXPECT_EQ(recipient("carol@example"), (Ids{"M2"}));
  EXPECT_EQ(recipient("nobody@example.org"), (Ids{"M3"})) << "a refused recipient";
  EXPECT_EQ(recipient("550 5.1.1"), (Ids{})) << "the refusal's text is not an address";
  EXPECT_EQ(recipient("org\ndave"), (Ids{})) << "not across two recipients";
  SearchQuery both;
  both.subject = "report";
  both.recipient = "other.test";
  EXPECT_EQ(ids(both), (Ids{"M2"}));
}

TEST_P(SearchIndexTest, KeptRightWhenWrittenAgainAndPruned) {
  record("M1", "first subject", "a@a.test", {"alice@example.org"}, {}, 120);
  record("M2", "kept message", "b@b.test", {"bob@example.org"}, {}, 1);
  store_->flush();
  record("M1", "second subject", "a@a.test", {"alice@example.org"}, {}, 120);   // written again
  store_->flush();
  EXPECT_EQ(subject("first subject"), (Ids{}));
  EXPECT_EQ(subject("second subject"), (Ids{"M1"}));
  EXPECT_EQ(store_->prune(Clock::now() - 60min), 1u);
  EXPECT_EQ(subject("second subject"), (Ids{}));
  EXPECT_EQ(subject("kept message"), (Ids{"M2"}));
  record("M3", "after the prune", "c@c.test", {"carol@example.org"});
  store_->flush();
  EXPECT_EQ(subject("after the prune"), (Ids{"M3"}));
}

TEST_P(SearchIndexTest, AStoreWrittenBeforeTheIndexGetsOne) {
  record("M1", "written before the index", "a@a.test", {"alice@example.org"});
  store_->flush();
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((directory_ / "store.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE search_text", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  open();
  EXPECT_EQ(subject("before the index"), (Ids{"M1"}));
  EXPECT_EQ(recipient("alice@example"), (Ids{"M1"}));
}

TEST_P(SearchIndexTest, RowsNotYetIndexedAreFound) {
  record("M1", "an indexed subject", "a@a.test", {"alice@example.org"});
  store_->flush();   // M1 is in the index
  record("M2", "a fresh subject", "b@b.test", {"bob@example.org"});
  wait_written();    // M2 is logged, its index chunk still to come
  EXPECT_EQ(subject("fresh subject"), (Ids{"M2"}));
  EXPECT_EQ(subject("subject"), (Ids{"M1", "M2"}));
  EXPECT_EQ(recipient("bob@example"), (Ids{"M2"}));
}

TEST_P(SearchIndexTest, NewestRowWrittenAgainIsFoundAtOnce) {
  // SQLite gives the rewritten newest row its old rowid again, at or below the index's mark: it
  // must go into the index at once, since the next chunk starts above the mark.
  record("M1", "older message", "a@a.test", {"alice@example.org"});
  record("M2", "first version", "b@b.test", {"bob@example.org"});
  store_->flush();
  record("M2", "second version", "b@b.test", {"bob@example.org"});
  wait_written();
  EXPECT_EQ(subject("first version"), (Ids{}));
  EXPECT_EQ(subject("second version"), (Ids{"M2"}));
}

TEST_P(SearchIndexTest, IndexedInTheBackgroundOnceIdle) {
  for (int i = 0; i < 3; ++i) record("M" + std::to_string(i), "idle " + std::to_string(i), "a@a.test", {"x@example.org"});
  wait_written();
  std::int64_t rows = 0;
  for (int attempt = 0; attempt < 100 && rows < 3; ++attempt) {   // the writer indexes after 200 ms without writes
    std::this_thread::sleep_for(50ms);
    rows = rows_in_index();
  }
  EXPECT_EQ(rows, 3);
  EXPECT_EQ(subject("idle 1"), (Ids{"M1"}));
}

INSTANTIATE_TEST_SUITE_P(WalkAndIndex, SearchIndexTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Index" : "Walk"; });

}  // namespace
}  // namespace gatehouse
