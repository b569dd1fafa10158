// Tests of the SQLite store (store/sqlite_store.cpp): the log round trip, compressed message copies,
// search by every criterion, delivery updates, pruning, the run-time state (domains, addresses,
// generation) and a second store on the same file beside a busy writer, as the CLI beside a daemon.
#include "store/store.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/id.hpp"
#include "sqlite_test_support.hpp"

namespace gatehouse {
namespace {

using namespace std::chrono_literals;

// A time with millisecond precision, which is what the store keeps.
Clock::time_point at_milliseconds(std::int64_t milliseconds) {
  return Clock::time_point(std::chrono::milliseconds(milliseconds));
}

const Clock::time_point base_time = at_milliseconds(1'700'000'000'000);  // November 2023

TransactionRecord sample_record(const std::string& id, Clock::time_point time) {
  TransactionRecord record;
  record.id = id;
  record.time = time;
  record.client_ip = "192.0.2.10";
  record.client_ptr = "mail.sender.test";
  record.helo = "mail.sender.test";
  record.mail_from = "alice@sender.test";
  record.recipients = {"bob@example.test"};
  record.header_from = "Alice <alice@sender.test>";
  record.subject = "Hello";
  record.size = 1234;
  record.disposition = "accept";
  record.domain = "example.test";
  record.delivery_status = "delivered";
  return record;
}

std::vector<std::string> ids_of(const std::vector<TransactionRecord>& records) {
  std::vector<std::string> ids;
  for (const auto& record : records) ids.push_back(record.id);
  return ids;
}

// Every test gets a fresh directory under /tmp, removed afterwards.
class StoreTest : public testing_support::StoreFileTest {
 protected:
  StoreTest() : StoreFileTest("gatehouse-store-test") {}

  std::unique_ptr<Store> open() { return open_store(); }

  // One integer from the database file, read with SQLite directly.
  std::int64_t query_integer(const std::string& sql, const std::string& parameter) {
    return testing_support::query_integer(path_, sql, parameter);
  }
};

// ---------------------------------------------------------------------------------------------
// Opening

TEST_F(StoreTest, CreatesTheFileInWalMode) {
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_TRUE(std::filesystem::exists(path_));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &statement, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)), "wal");
  sqlite3_finalize(statement);
  sqlite3_close(db);
  EXPECT_EQ(query_integer("PRAGMA user_version", ""), 3);
}

TEST_F(StoreTest, OpeningInAMissingDirectoryIsAnError) {
  std::string path = (directory_ / "no-such-directory" / "store.db").string();
  auto store = open_sqlite_store(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().message.rfind("cannot open store " + path + ": ", 0), 0u) << store.error().message;
}

TEST_F(StoreTest, OpeningAFileThatIsNotADatabaseIsAnError) {
  std::ofstream(path_) << "This is not an SQLite database, and it is long enough to show that it is not one.\n"
                       << std::string(200, 'x');
  auto store = open_sqlite_store(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("cannot open store " + path_ + ": "), std::string::npos);
  EXPECT_NE(store.error().message.find("not a database"), std::string::npos) << store.error().message;
}

TEST_F(StoreTest, ReopeningKeepsWhatTheDestructorFlushed) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    store->record(sample_record("T1", base_time), "Subject: kept\r\n\r\nbody\r\n");
    ASSERT_TRUE(store->add_address("postmaster@example.test").ok());
    // no flush(): the destructor must write what is queued
  }
  auto store = open();
  ASSERT_TRUE(store);
  auto found = store->find("T1");
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->has_message);
  EXPECT_EQ(store->message("T1"), "Subject: kept\r\n\r\nbody\r\n");
  EXPECT_EQ(store->addresses(), std::vector<std::string>{"postmaster@example.test"});
}

// ---------------------------------------------------------------------------------------------
// The log

