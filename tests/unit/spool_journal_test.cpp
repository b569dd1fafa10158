// The spool's journal (fast path of live delivery): messages appended and acknowledged by one
// group fdatasync; done marks; recovery at start moves unfinished messages to the queue; an
// incomplete last record (never acknowledged) is set aside, not delivered.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>

#include "delivery/spool.hpp"

namespace fs = std::filesystem;
using gatehouse::delivery::Spool;
using gatehouse::delivery::SpoolEnvelope;

namespace {

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("gatehouse-journal-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(reinterpret_cast<std::uintptr_t>(this)));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

SpoolEnvelope envelope(const std::string& id) {
  SpoolEnvelope e;
  e.id = id;
  e.mail_from = "sender@remote.test";
  e.recipients = {"alice@example.test"};
  e.backend = "smtp:127.0.0.1:25";
  e.domain = "example.test";
  e.queued_at_ms = 1;
  return e;
}

void store(Spool& spool, const std::string& id, const std::string& message) {
  boost::asio::io_context io;
  auto stored = [&]() -> boost::asio::awaitable<std::string> {
    auto status = co_await spool.store(envelope(id), message);
    co_return status ? std::string() : status.error().message;
  };
  auto done = boost::asio::co_spawn(io, stored(), boost::asio::use_future);
  io.run();
  ASSERT_EQ(done.get(), "");
}

std::size_t journal_files(const fs::path& dir) {
  std::size_t n = 0;
  for (auto& e : fs::directory_iterator(dir / "journal")) n += e.path().extension() == ".log";
  return n;
}

}  // namespace

TEST(SpoolJournal, LiveMessagesAreNotQueuedButLoadable) {
  TempDir dir;
  Spool spool(dir.path);
  ASSERT_TRUE(spool.open().ok());
  store(spool, "01M852T1RANR31", "Subject: one\r\n\r\nbody\r\n");
  EXPECT_TRUE(spool.list().empty());            // being delivered live, not waiting in the queue
  EXPECT_TRUE(spool.contains("01M852T1RANR31"));
  auto loaded = spool.load("01M852T1RANR31");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->second, "Subject: one\r\n\r\nbody\r\n");
  EXPECT_EQ(loaded->first.recipients, std::vector<std::string>{"alice@example.test"});
  spool.remove("01M852T1RANR31");
  EXPECT_FALSE(spool.contains("01M852T1RANR31"));
}

TEST(SpoolJournal, HandOverMovesToTheQueue) {
  TempDir dir;
  Spool spool(dir.path);
  ASSERT_TRUE(spool.open().ok());
  store(spool, "01M852T1RANR32", "m\r\n");
  ASSERT_TRUE(spool.hand_over("01M852T1RANR32").ok());
  EXPECT_EQ(spool.list(), std::vector<std::string>{"01M852T1RANR32"});
  auto loaded = spool.load("01M852T1RANR32");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->second, "m\r\n");
}

TEST(SpoolJournal, RecoveryQueuesUnfinishedMessagesOnly) {
  TempDir dir;
  {
    Spool spool(dir.path);
    ASSERT_TRUE(spool.open().ok());
    store(spool, "01M852T1RANR33", "delivered\r\n");
    store(spool, "01M852T1RANR34", "in flight at the crash\r\n");
    spool.remove("01M852T1RANR33");
    // The process "dies" here: no mark for ...34.
  }
  Spool again(dir.path);
  ASSERT_TRUE(again.open().ok());
  EXPECT_EQ(again.list(), std::vector<std::string>{"01M852T1RANR34"});
  auto loaded = again.load("01M852T1RANR34");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->second, "in flight at the crash\r\n");
  EXPECT_EQ(journal_files(dir.path), 1u);       // old segment gone, a fresh one open
}

TEST(SpoolJournal, IncompleteLastRecordIsSetAsideNotDelivered) {
  TempDir dir;
  {
    Spool spool(dir.path);
    ASSERT_TRUE(spool.open().ok());
    store(spool, "01M852T1RANR35", "complete\r\n");
  }
  // A crash in the middle of writing the next record (never acknowledged): its bytes land at the
  // logical end, before the zeros the sync thread wrote ahead.
  fs::path segment;
  for (auto& e : fs::directory_iterator(dir.path / "journal")) segment = e.path();
  std::string content;
  {
    std::ifstream in(segment, std::ios::binary);
    content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::size_t logical_end = content.find('\0');
  ASSERT_NE(logical_end, std::string::npos) << "no zeros written ahead of the record";
  ASSERT_GE(content.size() - logical_end, 1024u * 1024u);
  const std::string partial = "GHSPOOL1 200 5000\n{\"id\":\"01M852T1RANR36\"";
  {
    std::fstream out(segment, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(logical_end));
    out << partial;
  }
  Spool again(dir.path);
  ASSERT_TRUE(again.open().ok());
  EXPECT_EQ(again.list(), std::vector<std::string>{"01M852T1RANR35"});
  // Set aside for inspection: the partial record, without the zeros after it.
  std::size_t aside_bytes = 0;
  for (auto& e : fs::directory_iterator(dir.path / "corrupt")) aside_bytes += fs::file_size(e.path());
  EXPECT_EQ(aside_bytes, partial.size());
}

TEST(SpoolJournal, ManyMessagesAcrossTheZerosWrittenAheadAllRecover) {
  // More than kZeroAhead of records, so the writes overtake several top-ups of zeros; none of them
  // is cut short by the zeros, and a message is never found in the zeros.
  TempDir dir;
  const std::string body(100 * 1024, 'x');
  std::vector<std::string> ids;
  {
    Spool spool(dir.path);
    ASSERT_TRUE(spool.open().ok());
    for (int i = 0; i < 60; ++i) {
      std::string id = fmt::format("01M852T1RB{:04}", i);
      store(spool, id, body + std::to_string(i));
      if (i % 2 == 0) spool.remove(id);   // delivered: a done mark between the records
      else ids.push_back(id);
    }
  }
  Spool again(dir.path);
  ASSERT_TRUE(again.open().ok());
  EXPECT_EQ(again.list(), ids);
  auto last = again.load(ids.back());
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->second, body + "59");
}
