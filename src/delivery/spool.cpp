// The durable spool with group commit. See spool.hpp.
#include "delivery/spool.hpp"

#include <pthread.h>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <future>
#include <optional>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/id.hpp"

namespace gatehouse::delivery {

namespace {
constexpr auto kGatherWindow = std::chrono::microseconds(500);
constexpr std::size_t kGatherRequests = 16;

// pwrite(2) of all of `bytes` at `offset`.
Status write_at(int fd, std::string_view bytes, off_t offset) {
  while (!bytes.empty()) {
    ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{std::strerror(errno)};
    bytes.remove_prefix(static_cast<std::size_t>(n));
    offset += n;
  }
  return Ok{};
}
}  // namespace

namespace json = boost::json;
namespace fs = std::filesystem;

std::string encode_envelope(const SpoolEnvelope& e) {
  json::object o;
  o["id"] = e.id;
  o["mail_from"] = e.mail_from;
  json::array rcpts;
  for (auto& r : e.recipients) rcpts.emplace_back(r);
  o["recipients"] = std::move(rcpts);
  o["backend"] = e.backend;
  o["domain"] = e.domain;
  o["direction"] = e.direction;
  o["queued_at_ms"] = e.queued_at_ms;
  o["attempts"] = e.attempts;
  return json::serialize(o);
}

Result<SpoolEnvelope> decode_envelope(std::string_view text) {
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) return Error{"spool envelope is not JSON"};
  try {
    auto& o = value.as_object();
    SpoolEnvelope e;
    e.id = json::value_to<std::string>(o.at("id"));
    e.mail_from = json::value_to<std::string>(o.at("mail_from"));
    for (auto& r : o.at("recipients").as_array()) e.recipients.push_back(json::value_to<std::string>(r));
    e.backend = json::value_to<std::string>(o.at("backend"));
    e.domain = json::value_to<std::string>(o.at("domain"));
    e.direction = json::value_to<std::string>(o.at("direction"));
    e.queued_at_ms = o.at("queued_at_ms").to_number<std::int64_t>();
    e.attempts = static_cast<int>(o.at("attempts").to_number<std::int64_t>());
    return e;
  } catch (const std::exception& ex) {
    return Error{std::string("spool envelope incomplete: ") + ex.what()};
  }
}

Spool::Spool(fs::path directory)
    : directory_(std::move(directory)), queue_dir_(directory_ / "queue"), corrupt_dir_(directory_ / "corrupt") {
  journal_dir_ = directory_ / "journal";
}

Spool::~Spool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (queue_dir_fd_ >= 0) ::close(queue_dir_fd_);
  for (auto& [number, segment] : segments_)
    if (segment.fd >= 0) ::close(segment.fd);
}