TEST_F(StoreTest, RecordFlushFindRoundTripsEveryField) {
  auto store = open();
  ASSERT_TRUE(store);
  TransactionRecord record;
  record.id = new_transaction_id();
  record.time = base_time + 123ms;
  record.client_ip = "2001:db8::25";
  record.client_ptr = "mx.sender.test";
  record.helo = "[2001:db8::25]";
  record.tls = "TLSv1.3 TLS_AES_256_GCM_SHA384";
  record.mail_from = "alice@sender.test";
  record.recipients = {"bob@example.test", "carol@example.test"};
  record.rejected_recipients = {"dave@example.test: 550 5.1.1 no such user", "\"odd, \\\"quoted\\\"\"@x.test: 450"};
  record.header_from = "\"Alice Ü.\" <alice@sender.test>";
  record.subject = "Ünïcode and \"quotes\" and 'apostrophes' \\ back";
  record.message_id = "<abc@sender.test>";
  record.size = 5'000'000'000ull;
  record.disposition = "tag";
  record.reason = "score";
  record.reply = "250 2.0.0 Ok: queued as " + record.id;
  record.score = 6.25;
  record.checks = {{"dnsbl", 3.5, "listed in zen.example \"127.0.0.2\""}, {"bayes", -1.25, ""}, {"helo", 4, "x"}};
  record.direction = "outbound";
  record.domain = "example.test";
  record.backend = "smtp:10.0.0.5:25";
  record.delivery_status = "queued";
  record.delivery_attempts = 2;
  record.delivery_detail = "451 4.3.0 try later";
  record.has_message = false;
  store->record(record);
  store->flush();

  auto found = store->find(record.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, record.id);
  EXPECT_EQ(found->time, record.time);
  EXPECT_EQ(found->client_ip, record.client_ip);
  EXPECT_EQ(found->client_ptr, record.client_ptr);
  EXPECT_EQ(found->helo, record.helo);
  EXPECT_EQ(found->tls, record.tls);
  EXPECT_EQ(found->mail_from, record.mail_from);
  EXPECT_EQ(found->recipients, record.recipients);
  EXPECT_EQ(found->rejected_recipients, record.rejected_recipients);
  EXPECT_EQ(found->header_from, record.header_from);
  EXPECT_EQ(found->subject, record.subject);
  EXPECT_EQ(found->message_id, record.message_id);
  EXPECT_EQ(found->size, record.size);
  EXPECT_EQ(found->disposition, record.disposition);
  EXPECT_EQ(found->reason, record.reason);
  EXPECT_EQ(found->reply, record.reply);
  EXPECT_DOUBLE_EQ(found->score, record.score);
  ASSERT_EQ(found->checks.size(), record.checks.size());
  for (std::size_t i = 0; i < record.checks.size(); ++i) {
    EXPECT_EQ(found->checks[i].name, record.checks[i].name);
    EXPECT_DOUBLE_EQ(found->checks[i].score, record.checks[i].score);
    EXPECT_EQ(found->checks[i].detail, record.checks[i].detail);
  }
  EXPECT_EQ(found->direction, record.direction);
  EXPECT_EQ(found->domain, record.domain);
  EXPECT_EQ(found->backend, record.backend);
  EXPECT_EQ(found->delivery_status, record.delivery_status);
  EXPECT_EQ(found->delivery_attempts, record.delivery_attempts);
  EXPECT_EQ(found->delivery_detail, record.delivery_detail);
  EXPECT_FALSE(found->has_message);
}

TEST_F(StoreTest, EmptyFieldsAndTheNullSenderRoundTrip) {
  auto store = open();
  ASSERT_TRUE(store);
  TransactionRecord record;
  record.id = "EMPTY";
  record.time = base_time;
  store->record(record);
  store->flush();
  auto found = store->find("EMPTY");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->mail_from, "");
  EXPECT_TRUE(found->recipients.empty());
  EXPECT_TRUE(found->checks.empty());
  EXPECT_EQ(found->direction, "inbound");
}

TEST_F(StoreTest, FindOfAnUnknownIdIsEmpty) {
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->find("NOSUCHID"));
  EXPECT_FALSE(store->message("NOSUCHID"));
}

TEST_F(StoreTest, MessageBodiesRoundTripCompressed) {
  auto store = open();
  ASSERT_TRUE(store);
  std::string raw = "From: alice@sender.test\r\nSubject: big\r\n\r\n";
  while (raw.size() < 100 * 1024)
    raw += "The quick brown fox jumps over the lazy dog. " + std::to_string(raw.size()) + "\r\n";
  std::string binary;  // every byte value, including NUL
  for (int i = 0; i < 4096; ++i) binary += static_cast<char>(i * 7 % 256);

  store->record(sample_record("BIG", base_time), raw);
  store->record(sample_record("BINARY", base_time), binary);
  store->record(sample_record("NONE", base_time));
  store->flush();

  EXPECT_EQ(store->message("BIG"), raw);
  EXPECT_EQ(store->message("BINARY"), binary);
  EXPECT_FALSE(store->message("NONE"));
  EXPECT_TRUE(store->find("BIG")->has_message);
  EXPECT_FALSE(store->find("NONE")->has_message);

  std::int64_t stored = query_integer("SELECT length(body) FROM messages WHERE id = ?", "BIG");
  EXPECT_GT(stored, 0);
  EXPECT_LT(stored, static_cast<std::int64_t>(raw.size()) / 5) << "the body is not compressed";
}

