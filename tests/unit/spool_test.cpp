// Tests of the durable spool (src/delivery/spool.hpp): store and load round trip (binary-safe),
// listing in ID order, update keeps the message, a file whose trailer is missing or wrong is not
// loaded and is set aside into spool/corrupt/, and the JSON envelope encoding.
#include "delivery/spool.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

#include "common/id.hpp"

namespace gatehouse::delivery {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("gatehouse-spool-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    spool_ = std::make_unique<Spool>(dir_);
    auto opened = spool_->open();
    ASSERT_TRUE(opened.ok()) << opened.error().message;
  }
  void TearDown() override {
    spool_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static SpoolEnvelope envelope(const std::string& id) {
    SpoolEnvelope e;
    e.id = id;
    e.mail_from = "sender@example.org";
    e.recipients = {"alice@example.test", "\"john doe\"@example.test"};
    e.backend = "smtp:127.0.0.1:2626";
    e.domain = "example.test";
    e.queued_at_ms = 1767225600123;
    e.attempts = 0;
    return e;
  }

  static std::string read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  fs::path dir_;
  std::unique_ptr<Spool> spool_;
};

void expect_same(const SpoolEnvelope& a, const SpoolEnvelope& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.mail_from, b.mail_from);
  EXPECT_EQ(a.recipients, b.recipients);
  EXPECT_EQ(a.backend, b.backend);
  EXPECT_EQ(a.domain, b.domain);
  EXPECT_EQ(a.direction, b.direction);
  EXPECT_EQ(a.queued_at_ms, b.queued_at_ms);
  EXPECT_EQ(a.attempts, b.attempts);
}

TEST_F(SpoolTest, StoreAndLoadRoundTrip) {
  std::string id = new_transaction_id();
  // Binary-safe, and content that looks like the file's own trailer does not confuse it.
  std::string message = "Subject: t\r\n\r\nline\r\n\nGHEND 3\n";
  message += std::string("\0\x01\xff", 3);
  message += "\r\n.\r\n";
  auto stored = spool_->store_blocking(envelope(id), message);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_TRUE(spool_->contains(id));
  EXPECT_TRUE(fs::exists(spool_->path_of(id)));
  auto loaded = spool_->load(id);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  expect_same(loaded->first, envelope(id));
  EXPECT_EQ(loaded->second, message);
}

TEST_F(SpoolTest, EmptyMessage) {
  std::string id = new_transaction_id();
  ASSERT_TRUE(spool_->store_blocking(envelope(id), "").ok());
  auto loaded = spool_->load(id);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->second, "");
}

TEST_F(SpoolTest, LoadOfAMissingIdFails) {
  EXPECT_FALSE(spool_->load(new_transaction_id()).ok());
  EXPECT_FALSE(spool_->contains(new_transaction_id()));
}

TEST_F(SpoolTest, ListIsSortedOldestFirstAndSkipsForeignFiles) {
  auto base = std::chrono::system_clock::now();
  std::vector<std::string> ids = {transaction_id_at(base + 3s, 1), transaction_id_at(base, 7),
                                  transaction_id_at(base + 1s, 2), transaction_id_at(base + 2s, 0)};
  for (auto& id : ids) ASSERT_TRUE(spool_->store_blocking(envelope(id), "m " + id).ok());
  // Not a message: a temporary file and something an operator left there.
  std::ofstream(dir_ / "queue" / ".tmpfile") << "x";
  std::ofstream(dir_ / "queue" / "README") << "x";
  auto listed = spool_->list();
  std::vector<std::string> expected = {ids[1], ids[2], ids[3], ids[0]};
  EXPECT_EQ(listed, expected);
  spool_->remove(ids[2]);
  EXPECT_FALSE(spool_->contains(ids[2]));
  EXPECT_EQ(spool_->list().size(), 3u);
}

TEST_F(SpoolTest, UpdateKeepsTheMessage) {
  std::string id = new_transaction_id();
  const std::string message = "Subject: keep me\r\n\r\nbody\r\n";
  ASSERT_TRUE(spool_->store_blocking(envelope(id), message).ok());
  SpoolEnvelope changed = envelope(id);
  changed.recipients = {"\"john doe\"@example.test"};
  changed.attempts = 3;
  auto updated = spool_->update(changed);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  auto loaded = spool_->load(id);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  expect_same(loaded->first, changed);
  EXPECT_EQ(loaded->second, message);
  EXPECT_EQ(spool_->list(), std::vector<std::string>{id});
}

