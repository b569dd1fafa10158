// The durable spool: where a message lives between "the client gave it to us" and "the back-end
// has it". A 250 at end of DATA is only given once the spool file is on disk (fdatasync of the
// file and fsync of its directory). Concurrent sessions share the cost: a sync thread takes every
// file waiting for durability and syncs them as one group (group commit).
//
// File format (one file per message, spool/queue/<ID>):
//   "GHSPOOL1 <length of JSON>\n" <JSON envelope> "\n" <message bytes> "\nGHEND <message length>\n"
// A file without a valid trailer was never acknowledged (the crash came before its sync) and
// is moved aside to spool/corrupt/ on recovery, never deleted.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.hpp"

namespace gatehouse::delivery {

struct SpoolEnvelope {
  std::string id;
  std::string mail_from;
  std::vector<std::string> recipients;   // still to deliver
  std::string backend;                   // BackendAddress text, "mx" for outbound
  std::string domain;
  std::string direction = "inbound";     // inbound | outbound
  std::int64_t queued_at_ms = 0;         // when first spooled
  int attempts = 0;
};

class Spool {
 public:
  explicit Spool(std::filesystem::path directory);
  ~Spool();
  Status open();   // creates the directories and starts the sync thread

  // Writes the file and waits (without blocking the caller's thread) until it is durable.
  boost::asio::awaitable<Status> store(const SpoolEnvelope& envelope, const std::string& message);
  // Same, blocking: for the CLI and tests.
  Status store_blocking(const SpoolEnvelope& envelope, const std::string& message);
  // Rewrites the envelope (remaining recipients, attempts) keeping the message; durable.
  Status update(const SpoolEnvelope& envelope);
  // Deletes the file (delivered or given up).
  void remove(const std::string& id);

  // IDs of the files in the queue, oldest first; invalid files are moved to corrupt/.
  std::vector<std::string> list();
  Result<std::pair<SpoolEnvelope, std::string>> load(const std::string& id);
  bool contains(const std::string& id) const;
  // Moves an unreadable file to spool/corrupt/ (kept for inspection, not delivered).
  void set_aside(const std::string& id);
  std::filesystem::path path_of(const std::string& id) const;

 private:
  struct SyncRequest {
    int fd;
    std::function<void(Status)> done;
  };
  Result<int> write_file(const SpoolEnvelope& envelope, const std::string& message);
  void sync_loop();

  std::filesystem::path directory_, queue_dir_, corrupt_dir_;
  int queue_dir_fd_ = -1;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<SyncRequest> requests_;
  bool stopping_ = false;
  std::thread sync_thread_;
};

std::string encode_envelope(const SpoolEnvelope& envelope);
Result<SpoolEnvelope> decode_envelope(std::string_view json);

}  // namespace gatehouse::delivery