TEST_F(StoreTest, RecordingTheSameIdAgainReplacesTheRow) {
  auto store = open();
  ASSERT_TRUE(store);
  auto first = sample_record("SAME", base_time);
  first.delivery_status = "queued";
  first.recipients = {"old@example.test"};
  store->record(first, "the message");
  store->flush();

  auto second = first;
  second.delivery_status = "delivered";
  second.recipients = {"new@example.test"};
  second.score = 2;
  store->record(second);  // no body this time: the stored one is kept
  store->flush();

  auto found = store->find("SAME");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->delivery_status, "delivered");
  EXPECT_EQ(found->recipients, std::vector<std::string>{"new@example.test"});
  EXPECT_EQ(found->score, 2);
  EXPECT_TRUE(found->has_message);
  EXPECT_EQ(store->message("SAME"), "the message");
  SearchQuery query;
  EXPECT_EQ(store->search(query).size(), 1u);
  query.recipient = "old@";
  EXPECT_TRUE(store->search(query).empty()) << "the old recipient is still indexed";
  query.recipient = "new@";
  EXPECT_EQ(store->search(query).size(), 1u);
}

TEST_F(StoreTest, UpdateDeliveryChangesOnlyTheDeliveryFields) {
  auto store = open();
  ASSERT_TRUE(store);
  auto record = sample_record("DELIVER", base_time);
  record.delivery_status = "queued";
  store->record(record);
  // Queued in the same batch as the record: it must apply after it.
  store->update_delivery({"DELIVER", "failed", 3, "550 5.7.1 refused"});
  store->update_delivery({"MISSING", "delivered", 1, "250 ok"});  // no row: nothing happens
  store->flush();

  auto found = store->find("DELIVER");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->delivery_status, "failed");
  EXPECT_EQ(found->delivery_attempts, 3);
  EXPECT_EQ(found->delivery_detail, "550 5.7.1 refused");
  EXPECT_EQ(found->subject, record.subject);
  EXPECT_EQ(found->recipients, record.recipients);
  EXPECT_FALSE(store->find("MISSING"));

  store->update_delivery({"DELIVER", "delivered", 4, "250 2.0.0 ok"});
  store->flush();
  found = store->find("DELIVER");
  EXPECT_EQ(found->delivery_status, "delivered");
  EXPECT_EQ(found->delivery_attempts, 4);
}

TEST_F(StoreTest, FlushWithNothingQueuedReturnsAtOnce) {
  auto store = open();
  ASSERT_TRUE(store);
  auto started = std::chrono::steady_clock::now();
  store->flush();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
}

TEST_F(StoreTest, RecordsFromManyThreadsAreAllWritten) {
  auto store = open();
  ASSERT_TRUE(store);
  constexpr int kThreads = 4, kPerThread = 600;  // more than one batch
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i)
        store->record(sample_record(fmt::format("T{}-{}", t, i), base_time + std::chrono::milliseconds(i)),
                      i % 10 == 0 ? "small body" : "");
    });
  for (auto& thread : threads) thread.join();
  store->flush();
  SearchQuery all;
  all.limit = 0;  // no limit
  EXPECT_EQ(store->search(all).size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(store->message("T3-590"), "small body");
}

// ---------------------------------------------------------------------------------------------
// Search

class StoreSearchTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    store_ = open();
    ASSERT_TRUE(store_);
    // Recorded out of time order on purpose.
    auto a = sample_record("A", base_time + 1s);
    a.mail_from = "Alice@Sender.TEST";
    a.header_from = "Alice <alice@sender.test>";
    a.recipients = {"bob@example.test", "carol@example.test"};
    a.subject = "Quarterly REPORT";
    a.client_ip = "192.0.2.1";
    a.disposition = "accept";
    a.domain = "example.test";

    auto b = sample_record("B", base_time + 3s);
    b.mail_from = "";  // the null sender: matches by header From only
    b.header_from = "Mailer <mailer-daemon@bounce.test>";
    b.recipients = {"dave@other.test"};
    b.subject = "Undelivered 100% _sure_";
    b.client_ip = "192.0.2.10";
    b.disposition = "reject";
    b.domain = "other.test";

    auto c = sample_record("C", base_time + 2s);
    c.mail_from = "spammer@bad.test";
    c.header_from = "Friend <friend@bad.test>";
    c.recipients = {};
    c.rejected_recipients = {"Erin@Example.test: 550 5.1.1 no such user"};
    c.subject = "cheap report";
    c.client_ip = "2001:db8::1";
    c.disposition = "reject";
    c.domain = "Example.TEST";

    auto d = sample_record("D", base_time);
    d.recipients = {"bob@example.test"};
    d.subject = "lunch?";
    d.client_ip = "198.51.100.7";
    d.disposition = "tag";
    d.domain = "example.test";

    for (const auto& record : {a, b, c, d}) store_->record(record);
    store_->flush();
  }

  std::vector<std::string> search(SearchQuery query) { return ids_of(store_->search(query)); }

  std::unique_ptr<Store> store_;
};

