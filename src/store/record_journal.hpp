// The store's record journal: log rows (and their compressed message copies) appended to a plain
// file before the SMTP reply is given, so that the reply need not wait for an SQLite commit.
//
// The promise it keeps is the one the store made before: a transaction whose ID the client was
// given survives a crash of the process (kill -9) in the log, with its stored copy. A write(2) to
// the journal survives that as surely as a commit in WAL mode with synchronous = NORMAL does; the
// writer thread then commits rows in large batches (bench/README.md: a commit per session cost
// the writer twice the CPU), and a journal file is deleted once every row in it is committed.
// At start the store commits what a previous run left in the journal (rows already in the log
// are skipped) before it takes new writes.
//
// Files: <database>-records-<n>, one frame per row:
//   "GHREC1 <JSON length> <body length, -1 for none>\n" <JSON (record_json.hpp)> <body> "\n"
// A frame cut short (the process died inside write(2), before any reply) ends the file's replay.
// A file is deleted once a newer one takes the rows and all of its rows are committed; the
// newest is emptied whenever all of its rows are, so a quiet gateway's journal holds no old rows.
// <database>-records.lock (flock) is held by the one process that journals: the daemon.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "store/store.hpp"

namespace gatehouse {

struct JournalEntry {
  TransactionRecord record;
  std::optional<std::string> compressed_body;   // nullopt: keep whatever body is stored
};

// One frame; decode_journal_frames reads as many whole frames as `data` holds, and says in
// `torn` how many bytes at the end were not a whole frame.
std::string encode_journal_frame(const TransactionRecord& record, const std::optional<std::string>& compressed_body);
struct DecodedFrames {
  std::vector<JournalEntry> entries;
  std::size_t torn = 0;
};
DecodedFrames decode_journal_frames(std::string_view data);

class RecordJournal {
 public:
  // Takes the journal's lock; an error when another process holds it (a running daemon) or the
  // directory cannot be used. The files a previous run left become leftovers().
  // `wait_for_lock`: the daemon waits a few seconds for a command-line process's replay.
  static Result<std::unique_ptr<RecordJournal>> open(const std::string& database_path, bool wait_for_lock);
  ~RecordJournal();   // deletes the journal files whose rows are all committed; releases the lock
  RecordJournal(const RecordJournal&) = delete;
  RecordJournal& operator=(const RecordJournal&) = delete;

  // What a previous run left, oldest first (torn ends are logged and skipped).
  std::vector<JournalEntry> leftovers();
  // Deletes the leftover files, once their rows are committed.
  void discard_leftovers();

  // Appends one row; returns the number of the file it went to (for committed()).
  Result<std::uint64_t> append(const TransactionRecord& record, const std::optional<std::string>& compressed_body);
  // One row appended to `file` is committed in SQLite.
  void committed(std::uint64_t file);

  // Releases the lock (a process that only replayed the leftovers); append() must not follow.
  void unlock();

 private:
  RecordJournal(std::string prefix, int lock_fd, std::vector<std::uint64_t> leftover_files);
  Status open_file(std::uint64_t number);
  void remove_finished();   // with mutex_ held
  std::string path_of(std::uint64_t number) const;

  std::string prefix_;          // "<database>-records-"
  int lock_fd_ = -1;
  std::vector<std::uint64_t> leftover_files_;
  mutable std::mutex mutex_;
  struct File {
    std::size_t outstanding = 0;   // rows appended, not yet committed
  };
  std::map<std::uint64_t, File> files_;
  std::uint64_t current_ = 0;
  int current_fd_ = -1;
  off_t current_size_ = 0;
  static constexpr off_t kFileSize = 8 * 1024 * 1024;   // a new file after this much
};

}  // namespace gatehouse
