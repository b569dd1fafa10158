// The durable spool: where a message lives between "the client gave it to us" and "the back-end
// has it". A 250 at end of DATA is only given once the message is on disk.
//
// Two places, one interface:
// - The journal (spool/journal/<n>.log), the fast path of live delivery: each message is appended
//   to the current segment and made durable by one fdatasync shared by every message that arrived
//   meanwhile (group commit) — no file created, no directory synced, nothing unlinked per message.
//   When the back-end has the message, a "done" mark is appended (not synced: after a power loss
//   the message may be delivered twice, never lost). A segment whose messages are all done is
//   deleted. At start, messages of the journal without their mark are moved to the queue.
//   Records and marks are written at the segment's logical end, ahead of which the sync thread
//   keeps a few MiB of zeros (zero_ahead): the first zero byte ends the segment when it is read.
// - The queue (spool/queue/<ID>), one file per message that waits for a retry: written when the
//   live hand-off did not succeed (hand_over), fdatasync'd with its directory.
//
// Queue file format:
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
#include <map>
#include <sys/types.h>
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

  // Appends to the journal (or, before open(), writes a queue file) and waits, without blocking
  // the caller's thread, until it is durable.
  boost::asio::awaitable<Status> store(const SpoolEnvelope& envelope, const std::string& message);
  // Moves a journal message to its own queue file (the retry queue takes it from there).
  Status hand_over(const std::string& id);
  // Same, blocking: for the CLI and tests.
  Status store_blocking(const SpoolEnvelope& envelope, const std::string& message);
  // Rewrites the envelope (remaining recipients, attempts) keeping the message; durable.
  Status update(const SpoolEnvelope& envelope);
  // Deletes the file (delivered or given up).
  void remove(const std::string& id);

  // IDs of the messages in the queue (not those in the journal, which are being delivered live),
  // oldest first.
  std::vector<std::string> list();
  Result<std::pair<SpoolEnvelope, std::string>> load(const std::string& id);
  bool contains(const std::string& id) const;
  // Moves an unreadable file to spool/corrupt/ (kept for inspection, not delivered).
  void set_aside(const std::string& id);
  std::filesystem::path path_of(const std::string& id) const;

 private:
  struct SyncRequest {
    int fd;
    bool journal;                      // the shared segment: sync once per group, never close
    std::function<void(Status)> done;
  };
  struct JournalEntry {
    std::uint64_t segment = 0;
    off_t offset = 0;                  // of the record
    std::size_t length = 0;
  };
  struct Segment {
    int fd = -1;
    std::size_t live = 0;              // messages without their done mark
    off_t size = 0;                    // the logical end: records and marks end here
    off_t zeroed = 0;                  // the file holds zeros from size up to here (zero_ahead)
  };
  Result<int> write_file(const SpoolEnvelope& envelope, const std::string& message);
  Result<int> append_journal(const SpoolEnvelope& envelope, const std::string& message);
  Status open_segment(std::uint64_t number);
  void mark_done(const std::string& id);   // with journal_mutex_ held
  void zero_ahead(int fd);                 // by the sync thread, before it syncs segment fd
  Status recover_journal();
  void sync_loop();

  std::filesystem::path journal_dir_;
  bool journal_enabled_ = false;
  mutable std::mutex journal_mutex_;
  std::map<std::uint64_t, Segment> segments_;
  std::uint64_t current_segment_ = 0;
  std::map<std::string, JournalEntry> journal_;
  static constexpr off_t kSegmentSize = 64 * 1024 * 1024;
  // The current segment is kept zero-filled this far beyond its logical end, 1 MiB at a time, so
  // that a record overwrites allocated blocks and its fdatasync changes no file metadata.
  static constexpr off_t kZeroAhead = 4 * 1024 * 1024;
  static constexpr std::size_t kZeroChunk = 1024 * 1024;
  bool zero_ahead_failed_ = false;

  std::filesystem::path directory_, queue_dir_, corrupt_dir_;
  int queue_dir_fd_ = -1;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<SyncRequest> requests_;
  std::size_t last_group_size_ = 1;   // messages in the sync thread's previous group
  bool stopping_ = false;
  std::thread sync_thread_;
};

std::string encode_envelope(const SpoolEnvelope& envelope);
Result<SpoolEnvelope> decode_envelope(std::string_view json);

}  // namespace gatehouse::delivery