using Ids = std::vector<std::string>;

TEST_F(StoreSearchTest, EmptyQueryReturnsAllNewestFirst) { EXPECT_EQ(search({}), (Ids{"B", "C", "A", "D"})); }

TEST_F(StoreSearchTest, BySenderMatchesEnvelopeOrHeaderFromWithoutCase) {
  SearchQuery query;
  query.sender = "alice@sender.test";  // envelope is "Alice@Sender.TEST"
  EXPECT_EQ(search(query), (Ids{"A", "D"}));
  query.sender = "MAILER-DAEMON";  // header From only
  EXPECT_EQ(search(query), Ids{"B"});
  query.sender = "bad.test";
  EXPECT_EQ(search(query), Ids{"C"});
  query.sender = "nobody";
  EXPECT_EQ(search(query), Ids{});
}

TEST_F(StoreSearchTest, ByRecipientSubstringIncludingRejectedRecipients) {
  SearchQuery query;
  query.recipient = "bob";
  EXPECT_EQ(search(query), (Ids{"A", "D"}));
  query.recipient = "CAROL@example";
  EXPECT_EQ(search(query), Ids{"A"});
  query.recipient = "erin@example.test";  // refused at RCPT, still findable
  EXPECT_EQ(search(query), Ids{"C"});
  query.recipient = "@other.test";
  EXPECT_EQ(search(query), Ids{"B"});
  query.recipient = "550";  // the reply text of a rejected recipient is not its address
  EXPECT_EQ(search(query), Ids{});
}

TEST_F(StoreSearchTest, BySubjectSubstringWithoutCaseAndWithLiteralWildcards) {
  SearchQuery query;
  query.subject = "report";
  EXPECT_EQ(search(query), (Ids{"C", "A"}));
  query.subject = "100%";
  EXPECT_EQ(search(query), Ids{"B"});
  query.subject = "_sure_";
  EXPECT_EQ(search(query), Ids{"B"});
  query.subject = "%";
  EXPECT_EQ(search(query), Ids{"B"}) << "'%' must match itself only";
  query.subject = "q_arterly";
  EXPECT_EQ(search(query), Ids{}) << "'_' must match itself only";
}

TEST_F(StoreSearchTest, ByClientIpExactOrPrefix) {
  SearchQuery query;
  query.client_ip = "192.0.2.1";  // a whole address: exact, not 192.0.2.10
  EXPECT_EQ(search(query), Ids{"A"});
  query.client_ip = "192.0.2.";
  EXPECT_EQ(search(query), (Ids{"B", "A"}));
  query.client_ip = "2001:DB8:";
  EXPECT_EQ(search(query), Ids{"C"});
  query.client_ip = "2001:db8::1";
  EXPECT_EQ(search(query), Ids{"C"});
}

TEST_F(StoreSearchTest, ByDispositionIdAndDomain) {
  SearchQuery query;
  query.disposition = "reject";
  EXPECT_EQ(search(query), (Ids{"B", "C"}));
  query = {};
  query.id = "C";
  EXPECT_EQ(search(query), Ids{"C"});
  query.id = "c";  // IDs quoted by people may come in lower case
  EXPECT_EQ(search(query), Ids{"C"});
  query = {};
  query.domain = "EXAMPLE.test";
  EXPECT_EQ(search(query), (Ids{"C", "A", "D"}));
}

TEST_F(StoreSearchTest, ByTimeWindowSinceInclusiveUntilExclusive) {
  SearchQuery query;
  query.since = base_time + 1s;
  EXPECT_EQ(search(query), (Ids{"B", "C", "A"}));
  query.until = base_time + 3s;
  EXPECT_EQ(search(query), (Ids{"C", "A"}));
  query.since.reset();
  EXPECT_EQ(search(query), (Ids{"C", "A", "D"}));
}

