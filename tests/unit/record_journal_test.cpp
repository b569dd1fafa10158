// Tests of the store's record journal (store/record_journal.cpp): the frame round trip, frames cut
// short by a crash, and through the SQLite store: a reply that does not wait for the commit, rows
// of a process killed with SIGKILL committed at the next start (once, even if some were committed),
// the daemon's lock, and no journal files left after a clean stop.
#include "store/record_journal.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sqlite_test_support.hpp"

namespace gatehouse {
namespace {

using namespace std::chrono_literals;

TransactionRecord sample_record(const std::string& id) {
  TransactionRecord record;
  record.id = id;
  record.time = Clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  record.client_ip = "192.0.2.10";
  record.client_ptr = "mail.sender.test";
  record.helo = "mail.sender.test";
  record.tls = "TLSv1.3 TLS_AES_256_GCM_SHA384";
  record.mail_from = "alice@sender.test";
  record.recipients = {"bob@example.test", "carol@example.test"};
  record.rejected_recipients = {"dave@example.test: 550 5.1.1 unknown"};
  record.header_from = "Alice <alice@sender.test>";
  record.subject = "Grüße \"quoted\"\nsecond line";
  record.message_id = "<1@sender.test>";
  record.size = 1234;
  record.disposition = "tag";
  record.reason = "score";
  record.reply = "250 2.0.0 Ok: queued (ID:x)";
  record.score = 6.5;
  record.checks = {{"bayes", 4.25, "spam probability 0.99"}, {"rdns", 2.25, ""}};
  record.direction = "inbound";
  record.domain = "example.test";
  record.backend = "smtp:127.0.0.1:2526";
  record.delivery_status = "delivered";
  record.delivery_attempts = 1;
  record.delivery_detail = "250 ok";
  record.has_message = true;
  return record;
}

void expect_same(const TransactionRecord& a, const TransactionRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.client_ip, b.client_ip);
  EXPECT_EQ(a.client_ptr, b.client_ptr);
  EXPECT_EQ(a.helo, b.helo);
  EXPECT_EQ(a.tls, b.tls);
  EXPECT_EQ(a.mail_from, b.mail_from);
  EXPECT_EQ(a.recipients, b.recipients);
  EXPECT_EQ(a.rejected_recipients, b.rejected_recipients);
  EXPECT_EQ(a.header_from, b.header_from);
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.disposition, b.disposition);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.reply, b.reply);
  EXPECT_DOUBLE_EQ(a.score, b.score);
  ASSERT_EQ(a.checks.size(), b.checks.size());
  for (std::size_t i = 0; i < a.checks.size(); ++i) {
    EXPECT_EQ(a.checks[i].name, b.checks[i].name);
    EXPECT_DOUBLE_EQ(a.checks[i].score, b.checks[i].score);
    EXPECT_EQ(a.checks[i].detail, b.checks[i].detail);
  }
  EXPECT_EQ(a.direction, b.direction);
  EXPECT_EQ(a.domain, b.domain);
  EXPECT_EQ(a.backend, b.backend);
  EXPECT_EQ(a.delivery_status, b.delivery_status);
  EXPECT_EQ(a.delivery_attempts, b.delivery_attempts);
  EXPECT_EQ(a.delivery_detail, b.delivery_detail);
  EXPECT_EQ(a.has_message, b.has_message);
}

TEST(RecordJournalFrames, ARowAndItsBodyComeBackAsTheyWere) {
  const std::string body("\x28\xb5\x2f\xfd\n\0binary\r\n", 15);
  std::string data = encode_journal_frame(sample_record("A1"), body) + encode_journal_frame(sample_record("A2"), std::nullopt);
  auto decoded = decode_journal_frames(data);
  ASSERT_EQ(decoded.entries.size(), 2u);
  EXPECT_EQ(decoded.torn, 0u);
  expect_same(decoded.entries[0].record, sample_record("A1"));
  ASSERT_TRUE(decoded.entries[0].compressed_body);
  EXPECT_EQ(*decoded.entries[0].compressed_body, body);
  EXPECT_EQ(decoded.entries[1].record.id, "A2");
  EXPECT_FALSE(decoded.entries[1].compressed_body) << "no body: the stored copy is left as it is";
}