Status Spool::open() {
  std::error_code ec;
  fs::create_directories(queue_dir_, ec);
  if (ec) return Error{fmt::format("cannot create spool {}: {}", queue_dir_.string(), ec.message())};
  fs::create_directories(corrupt_dir_, ec);
  queue_dir_fd_ = ::open(queue_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (queue_dir_fd_ < 0) return Error{fmt::format("cannot open spool {}: {}", queue_dir_.string(), std::strerror(errno))};
  sync_thread_ = std::thread([this] { sync_loop(); });
  pthread_setname_np(sync_thread_.native_handle(), "gatehouse-spool");   // for top -H, perf
  fs::create_directories(journal_dir_, ec);
  if (ec) return Error{fmt::format("cannot create spool {}: {}", journal_dir_.string(), ec.message())};
  if (auto recovered = recover_journal(); !recovered) return recovered;
  std::lock_guard lock(journal_mutex_);
  if (auto opened = open_segment(current_segment_ + 1); !opened) return opened;
  journal_enabled_ = true;
  return Ok{};
}

fs::path Spool::path_of(const std::string& id) const { return queue_dir_ / id; }

bool Spool::contains(const std::string& id) const {
  if (fs::exists(path_of(id))) return true;
  std::lock_guard lock(journal_mutex_);
  return journal_.count(id) > 0;
}

Result<int> Spool::write_file(const SpoolEnvelope& envelope, const std::string& message) {
  std::string json_text = encode_envelope(envelope);
  std::string head = fmt::format("GHSPOOL1 {} {}\n{}\n", json_text.size(), message.size(), json_text);
  std::string tail = fmt::format("\nGHEND {}\n", message.size());
  // Written under a temporary name and renamed, so a reader never sees half a file under the
  // final name; the rename becomes durable with the directory fsync of the group commit.
  fs::path tmp = queue_dir_ / ("." + envelope.id + ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error{fmt::format("spool create {}: {}", tmp.string(), std::strerror(errno))};
  auto write_all = [fd](std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  };
  if (!write_all(head) || !write_all(message) || !write_all(tail)) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Error{fmt::format("spool write {}: {}", tmp.string(), std::strerror(err))};
  }
  if (::rename(tmp.c_str(), path_of(envelope.id).c_str()) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Error{fmt::format("spool rename {}: {}", tmp.string(), std::strerror(err))};
  }
  return fd;
}

void Spool::sync_loop() {
  while (true) {
    std::deque<SyncRequest> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !requests_.empty(); });
      if (requests_.empty() && stopping_) return;
      // Under concurrent load (the last group had several messages) let as many gather again, for
      // at most kGatherWindow: one fdatasync costs the same for one message as for sixteen, and the
      // wait runs while the back-end receives the same message (gateway.cpp). A lone session's
      // message is synced at once.
      const std::size_t expected = std::min(kGatherRequests, last_group_size_);
      if (!stopping_ && requests_.size() < expected)
        wake_.wait_for(lock, kGatherWindow, [&] { return stopping_ || requests_.size() >= expected; });
      batch.swap(requests_);
      last_group_size_ = batch.size();
    }
    // One group: the journal segment(s) once each, every queue file's data, then the directory
    // entries of the queue files at once.
    std::vector<Status> results;
    results.reserve(batch.size());
    std::map<int, Status> journal_synced;
    bool any_file = false;
    for (auto& request : batch) {
      if (request.journal) {
        auto [it, first] = journal_synced.try_emplace(request.fd, Ok{});
        if (first) zero_ahead(request.fd);
        if (first && ::fdatasync(request.fd) != 0)
          it->second = Error{fmt::format("spool journal fdatasync: {}", std::strerror(errno))};
        results.push_back(it->second);
        continue;
      }
      any_file = true;
      if (::fdatasync(request.fd) != 0)
        results.push_back(Error{fmt::format("spool fdatasync: {}", std::strerror(errno))});
      else
        results.push_back(Ok{});
      ::close(request.fd);
    }
    bool dir_ok = !any_file || ::fsync(queue_dir_fd_) == 0;
    std::string dir_error = dir_ok ? "" : std::strerror(errno);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!dir_ok && !batch[i].journal && results[i]) results[i] = Error{"spool directory fsync: " + dir_error};
      batch[i].done(std::move(results[i]));
    }
  }
}

namespace {
Status status_from(const std::string& error) {
  if (error.empty()) return Ok{};
  return Error{error};
}
}  // namespace

boost::asio::awaitable<Status> Spool::store(const SpoolEnvelope& envelope, const std::string& message) {
  const bool journal = journal_enabled_;
  auto fd = journal ? append_journal(envelope, message) : write_file(envelope, message);
  if (!fd) co_return fd.error();
  auto executor = co_await boost::asio::this_coro::executor;
  // Completion signature carries the error text ("" = durable).
  std::string error = co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(std::string)>(
      [this, executor, journal, fd = *fd](auto handler) {
        // The completion handler *is* the suspended coroutine: it must be moved exactly once, into
        // the function posted to the coroutine's executor, and never touched by the sync thread
        // afterwards (a shared copy destroyed there would race with the resumed coroutine).
        auto slot = std::make_shared<std::optional<decltype(handler)>>(std::move(handler));
        {
          std::lock_guard lock(mutex_);
          requests_.push_back({fd, journal, [slot, executor](Status status) {
                                 std::string text = status ? "" : status.error().message;
                                 boost::asio::post(executor, [h = std::move(**slot), text]() mutable {
                                   std::move(h)(text);
                                 });
                                 slot->reset();
                               }});
        }
        wake_.notify_one();
      },
      boost::asio::use_awaitable);
  co_return status_from(error);
}

Status Spool::store_blocking(const SpoolEnvelope& envelope, const std::string& message) {
  auto fd = write_file(envelope, message);
  if (!fd) return fd.error();
  auto promise = std::make_shared<std::promise<std::string>>();
  auto future = promise->get_future();
  {
    std::lock_guard lock(mutex_);
    requests_.push_back({*fd, false, [promise](Status status) { promise->set_value(status ? "" : status.error().message); }});
  }
  wake_.notify_one();
  return status_from(future.get());
}

Status Spool::update(const SpoolEnvelope& envelope) {
  auto loaded = load(envelope.id);
  if (!loaded) return loaded.error();
  auto stored = store_blocking(envelope, loaded->second);
  if (!stored) return stored;
  std::lock_guard lock(journal_mutex_);
  mark_done(envelope.id);
  return Ok{};
}

Status Spool::hand_over(const std::string& id) {
  {
    std::lock_guard lock(journal_mutex_);
    if (!journal_.count(id)) return Ok{};  // already a queue file (or gone)
  }
  auto loaded = load(id);
  if (!loaded) return loaded.error();
  return update(loaded->first);
}