TEST_F(StoreSearchTest, CriteriaCombineWithAnd) {
  SearchQuery query;
  query.recipient = "bob";
  query.disposition = "tag";
  EXPECT_EQ(search(query), Ids{"D"});
  query.since = base_time + 1s;
  EXPECT_EQ(search(query), Ids{});
  query = {};
  query.domain = "example.test";
  query.subject = "report";
  query.client_ip = "192.0.2.";
  EXPECT_EQ(search(query), Ids{"A"});
}

TEST_F(StoreSearchTest, PaginatesNewestFirst) {
  SearchQuery query;
  query.limit = 2;
  EXPECT_EQ(search(query), (Ids{"B", "C"}));
  query.offset = 2;
  EXPECT_EQ(search(query), (Ids{"A", "D"}));
  query.offset = 4;
  EXPECT_EQ(search(query), Ids{});
  query.offset = 1;
  query.limit = 1;
  EXPECT_EQ(search(query), Ids{"C"});
}

TEST_F(StoreSearchTest, ReturnsFullRecords) {
  SearchQuery query;
  query.id = "C";
  auto found = store_->search(query);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].rejected_recipients, std::vector<std::string>{"Erin@Example.test: 550 5.1.1 no such user"});
  EXPECT_EQ(found[0].time, base_time + 2s);
  EXPECT_EQ(found[0].header_from, "Friend <friend@bad.test>");
}

// ---------------------------------------------------------------------------------------------
// Pruning

TEST_F(StoreTest, PruneRemovesOldRowsAndBodiesAndKeepsNewOnes) {
  auto store = open();
  ASSERT_TRUE(store);
  for (int i = 0; i < 30; ++i)
    store->record(
        sample_record(fmt::format("OLD{}", i), base_time - std::chrono::hours(24 * 40) + std::chrono::seconds(i)),
        "old body");
  store->record(sample_record("EDGE", base_time), "edge body");  // exactly at the cut: kept
  store->record(sample_record("NEW", base_time + 1h), "new body");

  // prune() goes through the writer queue, so it sees the records queued before it without a flush.
  EXPECT_EQ(store->prune(base_time), 30u);
  EXPECT_FALSE(store->find("OLD0"));
  EXPECT_FALSE(store->message("OLD29"));
  EXPECT_TRUE(store->find("EDGE"));
  EXPECT_EQ(store->message("NEW"), "new body");
  EXPECT_EQ(query_integer("SELECT count(*) FROM messages WHERE id LIKE ?", "OLD%"), 0);
  EXPECT_EQ(query_integer("SELECT count(*) FROM recipients WHERE id LIKE ?", "OLD%"), 0);
  SearchQuery query;
  query.recipient = "bob";
  EXPECT_EQ(ids_of(store->search(query)), (Ids{"NEW", "EDGE"}));

  EXPECT_EQ(store->prune(base_time), 0u);
  EXPECT_EQ(store->prune(base_time + 2h), 2u);
  EXPECT_FALSE(store->find("NEW"));
}

TEST_F(StoreTest, PruneOfManyRowsWorksInChunks) {
  auto store = open();
  ASSERT_TRUE(store);
  constexpr int kRows = 12'000;  // more than one prune chunk and more than one write batch
  for (int i = 0; i < kRows; ++i)
    store->record(sample_record(fmt::format("R{}", i), base_time + std::chrono::milliseconds(i)));
  store->record(sample_record("KEEP", base_time + 1h));
  EXPECT_EQ(store->prune(base_time + 1min), static_cast<std::size_t>(kRows));
  SearchQuery all;
  EXPECT_EQ(ids_of(store->search(all)), Ids{"KEEP"});
}

// ---------------------------------------------------------------------------------------------
// Run-time state

