// Maildir delivery. See maildir.hpp.
#include "delivery/maildir.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include "smtp/command.hpp"

namespace gatehouse::delivery {
namespace fs = std::filesystem;

namespace {
// A recipient becomes a directory name: lower-cased, with path separators and dots at the start
// neutralised so that no address can escape the Maildir root.
std::string folder_name(const std::string& recipient) {
  std::string name = smtp::to_lower_ascii(recipient);
  for (auto& c : name)
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 32) c = '_';
  if (name.empty() || name[0] == '.') name.insert(0, "_");
  return name;
}
}  // namespace

Result<fs::path> deliver_to_maildir(const fs::path& directory, const std::string& recipient, const std::string& message) {
  static std::atomic<unsigned long> counter{0};
  fs::path box = directory / folder_name(recipient);
  std::error_code ec;
  for (const char* sub : {"tmp", "new", "cur"}) {
    fs::create_directories(box / sub, ec);
    if (ec) return Error{fmt::format("maildir {}: {}", (box / sub).string(), ec.message())};
  }
  auto now = std::chrono::system_clock::now().time_since_epoch();
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  std::string unique = fmt::format("{}.M{}P{}Q{}.{}", std::chrono::duration_cast<std::chrono::seconds>(now).count(),
                                   std::chrono::duration_cast<std::chrono::microseconds>(now).count() % 1000000,
                                   ::getpid(), counter.fetch_add(1), host);
  fs::path tmp = box / "tmp" / unique;
  fs::path final_path = box / "new" / unique;
  std::string content = "Delivered-To: " + recipient + "\r\n" + message;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Error{fmt::format("maildir {}: {}", tmp.string(), std::strerror(errno))};
  std::string_view rest = content;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Error{fmt::format("maildir write {}: {}", tmp.string(), std::strerror(err))};
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error{fmt::format("maildir fsync {}: {}", tmp.string(), std::strerror(err))};
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0)
    return Error{fmt::format("maildir rename {}: {}", final_path.string(), std::strerror(errno))};
  int dir = ::open((box / "new").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return final_path;
}

}  // namespace gatehouse::delivery