TEST(RecordJournalFrames, AFrameCutShortAnywhereEndsTheReplayThere) {
  const std::string first = encode_journal_frame(sample_record("B1"), std::string("body one"));
  const std::string second = encode_journal_frame(sample_record("B2"), std::string("body two"));
  for (std::size_t cut = 0; cut < second.size(); ++cut) {
    auto decoded = decode_journal_frames(first + second.substr(0, cut));
    ASSERT_EQ(decoded.entries.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(decoded.entries[0].record.id, "B1");
    EXPECT_EQ(decoded.torn, cut);
  }
}

TEST(RecordJournalFrames, GarbageIsNotARow) {
  for (std::string garbage : {"hello\n", "GHREC1 x y\n{}\n", "GHREC1 2 -1\n{}\n", "GHREC1 5 -7\n{\"a\"}\n"}) {
    auto decoded = decode_journal_frames(garbage);
    EXPECT_TRUE(decoded.entries.empty()) << garbage;
    EXPECT_EQ(decoded.torn, garbage.size());
  }
}

// True once `flag` is set, waiting up to 5 s (a reply answered from the writer's thread).
bool set_within_5s(const std::atomic<bool>& flag) {
  for (int i = 0; i < 500 && !flag; ++i) std::this_thread::sleep_for(10ms);
  return flag;
}

// Through the store, in a fresh directory under /tmp.
class RecordJournalStoreTest : public testing_support::StoreFileTest {
 protected:
  RecordJournalStoreTest() : StoreFileTest("gatehouse-journal-test") {}

  std::unique_ptr<Store> open(bool journal) { return open_store(StoreOptions{.journal_records = journal}); }

  std::vector<std::string> journal_files() const {
    std::vector<std::string> names;
    for (const auto& item : std::filesystem::directory_iterator(directory_)) {
      const auto name = item.path().filename().string();
      if (name.find("-records-") != std::string::npos) names.push_back(name);
    }
    return names;
  }

  std::int64_t count(const std::string& sql) { return testing_support::query_integer(path_, sql); }
};

TEST_F(RecordJournalStoreTest, TheReplyDoesNotWaitForTheCommitButReadersSeeTheRow) {
  auto store = open(true);
  ASSERT_TRUE(store);
  store->record(sample_record("C1"), "Subject: one\r\n\r\nbody\r\n");
  bool answered_at_once = false;
  store->when_written([&] { answered_at_once = true; });
  EXPECT_TRUE(answered_at_once) << "the row is in the journal: the reply need not wait";
  EXPECT_FALSE(journal_files().empty());
  auto found = store->find("C1");   // a reader in this process sees what was replied to
  ASSERT_TRUE(found);
  expect_same(*found, sample_record("C1"));
  ASSERT_TRUE(store->message("C1"));
  EXPECT_EQ(*store->message("C1"), "Subject: one\r\n\r\nbody\r\n");
  store.reset();
  EXPECT_TRUE(journal_files().empty()) << "every row committed: no journal file is left";
}

TEST_F(RecordJournalStoreTest, WithoutTheJournalTheReplyWaitsForTheCommit) {
  auto store = open(false);
  ASSERT_TRUE(store);
  std::atomic<bool> answered{false};
  store->record(sample_record("D1"));
  store->when_written([&] { answered = true; });
  // Answered from the writer's thread once the row is committed, so the row is there by then.
  ASSERT_TRUE(set_within_5s(answered));
  EXPECT_EQ(count("SELECT count(*) FROM transactions WHERE id = 'D1'"), 1);
  EXPECT_TRUE(journal_files().empty());
}

TEST_F(RecordJournalStoreTest, RowsOfAKilledProcessAreCommittedOnceAtTheNextStart) {
  constexpr int kRows = 300;
  { auto created = open(false); }   // the schema, before the child starts
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = open_sqlite_store(path_, StoreOptions{.journal_records = true});
    if (!store) _exit(2);
    std::atomic<int> answered{0};
    for (int i = 0; i < kRows; ++i) {
      auto record = sample_record("K" + std::to_string(i));
      (*store)->record(std::move(record), "Subject: row " + std::to_string(i) + "\r\n\r\nbody\r\n");
      (*store)->when_written([&] { ++answered; });
    }
    // Every reply given: killed before the writer could commit them all (its batch window is 20 ms).
    if (answered != kRows) _exit(3);
    ::kill(::getpid(), SIGKILL);
    _exit(4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exit status " << status;
  ASSERT_FALSE(journal_files().empty()) << "the killed process left its journal";
  const auto committed_before = count("SELECT count(*) FROM transactions");
  EXPECT_LT(committed_before, kRows) << "the test needs rows that were replied to but not committed";

  auto store = open(false);   // any process that gets the lock commits the leftovers
  ASSERT_TRUE(store);
  EXPECT_EQ(count("SELECT count(*) FROM transactions"), kRows);
  EXPECT_EQ(count("SELECT count(*) FROM recipients"), 3 * kRows) << "no row written twice";
  EXPECT_EQ(count("SELECT count(*) FROM messages"), kRows);
  auto row = store->find("K" + std::to_string(kRows - 1));
  ASSERT_TRUE(row);
  expect_same(*row, sample_record("K" + std::to_string(kRows - 1)));
  EXPECT_EQ(store->message("K7").value_or(""), "Subject: row 7\r\n\r\nbody\r\n");
  EXPECT_TRUE(journal_files().empty()) << "the leftovers are deleted once committed";
  store.reset();
  EXPECT_EQ(count("SELECT count(*) FROM transactions"), kRows) << "a second start changes nothing";
}

TEST_F(RecordJournalStoreTest, ACommandBesideTheDaemonNeitherWaitsForNorTakesTheJournal) {
  auto daemon = open(true);
  ASSERT_TRUE(daemon);
  const auto started = std::chrono::steady_clock::now();
  auto command = open(false);
  ASSERT_TRUE(command);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << "the lock is not waited for";
  command->record(sample_record("E1"));
  command->flush();
  EXPECT_EQ(count("SELECT count(*) FROM transactions WHERE id = 'E1'"), 1);
  // A second daemon on the same file cannot journal: its replies wait for their commits.
  auto second = open(true);
  ASSERT_TRUE(second);
  std::atomic<bool> answered{false};
  second->record(sample_record("E2"));
  second->when_written([&] { answered = true; });
  EXPECT_TRUE(set_within_5s(answered));
  EXPECT_EQ(count("SELECT count(*) FROM transactions WHERE id = 'E2'"), 1);
}

}  // namespace
}  // namespace gatehouse