TEST_F(StoreTest, DomainsCrudBumpsTheGeneration) {
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->domains().empty());
  std::int64_t generation = store->state_generation();
  EXPECT_EQ(generation, 0);

  StoredDomain example{"Example.TEST", "smtp:10.0.0.5:25", "list", 4.5, 9};
  ASSERT_TRUE(store->put_domain(example).ok());
  EXPECT_GT(store->state_generation(), generation);
  generation = store->state_generation();
  ASSERT_TRUE(store->put_domain({"a.test", "smtp:10.0.0.6:25", "any", 5, 10}).ok());
  auto domains = store->domains();
  ASSERT_EQ(domains.size(), 2u);
  EXPECT_EQ(domains[0].name, "a.test");
  EXPECT_EQ(domains[1].name, "example.test");  // stored in lower case
  EXPECT_EQ(domains[1].backend, "smtp:10.0.0.5:25");
  EXPECT_EQ(domains[1].recipients, "list");
  EXPECT_EQ(domains[1].tag_threshold, 4.5);
  EXPECT_EQ(domains[1].reject_threshold, 9);
  EXPECT_GT(store->state_generation(), generation);
  generation = store->state_generation();

  // put_domain of an existing name updates it.
  ASSERT_TRUE(store->put_domain({"example.test", "smtp:10.0.0.7:2525", "backend", 3, 8}).ok());
  domains = store->domains();
  ASSERT_EQ(domains.size(), 2u);
  EXPECT_EQ(domains[1].backend, "smtp:10.0.0.7:2525");
  EXPECT_EQ(domains[1].recipients, "backend");
  EXPECT_EQ(domains[1].tag_threshold, 3);
  EXPECT_GT(store->state_generation(), generation);
  generation = store->state_generation();

  ASSERT_TRUE(store->remove_domain("EXAMPLE.test").ok());
  ASSERT_EQ(store->domains().size(), 1u);
  EXPECT_GT(store->state_generation(), generation);
  generation = store->state_generation();

  auto missing = store->remove_domain("example.test");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("example.test"), std::string::npos);
  EXPECT_EQ(store->state_generation(), generation);

  auto bad = store->put_domain({"b.test", "", "everyone", 5, 10});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("everyone"), std::string::npos);
  EXPECT_FALSE(store->put_domain({"  ", "", "list", 5, 10}).ok());
  EXPECT_EQ(store->domains().size(), 1u);
  EXPECT_EQ(store->state_generation(), generation);
}

TEST_F(StoreTest, AddressesCrudInLowerCaseFilteredByDomain) {
  auto store = open();
  ASSERT_TRUE(store);
  std::int64_t generation = store->state_generation();
  ASSERT_TRUE(store->add_address("Bob@Example.TEST").ok());
  EXPECT_GT(store->state_generation(), generation);
  ASSERT_TRUE(store->add_address("alice@example.test").ok());
  ASSERT_TRUE(store->add_address("carol@other.test").ok());
  ASSERT_TRUE(store->add_address("\"x@y\"@other.test").ok());  // the domain is after the last '@'
  generation = store->state_generation();
  ASSERT_TRUE(store->add_address("bob@example.test").ok());  // already there: no change
  EXPECT_EQ(store->state_generation(), generation);

  EXPECT_EQ(store->addresses(),
            (Ids{"\"x@y\"@other.test", "alice@example.test", "bob@example.test", "carol@other.test"}));
  EXPECT_EQ(store->addresses("example.test"), (Ids{"alice@example.test", "bob@example.test"}));
  EXPECT_EQ(store->addresses("OTHER.test"), (Ids{"\"x@y\"@other.test", "carol@other.test"}));
  EXPECT_EQ(store->addresses("example"), Ids{}) << "the domain filter is exact";

  ASSERT_TRUE(store->remove_address("BOB@example.test").ok());
  EXPECT_GT(store->state_generation(), generation);
  EXPECT_EQ(store->addresses("example.test"), Ids{"alice@example.test"});
  generation = store->state_generation();
  EXPECT_FALSE(store->remove_address("bob@example.test").ok());
  EXPECT_EQ(store->state_generation(), generation);
}

TEST_F(StoreTest, AnAddressWithoutAtSignIsAnError) {
  auto store = open();
  ASSERT_TRUE(store);
  auto result = store->add_address("postmaster");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("postmaster"), std::string::npos) << result.error().message;
  EXPECT_NE(result.error().message.find("'@'"), std::string::npos) << result.error().message;
  EXPECT_FALSE(store->add_address("@example.test").ok());
  EXPECT_FALSE(store->add_address("bob@").ok());
  EXPECT_TRUE(store->addresses().empty());
  EXPECT_EQ(store->state_generation(), 0);
}

// ---------------------------------------------------------------------------------------------
// Two stores on one file: the CLI beside a running daemon.

