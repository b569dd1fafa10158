// The durable spool with group commit. See spool.hpp.
#include "delivery/spool.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <algorithm>
#include <cerrno>
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
    : directory_(std::move(directory)), queue_dir_(directory_ / "queue"), corrupt_dir_(directory_ / "corrupt") {}

Spool::~Spool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (queue_dir_fd_ >= 0) ::close(queue_dir_fd_);
}

Status Spool::open() {
  std::error_code ec;
  fs::create_directories(queue_dir_, ec);
  if (ec) return Error{fmt::format("cannot create spool {}: {}", queue_dir_.string(), ec.message())};
  fs::create_directories(corrupt_dir_, ec);
  queue_dir_fd_ = ::open(queue_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (queue_dir_fd_ < 0) return Error{fmt::format("cannot open spool {}: {}", queue_dir_.string(), std::strerror(errno))};
  sync_thread_ = std::thread([this] { sync_loop(); });
  return Ok{};
}

fs::path Spool::path_of(const std::string& id) const { return queue_dir_ / id; }

bool Spool::contains(const std::string& id) const { return fs::exists(path_of(id)); }

Result<int> Spool::write_file(const SpoolEnvelope& envelope, const std::string& message) {
  std::string json_text = encode_envelope(envelope);
  std::string head = fmt::format("GHSPOOL1 {}\n{}\n", json_text.size(), json_text);
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
      batch.swap(requests_);
    }
    // One group: every file's data, then the directory entries of all of them at once.
    std::vector<Status> results;
    results.reserve(batch.size());
    for (auto& request : batch) {
      if (::fdatasync(request.fd) != 0)
        results.push_back(Error{fmt::format("spool fdatasync: {}", std::strerror(errno))});
      else
        results.push_back(Ok{});
      ::close(request.fd);
    }
    bool dir_ok = ::fsync(queue_dir_fd_) == 0;
    std::string dir_error = dir_ok ? "" : std::strerror(errno);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!dir_ok && results[i]) results[i] = Error{"spool directory fsync: " + dir_error};
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
  auto fd = write_file(envelope, message);
  if (!fd) co_return fd.error();
  auto executor = co_await boost::asio::this_coro::executor;
  // Completion signature carries the error text ("" = durable).
  std::string error = co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(std::string)>(
      [this, executor, fd = *fd](auto handler) {
        // The completion handler *is* the suspended coroutine: it must be moved exactly once, into
        // the function posted to the coroutine's executor, and never touched by the sync thread
        // afterwards (a shared copy destroyed there would race with the resumed coroutine).
        auto slot = std::make_shared<std::optional<decltype(handler)>>(std::move(handler));
        {
          std::lock_guard lock(mutex_);
          requests_.push_back({fd, [slot, executor](Status status) {
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
    requests_.push_back({*fd, [promise](Status status) { promise->set_value(status ? "" : status.error().message); }});
  }
  wake_.notify_one();
  return status_from(future.get());
}

Status Spool::update(const SpoolEnvelope& envelope) {
  auto loaded = load(envelope.id);
  if (!loaded) return loaded.error();
  return store_blocking(envelope, loaded->second);
}

void Spool::remove(const std::string& id) {
  std::error_code ec;
  fs::remove(path_of(id), ec);
}

Result<std::pair<SpoolEnvelope, std::string>> Spool::load(const std::string& id) {
  std::ifstream in(path_of(id), std::ios::binary);
  if (!in) return Error{"no spool file for " + id};
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (content.rfind("GHSPOOL1 ", 0) != 0) return Error{"spool file " + id + " has no header"};
  auto nl = content.find('\n');
  if (nl == std::string::npos) return Error{"spool file " + id + " is truncated"};
  std::size_t json_len = std::strtoull(content.c_str() + 9, nullptr, 10);
  if (nl + 1 + json_len + 1 > content.size()) return Error{"spool file " + id + " is truncated"};
  auto envelope = decode_envelope(std::string_view(content).substr(nl + 1, json_len));
  if (!envelope) return Error{"spool file " + id + ": " + envelope.error().message};
  std::size_t body_start = nl + 1 + json_len + 1;
  auto trailer_pos = content.rfind("\nGHEND ");
  if (trailer_pos == std::string::npos || trailer_pos < body_start || content.back() != '\n')
    return Error{"spool file " + id + " is incomplete (no trailer)"};
  std::size_t declared = std::strtoull(content.c_str() + trailer_pos + 7, nullptr, 10);
  if (declared != trailer_pos - body_start) return Error{"spool file " + id + " has a wrong length"};
  return std::pair{std::move(*envelope), content.substr(body_start, declared)};
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