void Spool::remove(const std::string& id) {
  {
    // The common case, a message delivered live: only in the journal, no queue file to unlink.
    std::lock_guard lock(journal_mutex_);
    if (journal_.count(id)) {
      mark_done(id);
      return;
    }
  }
  std::error_code ec;
  fs::remove(path_of(id), ec);
}

namespace {
// Parses one record ("GHSPOOL1 <json length> <message length>\n" JSON "\n" message
// "\nGHEND <message length>\n") at the start of `content`; `consumed` is its length.
Result<std::pair<SpoolEnvelope, std::string>> parse_record(std::string_view content, const std::string& what,
                                                           std::size_t* consumed = nullptr) {
  if (content.rfind("GHSPOOL1 ", 0) != 0) return Error{what + " has no header"};
  auto nl = content.find('\n');
  if (nl == std::string_view::npos || nl > 64) return Error{what + " is truncated"};
  std::string header(content.substr(9, nl - 9));
  char* end = nullptr;
  std::size_t json_len = std::strtoull(header.c_str(), &end, 10);
  std::size_t message_len = std::strtoull(end, nullptr, 10);
  std::size_t body_start = nl + 1 + json_len + 1;
  std::string trailer = fmt::format("\nGHEND {}\n", message_len);
  if (body_start + message_len + trailer.size() > content.size()) return Error{what + " is incomplete (no trailer)"};
  if (content.substr(body_start + message_len, trailer.size()) != trailer) return Error{what + " has a wrong length"};
  auto envelope = decode_envelope(content.substr(nl + 1, json_len));
  if (!envelope) return Error{what + ": " + envelope.error().message};
  if (consumed) *consumed = body_start + message_len + trailer.size();
  return std::pair{std::move(*envelope), std::string(content.substr(body_start, message_len))};
}
}  // namespace

Result<std::pair<SpoolEnvelope, std::string>> Spool::load(const std::string& id) {
  std::ifstream in(path_of(id), std::ios::binary);
  if (!in) {
    JournalEntry entry;
    int fd = -1;
    {
      std::lock_guard lock(journal_mutex_);
      auto it = journal_.find(id);
      if (it == journal_.end()) return Error{"no spool file for " + id};
      entry = it->second;
      fd = segments_[entry.segment].fd;
      std::string record(entry.length, '\0');
      // Read under the lock: the segment cannot be closed meanwhile.
      if (::pread(fd, record.data(), record.size(), entry.offset) != static_cast<ssize_t>(record.size()))
        return Error{"spool journal read for " + id + ": " + std::strerror(errno)};
      return parse_record(record, "spool journal record " + id);
    }
  }
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t consumed = 0;
  auto parsed = parse_record(content, "spool file " + id, &consumed);
  if (parsed && consumed != content.size()) return Error{"spool file " + id + " has trailing bytes"};
  return parsed;
}

Result<int> Spool::append_journal(const SpoolEnvelope& envelope, const std::string& message) {
  std::string json_text = encode_envelope(envelope);
  std::string record = fmt::format("GHSPOOL1 {} {}\n{}\n", json_text.size(), message.size(), json_text);
  record.reserve(record.size() + message.size() + 32);
  record += message;
  record += fmt::format("\nGHEND {}\n", message.size());
  std::lock_guard lock(journal_mutex_);
  if (segments_[current_segment_].size > kSegmentSize) {
    std::uint64_t previous = current_segment_;
    if (auto opened = open_segment(current_segment_ + 1); !opened) return opened.error();
    auto& old = segments_[previous];
    if (old.live == 0) {
      ::close(old.fd);
      ::unlink((journal_dir_ / fmt::format("{:012}.log", previous)).c_str());
      segments_.erase(previous);
    }
  }
  auto& segment = segments_[current_segment_];
  const off_t offset = segment.size;
  if (auto written = write_at(segment.fd, record, offset); !written) {
    // Whatever part was written is an incomplete record: recovery sets it aside. Start afresh.
    if (auto reopened = open_segment(current_segment_ + 1); !reopened)
      spdlog::error("spool: cannot start a new journal segment after a failed write: {}", reopened.error().message);
    return Error{"spool journal write: " + written.error().message};
  }
  segment.size += static_cast<off_t>(record.size());
  segment.live += 1;
  journal_[envelope.id] = JournalEntry{current_segment_, offset, record.size()};
  return segment.fd;
}