TEST_F(StoreTest, ASecondStoreReadsAndWritesStateBesideABusyWriter) {
  auto daemon = open();
  auto cli = open();
  ASSERT_TRUE(daemon && cli);

  daemon->record(sample_record("FIRST", base_time), "first body");
  daemon->flush();
  auto seen = cli->find("FIRST");
  ASSERT_TRUE(seen);
  EXPECT_EQ(cli->message("FIRST"), "first body");

  constexpr int kRecords = 400;
  std::atomic<bool> writing_done{false};
  std::thread writer([&] {
    for (int i = 0; i < kRecords; ++i) {
      daemon->record(sample_record(fmt::format("R{:04}", i), base_time + std::chrono::milliseconds(i + 1)),
                     std::string(2000, static_cast<char>('a' + i % 26)));
      if (i % 10 == 0) std::this_thread::sleep_for(1ms);  // spread the writes over many batches
    }
    daemon->flush();
    writing_done = true;
  });

  // Meanwhile the "CLI" changes state, which needs the write lock the daemon's writer keeps taking.
  std::int64_t generation = cli->state_generation();
  for (int i = 0; i < 20; ++i) {
    auto added = cli->add_address(fmt::format("user{}@example.test", i));
    EXPECT_TRUE(added.ok()) << added.error().message;
    SearchQuery recent;
    recent.limit = 5;
    cli->search(recent);  // reads run beside the writer
  }
  auto put = cli->put_domain({"example.test", "smtp:10.0.0.5:25", "list", 5, 10});
  EXPECT_TRUE(put.ok()) << put.error().message;
  writer.join();
  ASSERT_TRUE(writing_done);

  EXPECT_EQ(daemon->state_generation(), generation + 21);  // the daemon sees the CLI's changes
  EXPECT_EQ(daemon->addresses("example.test").size(), 20u);
  ASSERT_EQ(daemon->domains().size(), 1u);
  SearchQuery all;
  all.limit = 0;
  EXPECT_EQ(cli->search(all).size(), static_cast<std::size_t>(kRecords + 1));
  EXPECT_EQ(cli->message("R0399"), std::string(2000, static_cast<char>('a' + 399 % 26)));

  // And the CLI can prune while the daemon's writer is alive.
  EXPECT_EQ(cli->prune(base_time + 101ms), 101u);
  EXPECT_FALSE(daemon->find("R0099"));
  EXPECT_TRUE(daemon->find("R0100"));
}


// ---------------------------------------------------------------------------------------------
// Web administration: accounts, sessions, audit log; the domain administrator's view; the cursor

TEST_F(StoreTest, UsersSessionsAndAuditRoundTrip) {
  auto store = open();
  ASSERT_TRUE(store);
  User admin{"root", "$argon2id$hash", "admin", {}, {}};
  ASSERT_TRUE(store->add_user(admin).ok());
  EXPECT_FALSE(store->add_user(admin).ok()) << "a taken name is refused";
  EXPECT_FALSE(store->add_user(User{"x", "h", "superuser", {}, {}}).ok()) << "an unknown role is refused";
  ASSERT_TRUE(store->add_user(User{"eve", "h2", "domain_admin", {"Example.ORG", "b.test"}, {}}).ok());
  auto eve = store->find_user("eve");
  ASSERT_TRUE(eve);
  EXPECT_EQ(eve->role, "domain_admin");
  EXPECT_EQ(eve->domains, (std::vector<std::string>{"example.org", "b.test"}));
  EXPECT_EQ(store->users().size(), 2u);
  EXPECT_FALSE(store->find_user("nobody"));

  const auto now = Clock::now();
  ASSERT_TRUE(store->add_session(WebSession{"hash1", "eve", "csrf1", "127.0.0.1", now, now + 1h}).ok());
  ASSERT_TRUE(store->add_session(WebSession{"hash2", "root", "csrf2", "127.0.0.1", now - 2h, now - 1h}).ok());
  auto session = store->find_session("hash1");
  ASSERT_TRUE(session);
  EXPECT_EQ(session->username, "eve");
  EXPECT_EQ(session->csrf_token, "csrf1");
  EXPECT_EQ(store->remove_expired_sessions(now), 1u);
  EXPECT_FALSE(store->find_session("hash2"));
  // Removing a user ends its sessions.
  ASSERT_TRUE(store->remove_user("eve").ok());
  EXPECT_FALSE(store->find_session("hash1"));
  EXPECT_FALSE(store->remove_user("eve").ok());

  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->audit(AuditEntry{0, {}, "root", "192.0.2.1", "login", std::to_string(i)}).ok());
  auto entries = store->audit_log(2);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].detail, "2");   // newest first
  EXPECT_EQ(entries[1].detail, "1");
  auto older = store->audit_log(10, entries[1].id);
  ASSERT_EQ(older.size(), 1u);
  EXPECT_EQ(older[0].detail, "0");
}

