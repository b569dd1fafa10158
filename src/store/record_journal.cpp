// See record_journal.hpp.
#include "store/record_journal.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "store/record_json.hpp"

namespace gatehouse {
namespace {

constexpr std::string_view kMagic = "GHREC1 ";
constexpr auto kLockWait = std::chrono::seconds(5);   // another process's replay at its start

std::string errno_text() { return std::strerror(errno); }

// Parses a decimal number (with an optional leading '-') that fills `text` exactly.
bool parse_number(std::string_view text, long long& out) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::string encode_journal_frame(const TransactionRecord& record, const std::optional<std::string>& compressed_body) {
  const std::string json = boost::json::serialize(record_to_json(record, false));
  const long long body_length = compressed_body ? static_cast<long long>(compressed_body->size()) : -1;
  std::string frame;
  frame.reserve(32 + json.size() + (compressed_body ? compressed_body->size() : 0));
  frame += kMagic;
  frame += std::to_string(json.size());
  frame += ' ';
  frame += std::to_string(body_length);
  frame += '\n';
  frame += json;
  if (compressed_body) frame += *compressed_body;
  frame += '\n';
  return frame;
}

DecodedFrames decode_journal_frames(std::string_view data) {
  DecodedFrames decoded;
  std::size_t at = 0;
  while (at < data.size()) {
    const std::string_view rest = data.substr(at);
    const auto line_end = rest.find('\n');
    if (rest.substr(0, kMagic.size()) != kMagic || line_end == std::string_view::npos || line_end > 64) break;
    const std::string_view lengths = rest.substr(kMagic.size(), line_end - kMagic.size());
    const auto space = lengths.find(' ');
    long long json_length = 0, body_length = 0;
    if (space == std::string_view::npos || !parse_number(lengths.substr(0, space), json_length) ||
        !parse_number(lengths.substr(space + 1), body_length) || json_length < 2 || body_length < -1)
      break;
    const std::size_t body_size = body_length < 0 ? 0 : static_cast<std::size_t>(body_length);
    const std::size_t frame_size = line_end + 1 + static_cast<std::size_t>(json_length) + body_size + 1;
    if (frame_size > rest.size() || rest[frame_size - 1] != '\n') break;
    const std::string_view json = rest.substr(line_end + 1, static_cast<std::size_t>(json_length));
    boost::system::error_code error;
    boost::json::value value = boost::json::parse(json, error);
    if (error || !value.is_object()) break;
    auto record = record_from_json(value.as_object());
    if (!record) break;
    JournalEntry entry{std::move(*record), std::nullopt};
    if (body_length >= 0) entry.compressed_body = std::string(rest.substr(line_end + 1 + json.size(), body_size));
    decoded.entries.push_back(std::move(entry));
    at += frame_size;
  }
  decoded.torn = data.size() - at;
  return decoded;
}

Result<std::unique_ptr<RecordJournal>> RecordJournal::open(const std::string& database_path, bool wait_for_lock) {
  const std::string lock_path = database_path + "-records.lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Error{fmt::format("cannot open {}: {}", lock_path, errno_text())};
  // A command-line process that replays leftovers holds the lock for a moment: wait for it, a little.
  const auto give_up = std::chrono::steady_clock::now() + kLockWait;
  while (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      Error error{fmt::format("cannot lock {}: {}", lock_path, errno_text())};
      ::close(lock_fd);
      return error;
    }
    if (!wait_for_lock || std::chrono::steady_clock::now() >= give_up) {
      ::close(lock_fd);
      return Error{fmt::format("{} is locked by another process (a running gatehouse serve)", lock_path)};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::filesystem::path database(database_path);
  const std::filesystem::path directory = database.has_parent_path() ? database.parent_path() : ".";
  const std::string prefix = database.filename().string() + "-records-";
  std::vector<std::uint64_t> leftovers;
  std::error_code error;
  for (const auto& item : std::filesystem::directory_iterator(directory, error)) {
    const std::string name = item.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    long long number = 0;
    if (parse_number(std::string_view(name).substr(prefix.size()), number) && number >= 0)
      leftovers.push_back(static_cast<std::uint64_t>(number));
  }
  if (error) {
    ::close(lock_fd);
    return Error{fmt::format("cannot list {}: {}", directory.string(), error.message())};
  }
  std::sort(leftovers.begin(), leftovers.end());
  return std::unique_ptr<RecordJournal>(new RecordJournal(database_path + "-records-", lock_fd, std::move(leftovers)));
}

RecordJournal::RecordJournal(std::string prefix, int lock_fd, std::vector<std::uint64_t> leftover_files)
    : prefix_(std::move(prefix)), lock_fd_(lock_fd), leftover_files_(std::move(leftover_files)) {
  current_ = leftover_files_.empty() ? 0 : leftover_files_.back() + 1;
}

RecordJournal::~RecordJournal() {
  {
    std::lock_guard lock(mutex_);
    if (current_fd_ >= 0) ::close(current_fd_);
    current_fd_ = -1;
    for (auto it = files_.begin(); it != files_.end();) {
      if (it->second.outstanding == 0) {
        ::unlink(path_of(it->first).c_str());
        it = files_.erase(it);
      } else {
        ++it;   // rows never committed: the next start commits them
      }
    }
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);   // releases the flock
}

std::string RecordJournal::path_of(std::uint64_t number) const { return prefix_ + std::to_string(number); }

std::vector<JournalEntry> RecordJournal::leftovers() {
  std::vector<JournalEntry> entries;
  for (auto number : leftover_files_) {
    const std::string path = path_of(number);
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      spdlog::error("record journal {}: cannot open: {}", path, errno_text());
      continue;
    }
    const std::string data{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    auto decoded = decode_journal_frames(data);
    if (decoded.torn > 0)
      spdlog::warn("record journal {}: the last {} bytes are not a whole row (cut short by a crash before its reply); "
                   "ignored",
                   path, decoded.torn);
    for (auto& entry : decoded.entries) entries.push_back(std::move(entry));
  }
  return entries;
}

void RecordJournal::discard_leftovers() {
  for (auto number : leftover_files_) ::unlink(path_of(number).c_str());
  leftover_files_.clear();
}

Status RecordJournal::open_file(std::uint64_t number) {
  const std::string path = path_of(number);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Error{fmt::format("cannot create {}: {}", path, errno_text())};
  if (current_fd_ >= 0) ::close(current_fd_);
  current_fd_ = fd;
  current_ = number;
  current_size_ = 0;
  files_[number];
  return Ok{};
}

Result<std::uint64_t> RecordJournal::append(const TransactionRecord& record,
                                            const std::optional<std::string>& compressed_body) {
  const std::string frame = encode_journal_frame(record, compressed_body);
  std::lock_guard lock(mutex_);
  if (current_fd_ < 0 || current_size_ >= kFileSize) {
    const std::uint64_t next = current_fd_ < 0 && !files_.contains(current_) ? current_ : current_ + 1;
    if (auto opened = open_file(next); !opened) return opened.error();
    remove_finished();
  }
  if (!write_all(current_fd_, frame)) {
    Error error{fmt::format("cannot write {}: {}", path_of(current_), errno_text())};
    // A part of the frame may be in the file: cut it off, or start a new file for the next row.
    if (::ftruncate(current_fd_, current_size_) != 0) {
      ::close(current_fd_);
      current_fd_ = -1;
      ++current_;
    }
    return error;
  }
  current_size_ += static_cast<off_t>(frame.size());
  ++files_[current_].outstanding;
  return current_;
}

void RecordJournal::committed(std::uint64_t file) {
  std::lock_guard lock(mutex_);
  auto it = files_.find(file);
  if (it == files_.end() || it->second.outstanding == 0) return;
  --it->second.outstanding;
  if (it->second.outstanding > 0) return;
  if (file != current_) {
    remove_finished();
  } else if (current_fd_ >= 0 && current_size_ > 0) {
    // Every row of the current file is committed: empty it, so that a quiet gateway's journal
    // never holds old rows (a crash would otherwise bring back rows pruned since).
    if (::ftruncate(current_fd_, 0) == 0) current_size_ = 0;
  }
}

void RecordJournal::remove_finished() {
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->first != current_ && it->second.outstanding == 0) {
      if (::unlink(path_of(it->first).c_str()) != 0 && errno != ENOENT)
        spdlog::warn("record journal {}: cannot delete: {}", path_of(it->first), errno_text());
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
}

void RecordJournal::unlock() {
  std::lock_guard lock(mutex_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

}  // namespace gatehouse