TEST_F(SpoolTest, UpdateOfAMissingFileFails) {
  EXPECT_FALSE(spool_->update(envelope(new_transaction_id())).ok());
}

TEST_F(SpoolTest, TruncatedFileFailsToLoadAndIsSetAside) {
  const std::string message = "Subject: cut\r\n\r\n" + std::string(1000, 'z') + "\r\n";
  // Cut at several places: inside the trailer, right before it, inside the body, inside the JSON.
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < 6; ++i) ids.push_back(new_transaction_id());
  for (auto& id : ids) ASSERT_TRUE(spool_->store_blocking(envelope(id), message).ok());
  std::string full = read_all(spool_->path_of(ids[0]));
  auto trailer = full.rfind("\nGHEND ");
  ASSERT_NE(trailer, std::string::npos);
  std::vector<std::size_t> lengths = {full.size() - 1,   // trailer without its final newline
                                      trailer + 4,       // half a trailer
                                      trailer,           // no trailer at all
                                      trailer - 100,     // in the body
                                      20,                // in the envelope
                                      5};                // in the magic
  for (std::size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE("cut to " + std::to_string(lengths[i]) + " of " + std::to_string(full.size()));
    fs::resize_file(spool_->path_of(ids[i]), lengths[i]);
    EXPECT_FALSE(spool_->load(ids[i]).ok());
    spool_->set_aside(ids[i]);
    EXPECT_FALSE(spool_->contains(ids[i]));
    EXPECT_TRUE(fs::exists(dir_ / "corrupt" / ids[i]));
    EXPECT_EQ(fs::file_size(dir_ / "corrupt" / ids[i]), lengths[i]) << "set aside, never altered";
  }
  EXPECT_TRUE(spool_->list().empty());
}

TEST_F(SpoolTest, WrongTrailerLengthFailsToLoad) {
  std::string id = new_transaction_id();
  ASSERT_TRUE(spool_->store_blocking(envelope(id), "abcdef").ok());
  std::string full = read_all(spool_->path_of(id));
  auto pos = full.rfind("GHEND 6");
  ASSERT_NE(pos, std::string::npos);
  full.replace(pos, 7, "GHEND 5");
  std::ofstream(spool_->path_of(id), std::ios::binary | std::ios::trunc) << full;
  EXPECT_FALSE(spool_->load(id).ok());
}

TEST_F(SpoolTest, FilesSurviveAReopen) {
  std::string id = new_transaction_id();
  ASSERT_TRUE(spool_->store_blocking(envelope(id), "persist\r\n").ok());
  spool_ = std::make_unique<Spool>(dir_);
  ASSERT_TRUE(spool_->open().ok());
  EXPECT_EQ(spool_->list(), std::vector<std::string>{id});
  auto loaded = spool_->load(id);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->second, "persist\r\n");
}

TEST(SpoolEnvelopeCodec, RoundTrip) {
  SpoolEnvelope e;
  e.id = "01JAAAAAAAAAAA";
  e.mail_from = "";   // the null reverse-path
  e.recipients = {"a@example.test", "\"q\\\"uote\"@example.test", "\xe7\x94\xa8@example.test"};
  e.backend = "mx";
  e.domain = "example.test";
  e.direction = "outbound";
  e.queued_at_ms = 4102444800000;
  e.attempts = 12;
  auto decoded = decode_envelope(encode_envelope(e));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expect_same(*decoded, e);
}

TEST(SpoolEnvelopeCodec, RejectsBadInput) {
  EXPECT_FALSE(decode_envelope("").ok());
  EXPECT_FALSE(decode_envelope("not json").ok());
  EXPECT_FALSE(decode_envelope("[1,2]").ok());
  EXPECT_FALSE(decode_envelope(R"({"id":"X"})").ok());
  EXPECT_FALSE(decode_envelope(R"({"id":1,"mail_from":"","recipients":[],"backend":"","domain":"","direction":"inbound","queued_at_ms":0,"attempts":0})").ok());
  EXPECT_TRUE(decode_envelope(R"({"id":"X","mail_from":"","recipients":[],"backend":"","domain":"","direction":"inbound","queued_at_ms":0,"attempts":0})").ok());
}

}  // namespace
}  // namespace gatehouse::delivery