TEST_F(StoreTest, MigratesAVersionOneDatabase) {
  {
    auto store = open();
    ASSERT_TRUE(store);
  }
  // Make it what version 1 wrote: no domain column, no web tables; one recipient row.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  const char* downgrade =
      "DROP INDEX recipients_domain; ALTER TABLE recipients DROP COLUMN domain; DROP TABLE users; "
      "DROP TABLE web_sessions; DROP TABLE audit; "
      "ALTER TABLE domains DROP COLUMN greylisting; ALTER TABLE domains DROP COLUMN reject_text; DROP TABLE settings; "
      "INSERT INTO recipients (id, address, accepted) VALUES ('OLD1', 'Bob@Example.ORG', 1); PRAGMA user_version = 1;";
  char* error = nullptr;
  ASSERT_EQ(sqlite3_exec(db, downgrade, nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_close(db);

  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(query_integer("PRAGMA user_version", ""), 3);
  EXPECT_EQ(query_integer("SELECT count(*) FROM recipients WHERE domain = ?1", "example.org"), 1);
  EXPECT_TRUE(store->add_user(User{"root", "h", "admin", {}, {}}).ok());
}

TEST_F(StoreTest, VisibleDomainsRestrictTheSearchItself) {
  auto store = open();
  ASSERT_TRUE(store);
  // Newest first: twenty of other.test, then one of example.test far back. A page of one for
  // example.test must still find it (the restriction is in the query, not a filter of a page).
  auto mine = sample_record("MINE1", base_time);
  mine.recipients = {"bob@example.test"};
  store->record(mine);
  for (int i = 0; i < 20; ++i) {
    auto other = sample_record(fmt::format("OTHER{:02}", i), base_time + std::chrono::minutes(i + 1));
    other.recipients = {"carol@other.test"};
    other.rejected_recipients = {"<x@third.test>: 550 5.1.1 no such user"};
    store->record(other);
  }
  auto refused = sample_record("REFUSED1", base_time + 30min);
  refused.recipients = {};
  refused.rejected_recipients = {"<dave@Example.Test>: 550 5.1.1 no such user"};
  store->record(refused);
  store->flush();

  SearchQuery query;
  query.visible_domains = {"example.test"};
  query.limit = 1;
  EXPECT_EQ(ids_of(store->search(query)), (std::vector<std::string>{"REFUSED1"}));
  query.limit = 10;
  EXPECT_EQ(ids_of(store->search(query)), (std::vector<std::string>{"REFUSED1", "MINE1"}));
  query.visible_domains = {"third.test"};
  EXPECT_EQ(store->search(query).size(), 10u);
  query.visible_domains = {"nowhere.test"};
  EXPECT_TRUE(store->search(query).empty());

  // The cursor: strictly older than (time, id).
  SearchQuery page;
  page.limit = 5;
  auto first = store->search(page);
  ASSERT_EQ(first.size(), 5u);
  page.before_time = first.back().time;
  page.before_id = first.back().id;
  auto second = store->search(page);
  ASSERT_EQ(second.size(), 5u);
  EXPECT_LT(second.front().time, first.back().time);

  SearchQuery by_reason;
  auto rejected = sample_record("REASON1", base_time + 40min);
  rejected.reason = "dnsbl";
  store->record(rejected);
  store->flush();
  by_reason.reason = "dnsb";
  EXPECT_EQ(ids_of(store->search(by_reason)), (std::vector<std::string>{"REASON1"}));
}

TEST_F(StoreTest, SettingsAndDomainOptionsPersistAndMoveTheGeneration) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    auto generation = store->state_generation();
    ASSERT_TRUE(store->put_setting("lists", R"({"whitelist":["a.example"]})").ok());
    EXPECT_GT(store->state_generation(), generation);
    StoredDomain domain{"Example.ORG", "smtp:127.0.0.1:25", "list", 4, 8};
    domain.greylisting = false;
    domain.reject_text = "No (ID:{id})";
    ASSERT_TRUE(store->put_domain(domain).ok());
    ASSERT_TRUE(store->put_domain(StoredDomain{"other.test", "smtp:127.0.0.1:25", "any", 5, 10}).ok());
  }
  auto store = open();   // a restart
  ASSERT_TRUE(store);
  EXPECT_EQ(store->setting("lists"), R"({"whitelist":["a.example"]})");
  EXPECT_EQ(store->setting("settings"), std::nullopt);
  ASSERT_EQ(store->settings().size(), 1u);
  auto domains = store->domains();
  ASSERT_EQ(domains.size(), 2u);
  EXPECT_EQ(domains[0].name, "example.org");
  EXPECT_EQ(domains[0].greylisting, false);
  EXPECT_EQ(domains[0].reject_text, "No (ID:{id})");
  EXPECT_EQ(domains[1].greylisting, std::nullopt);
  EXPECT_EQ(domains[1].reject_text, "");
  // An empty value removes the setting.
  ASSERT_TRUE(store->put_setting("lists", "").ok());
  EXPECT_EQ(store->setting("lists"), std::nullopt);
}

}  // namespace
}  // namespace gatehouse