Status Spool::open_segment(std::uint64_t number) {
  fs::path path = journal_dir_ / fmt::format("{:012}.log", number);
  // Not O_APPEND: records go to the logical end (Segment::size), before the zeros written ahead.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error{fmt::format("spool journal {}: {}", path.string(), std::strerror(errno))};
  // The new segment's name must survive a crash before any record in it is acknowledged.
  int dir = ::open(journal_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  const off_t end = ::lseek(fd, 0, SEEK_END);
  segments_[number] = Segment{fd, 0, end, end};
  current_segment_ = number;
  return Ok{};
}

void Spool::zero_ahead(int fd) {
  // Called by the sync thread just before it syncs the segment: the zeros become durable with the
  // same fdatasync, which pays once for their allocation instead of every later sync paying for
  // a grown file (measured: 100-138 us of CPU per fdatasync of an appended file, 63-66 us when the
  // bytes are overwritten in place). Under the journal lock, so no record is written meanwhile and
  // the zeros start at or after the logical end.
  static const std::string zeros(kZeroChunk, '\0');
  std::lock_guard lock(journal_mutex_);
  auto it = segments_.find(current_segment_);
  if (it == segments_.end() || it->second.fd != fd || zero_ahead_failed_) return;
  Segment& segment = it->second;
  if (segment.zeroed >= segment.size + kZeroAhead / 2 || segment.zeroed >= kSegmentSize) return;
  off_t at = std::max(segment.zeroed, segment.size);
  while (at < segment.size + kZeroAhead && at < kSegmentSize) {
    if (auto written = write_at(fd, zeros, at); !written) {
      // Not a failure of any message (the records extend the file as before): stop trying.
      spdlog::warn("spool: cannot write ahead in journal segment {} ({}); continuing without", current_segment_,
                   written.error().message);
      zero_ahead_failed_ = true;
      return;
    }
    at += static_cast<off_t>(zeros.size());
  }
  segment.zeroed = at;
}

void Spool::mark_done(const std::string& id) {
  auto it = journal_.find(id);
  if (it == journal_.end()) return;
  std::uint64_t number = it->second.segment;
  journal_.erase(it);
  auto& segment = segments_[number];
  std::string mark = "GHDONE " + id + "\n";
  if (write_at(segment.fd, mark, segment.size)) segment.size += static_cast<off_t>(mark.size());
  if (segment.live > 0) --segment.live;
  if (segment.live == 0 && number != current_segment_) {
    ::close(segment.fd);
    ::unlink((journal_dir_ / fmt::format("{:012}.log", number)).c_str());
    segments_.erase(number);
  }
}

Status Spool::recover_journal() {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(journal_dir_, ec))
    if (entry.path().extension() == ".log") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::size_t moved = 0;
  for (auto& file : files) {
    std::uint64_t number = std::strtoull(file.stem().c_str(), nullptr, 10);
    current_segment_ = std::max(current_segment_, number);
    std::ifstream in(file, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::map<std::string, std::pair<SpoolEnvelope, std::string>> live;
    std::size_t pos = 0;
    while (pos < content.size()) {
      std::string_view rest = std::string_view(content).substr(pos);
      // The zeros written ahead (zero_ahead): the logical end. Nothing acknowledged lies beyond
      // it, since every fdatasync also made all earlier bytes durable.
      if (rest.front() == '\0') break;
      if (rest.rfind("GHDONE ", 0) == 0) {
        auto nl = rest.find('\n');
        if (nl == std::string_view::npos) break;
        live.erase(std::string(rest.substr(7, nl - 7)));
        pos += nl + 1;
        continue;
      }
      std::size_t consumed = 0;
      auto record = parse_record(rest, file.filename().string(), &consumed);
      if (!record) {
        // An incomplete last record was never acknowledged; keep its bytes for inspection.
        fs::path aside = corrupt_dir_ / (file.filename().string() + ".tail");
        if (auto last = rest.find_last_not_of('\0'); last != std::string_view::npos) rest = rest.substr(0, last + 1);
        std::ofstream(aside, std::ios::binary).write(rest.data(), static_cast<std::streamsize>(rest.size()));
        spdlog::warn("spool: {} ends with an incomplete record ({}); its bytes are in {}", file.string(),
                     record.error().message, aside.string());
        break;
      }
      std::string id = record->first.id;
      live[id] = std::move(*record);
      pos += consumed;
    }
    for (auto& [id, entry] : live) {
      if (auto stored = store_blocking(entry.first, entry.second); !stored)
        return Error{fmt::format("spool recovery of {} from {}: {}", id, file.string(), stored.error().message)};
      ++moved;
    }
    fs::remove(file, ec);
  }
  if (moved) spdlog::info("spool: {} message(s) from the journal moved to the queue", moved);
  return Ok{};
}

std::vector<std::string> Spool::list() {
  std::vector<std::string> ids;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(queue_dir_, ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (!is_transaction_id(name)) continue;
    ids.push_back(name);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

void Spool::set_aside(const std::string& id) {
  std::error_code ec;
  fs::rename(path_of(id), corrupt_dir_ / id, ec);
  if (ec) spdlog::error("spool: cannot move {} aside: {}", id, ec.message());
  else spdlog::warn("spool: {} is incomplete (never acknowledged); moved to {}", id, (corrupt_dir_ / id).string());
}

}  // namespace gatehouse::delivery
