// Asynchronous DNS resolver on c-ares for Boost.Asio coroutines (see resolver.hpp).
//
// Queries are plain RFC 1035 queries (class IN; types A, AAAA per RFC 3596, MX, TXT, PTR) sent with
// ares_query, without search domains or /etc/hosts, and parsed with c-ares' raw reply parsers.
// Reverse names are built per RFC 1034 §5.2.1 (in-addr.arpa) and RFC 3596 §2.5 (ip6.arpa nibbles).
//
// Threading. One c-ares channel per Resolver, used only by a private thread that polls the channel's
// sockets with poll(2). Callers hand queries to that thread through a mutex-guarded queue and an
// eventfd wake-up; answers travel back by posting the awaiting coroutine's completion handler to its
// own executor, so nothing ever runs on the caller's io_context threads except the resumption. A
// dedicated level-triggered poll loop is used rather than Asio descriptors because c-ares expects
// level-triggered readiness (it may leave data queued between calls) while Asio's epoll reactor is
// edge-triggered, and Boost 1.81's descriptor wait_write does not arm EPOLLOUT (needed for the TCP
// fallback on truncated answers).
#include "dns/resolver.hpp"
#include "common/metrics.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

namespace gatehouse::dns {

namespace asio = boost::asio;

namespace {

// What one query produced: the c-ares status and, on ARES_SUCCESS, the whole response message.
struct RawReply {
  int ares_status = ARES_EDESTRUCTION;
  std::vector<unsigned char> message;
};

using ReplyHandler = asio::any_completion_handler<void(RawReply)>;

// c-ares needs ares_library_init once per process before the first channel (it is a no-op on Linux
// today, but the contract stands). Never cleaned up: channels may live until exit.
void ensure_cares_initialised() {
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  if (status != ARES_SUCCESS)
    throw std::runtime_error(std::string("c-ares initialisation failed: ") + ares_strerror(status));
}

// A parsed textual IP address: family and network-order bytes.
struct BinaryAddress {
  int family = AF_UNSPEC;
  std::array<unsigned char, 16> bytes{};
  std::size_t size = 0;
};

std::optional<BinaryAddress> parse_address(std::string_view ip) {
  std::string text(ip);
  if (text.find('\0') != std::string::npos) return std::nullopt;
  BinaryAddress address;
  if (inet_pton(AF_INET, text.c_str(), address.bytes.data()) == 1) {
    address.family = AF_INET;
    address.size = 4;
    return address;
  }
  // Accept the bracketed form SMTP uses for literals and logs, "[2001:db8::1]".
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (inet_pton(AF_INET6, text.c_str(), address.bytes.data()) != 1) return std::nullopt;
  static constexpr unsigned char v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(address.bytes.data(), v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
    // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; their PTR lives in in-addr.arpa.
    std::memmove(address.bytes.data(), address.bytes.data() + 12, 4);
    address.family = AF_INET;
    address.size = 4;
    return address;
  }
  address.family = AF_INET6;
  address.size = 16;
  return address;
}

std::string reverse_name_of(const BinaryAddress& address) {
  std::string name;
  if (address.family == AF_INET) {
    // RFC 1034 §5.2.1: octets in reverse order under in-addr.arpa.
    for (int i = 3; i >= 0; --i) {
      name += std::to_string(address.bytes[i]);
      name += '.';
    }
    name += "in-addr.arpa";
  } else {
    // RFC 3596 §2.5: nibbles, least significant first, under ip6.arpa.
    static constexpr char hex_digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
      name += hex_digits[address.bytes[i] & 0x0f];
      name += '.';
      name += hex_digits[address.bytes[i] >> 4];
      name += '.';
    }
    name += "ip6.arpa";
  }
  return name;
}

std::string_view type_name(int type) {
  switch (type) {
    case ns_t_a: return "A";
    case ns_t_aaaa: return "AAAA";
    case ns_t_mx: return "MX";
    case ns_t_txt: return "TXT";
    case ns_t_ptr: return "PTR";
    default: return "?";
  }
}

template <class T>
DnsAnswer<T> failure(DnsStatus status, std::string message) {
  DnsAnswer<T> answer;
  answer.status = status;
  answer.error = std::move(message);
  return answer;
}

// Maps a c-ares status (from the query or from a parser) to the answer's status and a message such
// as "mail.example.test MX: Domain name not found".
template <class T>
DnsAnswer<T> failure_from_ares(int ares_status, std::string_view name, int type) {
  DnsStatus status = DnsStatus::error;
  switch (ares_status) {
    case ARES_ENOTFOUND: status = DnsStatus::nxdomain; break;
    case ARES_ENODATA: status = DnsStatus::nodata; break;
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ECONNREFUSED: status = DnsStatus::servfail; break;
    case ARES_ETIMEOUT: status = DnsStatus::timeout; break;
    default: break;
  }
  // Failed look-ups (not answers such as NXDOMAIN) are counted for monitoring (GET /metrics).
  if (status != DnsStatus::nxdomain && status != DnsStatus::nodata && ares_status != ARES_EDESTRUCTION &&
      ares_status != ARES_ECANCELLED)
    metrics::gateway().dns_errors.with({to_string(status)}).inc();
  std::string message(name);
  message += ' ';
  message += type_name(type);
  message += ": ";
  if (ares_status == ARES_EDESTRUCTION || ares_status == ARES_ECANCELLED)
    message += "resolver shut down";
  else
    message += ares_strerror(ares_status);
  return failure<T>(status, std::move(message));
}

// Everything but the final dot: c-ares parsers already return names without it, but a zone can
// still hold the root or a doubled dot in odd data.
std::string without_trailing_dot(std::string name) {
  if (name.size() > 1 && name.back() == '.') name.pop_back();
  return name;
}

struct HostentDeleter {
  void operator()(hostent* host) const { ares_free_hostent(host); }
};
using HostentPtr = std::unique_ptr<hostent, HostentDeleter>;

struct AresDataDeleter {
  void operator()(void* data) const { ares_free_data(data); }
};

DnsAnswer<std::string> parse_ptr(const RawReply& reply, const std::string& name,
                                 const BinaryAddress& address) {
  hostent* raw_host = nullptr;
  int status =
      ares_parse_ptr_reply(reply.message.data(), static_cast<int>(reply.message.size()), address.bytes.data(),
                           static_cast<int>(address.size), address.family, &raw_host);
  HostentPtr host(raw_host);
  if (status != ARES_SUCCESS) return failure_from_ares<std::string>(status, name, ns_t_ptr);
  DnsAnswer<std::string> answer;
  answer.status = DnsStatus::ok;
  // c-ares lists every PTR target in h_aliases (h_name is one of them); fall back to h_name.
  for (char** alias = host->h_aliases; alias && *alias; ++alias)
    answer.records.push_back(without_trailing_dot(*alias));
  if (answer.records.empty() && host->h_name) answer.records.push_back(without_trailing_dot(host->h_name));
  if (answer.records.empty()) return failure_from_ares<std::string>(ARES_ENODATA, name, ns_t_ptr);
  return answer;
}

DnsAnswer<std::string> parse_addresses(const RawReply& reply, const std::string& name, int type) {
  hostent* raw_host = nullptr;
  const int length = static_cast<int>(reply.message.size());
  int status = type == ns_t_a
                   ? ares_parse_a_reply(reply.message.data(), length, &raw_host, nullptr, nullptr)
                   : ares_parse_aaaa_reply(reply.message.data(), length, &raw_host, nullptr, nullptr);
  HostentPtr host(raw_host);
  if (status != ARES_SUCCESS) return failure_from_ares<std::string>(status, name, type);
  DnsAnswer<std::string> answer;
  answer.status = DnsStatus::ok;
  const int family = type == ns_t_a ? AF_INET : AF_INET6;
  for (char** address = host->h_addr_list; address && *address; ++address) {
    char text[INET6_ADDRSTRLEN] = {};
    if (inet_ntop(family, *address, text, sizeof text)) answer.records.emplace_back(text);
  }
  if (answer.records.empty()) return failure_from_ares<std::string>(ARES_ENODATA, name, type);
  return answer;
}

DnsAnswer<MxRecord> parse_mx(const RawReply& reply, const std::string& name) {
  ares_mx_reply* raw_list = nullptr;
  int status = ares_parse_mx_reply(reply.message.data(), static_cast<int>(reply.message.size()), &raw_list);
  std::unique_ptr<ares_mx_reply, AresDataDeleter> list(raw_list);
  if (status != ARES_SUCCESS) return failure_from_ares<MxRecord>(status, name, ns_t_mx);
  DnsAnswer<MxRecord> answer;
  answer.status = DnsStatus::ok;
  for (const ares_mx_reply* mx = list.get(); mx; mx = mx->next)
    answer.records.push_back(MxRecord{mx->priority, without_trailing_dot(mx->host ? mx->host : "")});
  if (answer.records.empty()) return failure_from_ares<MxRecord>(ARES_ENODATA, name, ns_t_mx);
  std::stable_sort(
      answer.records.begin(), answer.records.end(),
      [](const MxRecord& left, const MxRecord& right) { return left.preference < right.preference; });
  return answer;
}

DnsAnswer<std::string> parse_txt(const RawReply& reply, const std::string& name) {
  // The _ext parser marks where each record starts, so multi-string records can be rejoined.
  ares_txt_ext* raw_list = nullptr;
  int status =
      ares_parse_txt_reply_ext(reply.message.data(), static_cast<int>(reply.message.size()), &raw_list);
  std::unique_ptr<ares_txt_ext, AresDataDeleter> list(raw_list);
  if (status != ARES_SUCCESS) return failure_from_ares<std::string>(status, name, ns_t_txt);
  DnsAnswer<std::string> answer;
  answer.status = DnsStatus::ok;
  for (const ares_txt_ext* chunk = list.get(); chunk; chunk = chunk->next) {
    if (chunk->record_start || answer.records.empty()) answer.records.emplace_back();
    answer.records.back().append(reinterpret_cast<const char*>(chunk->txt), chunk->length);
  }
  if (answer.records.empty()) return failure_from_ares<std::string>(ARES_ENODATA, name, ns_t_txt);
  return answer;
}

// The TTL to keep a reply for (RFC 1035 §4.1): the least TTL of its answer records, or for a negative
// answer the least of the authority SOA's TTL and MINIMUM (RFC 2308 §5). nullopt: not cacheable
// (unparsable, or negative without an SOA).
std::optional<std::uint32_t> reply_ttl(const std::vector<unsigned char>& message) {
  const std::size_t size = message.size();
  if (size < 12) return std::nullopt;
  auto u16 = [&](std::size_t at) { return static_cast<std::uint16_t>((message[at] << 8) | message[at + 1]); };
  auto u32 = [&](std::size_t at) {
    return (std::uint32_t{message[at]} << 24) | (std::uint32_t{message[at + 1]} << 16) |
           (std::uint32_t{message[at + 2]} << 8) | message[at + 3];
  };
  // Skips a (possibly compressed) name; false when it runs off the message.
  auto skip_name = [&](std::size_t& at) {
    for (int labels = 0; labels < 128; ++labels) {
      if (at >= size) return false;
      const unsigned char length = message[at];
      if ((length & 0xC0) == 0xC0) {
        at += 2;
        return at <= size;
      }
      at += 1 + length;
      if (length == 0) return at <= size;
    }
    return false;
  };
  const std::uint16_t questions = u16(4), answers = u16(6), authorities = u16(8);
  std::size_t at = 12;
  for (std::uint16_t i = 0; i < questions; ++i) {
    if (!skip_name(at) || at + 4 > size) return std::nullopt;
    at += 4;
  }
  std::optional<std::uint32_t> least;
  auto consider = [&](std::uint32_t ttl) { least = least ? std::min(*least, ttl) : ttl; };
  for (std::uint32_t i = 0; i < std::uint32_t{answers} + authorities; ++i) {
    if (!skip_name(at) || at + 10 > size) return std::nullopt;
    const std::uint16_t type = u16(at);
    const std::uint32_t ttl = u32(at + 4);
    const std::uint16_t length = u16(at + 8);
    at += 10;
    if (at + length > size) return std::nullopt;
    if (i < answers) {
      consider(ttl);
    } else if (answers == 0 && type == ns_t_soa && length >= 20) {
      consider(std::min(ttl, u32(at + length - 4)));   // MINIMUM is the SOA's last field
    }
    at += length;
  }
  return least;
}

// Replies by (name, type), thread-safe, bounded.
class AnswerCache {
 public:
  AnswerCache(std::chrono::seconds max_ttl, std::size_t max_entries) : max_ttl_(max_ttl), max_entries_(max_entries) {}

  std::optional<RawReply> find(const std::string& name, int type) {
    const std::string key = key_of(name, type);
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    if (it->second.expires <= std::chrono::steady_clock::now()) {
      entries_.erase(it);
      return std::nullopt;
    }
    return it->second.reply;
  }

  void store(const std::string& name, int type, const RawReply& reply) {
    const bool cacheable = reply.ares_status == ARES_SUCCESS || reply.ares_status == ARES_ENOTFOUND ||
                           reply.ares_status == ARES_ENODATA;
    if (!cacheable || reply.message.empty()) return;
    auto ttl = reply_ttl(reply.message);
    if (!ttl || *ttl == 0) return;
    const auto keep = std::min<std::chrono::seconds>(std::chrono::seconds(*ttl), max_ttl_);
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (entries_.size() >= max_entries_) {
      std::erase_if(entries_, [now](const auto& entry) { return entry.second.expires <= now; });
      if (entries_.size() >= max_entries_) entries_.clear();
    }
    entries_[key_of(name, type)] = Entry{reply, now + keep};
  }

 private:
  struct Entry {
    RawReply reply;
    std::chrono::steady_clock::time_point expires;
  };
  static std::string key_of(const std::string& name, int type) {
    std::string key = name;
    for (char& c : key) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    while (!key.empty() && key.back() == '.') key.pop_back();
    return key + "/" + std::to_string(type);
  }
  std::chrono::seconds max_ttl_;
  std::size_t max_entries_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace

namespace detail {

// Owns the c-ares channel and the thread that drives it. Only that thread touches the channel after
// construction; other threads talk to it through submit() and stop().
class ResolverEngine {
 public:
  ResolverEngine(asio::any_io_executor fallback_executor, const std::vector<std::string>& nameservers,
                 std::chrono::milliseconds timeout, int tries)
      : fallback_executor_(std::move(fallback_executor)) {
    if (timeout.count() <= 0) throw std::invalid_argument("DNS timeout must be positive");
    if (tries < 1) throw std::invalid_argument("DNS tries must be at least 1");
    ensure_cares_initialised();

    ares_options options{};
    options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;  // names are always fully qualified
    options.timeout = static_cast<int>(std::min<std::chrono::milliseconds::rep>(timeout.count(), 3'600'000));
    options.tries = tries;
    options.lookups = const_cast<char*>("b");  // DNS only, never /etc/hosts
    options.sock_state_cb = &ResolverEngine::on_socket_state;
    options.sock_state_cb_data = this;
    const int option_mask =
        ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB;
    if (int status = ares_init_options(&channel_, &options, option_mask); status != ARES_SUCCESS)
      throw std::runtime_error(std::string("c-ares channel: ") + ares_strerror(status));

    try {
      if (!nameservers.empty()) use_nameservers(nameservers);
      wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "DNS resolver eventfd");
      thread_ = std::thread([this] { run(); });
    } catch (...) {
      if (wake_fd_ >= 0) ::close(wake_fd_);
      ares_destroy(channel_);
      throw;
    }
    pthread_setname_np(thread_.native_handle(), "gatehouse-dns");
  }

  ~ResolverEngine() {
    stop();
    ::close(wake_fd_);
  }

  ResolverEngine(const ResolverEngine&) = delete;
  ResolverEngine& operator=(const ResolverEngine&) = delete;

  const asio::any_io_executor& fallback_executor() const { return fallback_executor_; }

  // Set once before the first query (Resolver::enable_cache); null when caching is off.
  std::shared_ptr<AnswerCache> cache;

  // A query waiting for its answer. `handler_executor` tracks outstanding work, so the awaiting
  // coroutine's io_context keeps running while the query is in flight on our thread.
  struct Query {
    std::string name;
    int type = 0;
    ReplyHandler handler;
    asio::any_io_executor handler_executor;
  };

  // Thread-safe. After stop() the query fails at once with "resolver shut down".
  void submit(Query query) {
    {
      std::lock_guard lock(mutex_);
      if (!stopping_) {
        submitted_.push_back(std::move(query));
        wake();
        return;
      }
    }
    complete(std::move(query), RawReply{ARES_EDESTRUCTION, {}});
  }

  // Ends the thread; queries in flight or queued complete with ARES_EDESTRUCTION. Idempotent; called
  // by ~Resolver and again by ~ResolverEngine, one after the other. Never called on our own thread:
  // completions are posted, so no user code runs there.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      wake();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct SocketInterest {
    bool readable = false;
    bool writable = false;
  };

  void use_nameservers(const std::vector<std::string>& nameservers) {
    std::string csv;
    for (const std::string& server : nameservers) {
      if (server.empty() || server.find_first_of(", \t\r\n") != std::string::npos ||
          server.find('\0') != std::string::npos)
        throw std::invalid_argument("bad DNS nameserver \"" + server + "\"");
      if (!csv.empty()) csv += ',';
      csv += server;
    }
    if (int status = ares_set_servers_ports_csv(channel_, csv.c_str()); status != ARES_SUCCESS)
      throw std::invalid_argument("bad DNS nameservers \"" + csv + "\": " + ares_strerror(status));
  }

  // Posts the answer to the awaiting coroutine's executor. Never invokes it inline.
  static void complete(Query query, RawReply reply) {
    asio::any_io_executor executor = std::move(query.handler_executor);
    asio::post(executor, asio::append(std::move(query.handler), std::move(reply)));
  }

  void wake() {
    const std::uint64_t one = 1;
    // EAGAIN means the counter is already non-zero: the thread will wake anyway.
    [[maybe_unused]] ssize_t written = ::write(wake_fd_, &one, sizeof one);
  }

  void drain_wake_fd() {
    std::uint64_t count = 0;
    [[maybe_unused]] ssize_t read_bytes = ::read(wake_fd_, &count, sizeof count);
  }

  // c-ares tells us which sockets to watch: readable/writable both zero means the socket is closing.
  static void on_socket_state(void* data, ares_socket_t socket, int readable, int writable) {
    auto* self = static_cast<ResolverEngine*>(data);
    if (!readable && !writable)
      self->sockets_.erase(socket);
    else
      self->sockets_[socket] = SocketInterest{readable != 0, writable != 0};
  }

  static void on_answer(void* data, int status, int /*timeouts*/, unsigned char* message, int length) {
    std::unique_ptr<Query> query(static_cast<Query*>(data));
    RawReply reply{status, {}};
    // Negative answers keep their message too: its SOA gives the negative-caching TTL (RFC 2308).
    if ((status == ARES_SUCCESS || status == ARES_ENOTFOUND || status == ARES_ENODATA) && message && length > 0)
      reply.message.assign(message, message + length);
    complete(std::move(*query), std::move(reply));
  }

  void start_queries(std::vector<Query>& batch) {
    for (Query& query : batch) {
      auto pending = std::make_unique<Query>(std::move(query));
      const std::string& name = pending->name;
      const int type = pending->type;
      // c-ares owns the query from here; on_answer takes it back (possibly before ares_query returns).
      ares_query(channel_, name.c_str(), ns_c_in, type, &ResolverEngine::on_answer, pending.release());
    }
    batch.clear();
  }

  int poll_timeout_ms() {
    timeval until_next_timeout{};
    if (!ares_timeout(channel_, nullptr, &until_next_timeout)) return -1;  // nothing in flight
    const long long milliseconds =
        static_cast<long long>(until_next_timeout.tv_sec) * 1000 + (until_next_timeout.tv_usec + 999) / 1000;
    return static_cast<int>(std::min<long long>(milliseconds, 60'000));
  }

  void run() {
    std::vector<Query> batch;
    std::vector<pollfd> watched;
    for (;;) {
      bool stopping = false;
      {
        std::lock_guard lock(mutex_);
        batch.swap(submitted_);
        stopping = stopping_;
      }
      if (stopping) {
        for (Query& query : batch) complete(std::move(query), RawReply{ARES_EDESTRUCTION, {}});
        break;
      }
      start_queries(batch);

      watched.clear();
      watched.push_back(pollfd{wake_fd_, POLLIN, 0});
      for (const auto& [socket, interest] : sockets_)
        watched.push_back(pollfd{
            socket, static_cast<short>((interest.readable ? POLLIN : 0) | (interest.writable ? POLLOUT : 0)),
            0});

      const int ready = ::poll(watched.data(), watched.size(), poll_timeout_ms());
      if (ready < 0 && errno != EINTR) {
        // Cannot happen with valid descriptors; avoid spinning if it does.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (ready > 0 && watched[0].revents != 0) drain_wake_fd();

      bool processed_any = false;
      if (ready > 0) {
        for (std::size_t i = 1; i < watched.size(); ++i) {
          const short events = watched[i].revents;
          if (events == 0) continue;
          const bool failed = (events & (POLLERR | POLLHUP | POLLNVAL)) != 0;
          const ares_socket_t read_socket = (events & POLLIN) || failed ? watched[i].fd : ARES_SOCKET_BAD;
          const ares_socket_t write_socket = (events & POLLOUT) || (failed && (watched[i].events & POLLOUT))
                                                 ? watched[i].fd
                                                 : ARES_SOCKET_BAD;
          // Also handles expired timeouts. A socket closed by an earlier call is simply not found.
          ares_process_fd(channel_, read_socket, write_socket);
          processed_any = true;
        }
      }
      if (!processed_any) ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts only
    }
    // Ends every query still in flight with ARES_EDESTRUCTION (through on_answer) and closes sockets.
    ares_destroy(channel_);
    channel_ = nullptr;
  }

  asio::any_io_executor fallback_executor_;
  ares_channel channel_ = nullptr;
  int wake_fd_ = -1;

  std::mutex mutex_;
  std::vector<Query> submitted_;  // guarded by mutex_
  bool stopping_ = false;         // guarded by mutex_

  std::thread thread_;

  std::unordered_map<ares_socket_t, SocketInterest> sockets_;  // resolver thread only
};

}  // namespace detail

namespace {

using detail::ResolverEngine;

// Sends one query and suspends the calling coroutine until the answer, which resumes it on its own
// executor. The engine is held by the operation, so it outlives a Resolver destroyed meanwhile.
asio::awaitable<RawReply> ask_server(std::shared_ptr<ResolverEngine> engine, std::string name, int type) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(RawReply)>(
      [engine = std::move(engine)](auto handler, std::string query_name, int query_type) {
        asio::any_io_executor handler_executor = asio::prefer(
            asio::any_io_executor(asio::get_associated_executor(handler, engine->fallback_executor())),
            asio::execution::outstanding_work.tracked);
        engine->submit(ResolverEngine::Query{std::move(query_name), query_type,
                                             ReplyHandler(std::move(handler)), std::move(handler_executor)});
      },
      asio::use_awaitable, std::move(name), type);
}

// From the cache when it holds the answer (no thread hop), else from the server (and cached).
asio::awaitable<RawReply> send_query(std::shared_ptr<ResolverEngine> engine, std::string name, int type) {
  std::shared_ptr<AnswerCache> cache = engine->cache;
  if (cache) {
    if (auto hit = cache->find(name, type)) co_return std::move(*hit);
  }
  RawReply reply = co_await ask_server(std::move(engine), name, type);
  if (cache) cache->store(name, type, reply);
  co_return reply;
}

// A name c-ares would silently truncate or that cannot be a domain name.
bool unusable_name(const std::string& name) {
  return name.empty() || name.find('\0') != std::string::npos;
}

asio::awaitable<DnsAnswer<std::string>> lookup_ptr(std::shared_ptr<ResolverEngine> engine, std::string ip) {
  const std::optional<BinaryAddress> address = parse_address(ip);
  if (!address) co_return failure<std::string>(DnsStatus::error, "not an IP address: \"" + ip + "\"");
  std::string name = reverse_name_of(*address);
  RawReply reply = co_await send_query(std::move(engine), name, ns_t_ptr);
  if (reply.ares_status != ARES_SUCCESS)
    co_return failure_from_ares<std::string>(reply.ares_status, name, ns_t_ptr);
  co_return parse_ptr(reply, name, *address);
}

asio::awaitable<DnsAnswer<std::string>> lookup_addresses(std::shared_ptr<ResolverEngine> engine,
                                                         std::string name, int type) {
  if (unusable_name(name)) co_return failure<std::string>(DnsStatus::error, "empty or invalid domain name");
  RawReply reply = co_await send_query(std::move(engine), name, type);
  if (reply.ares_status != ARES_SUCCESS)
    co_return failure_from_ares<std::string>(reply.ares_status, name, type);
  co_return parse_addresses(reply, name, type);
}

asio::awaitable<DnsAnswer<MxRecord>> lookup_mx(std::shared_ptr<ResolverEngine> engine, std::string name) {
  if (unusable_name(name)) co_return failure<MxRecord>(DnsStatus::error, "empty or invalid domain name");
  RawReply reply = co_await send_query(std::move(engine), name, ns_t_mx);
  if (reply.ares_status != ARES_SUCCESS)
    co_return failure_from_ares<MxRecord>(reply.ares_status, name, ns_t_mx);
  co_return parse_mx(reply, name);
}

asio::awaitable<DnsAnswer<std::string>> lookup_txt(std::shared_ptr<ResolverEngine> engine, std::string name) {
  if (unusable_name(name)) co_return failure<std::string>(DnsStatus::error, "empty or invalid domain name");
  RawReply reply = co_await send_query(std::move(engine), name, ns_t_txt);
  if (reply.ares_status != ARES_SUCCESS)
    co_return failure_from_ares<std::string>(reply.ares_status, name, ns_t_txt);
  co_return parse_txt(reply, name);
}

}  // namespace

std::string_view to_string(DnsStatus status) {
  switch (status) {
    case DnsStatus::ok: return "ok";
    case DnsStatus::nxdomain: return "nxdomain";
    case DnsStatus::nodata: return "nodata";
    case DnsStatus::servfail: return "servfail";
    case DnsStatus::timeout: return "timeout";
    case DnsStatus::error: return "error";
  }
  return "error";
}

std::string reverse_lookup_name(std::string_view ip) {
  const std::optional<BinaryAddress> address = parse_address(ip);
  return address ? reverse_name_of(*address) : std::string();
}

Resolver::Resolver(asio::any_io_executor executor, std::vector<std::string> nameservers,
                   std::chrono::milliseconds timeout, int tries)
    : engine_(std::make_shared<ResolverEngine>(std::move(executor), nameservers, timeout, tries)) {}

void Resolver::enable_cache(std::chrono::seconds max_ttl, std::size_t max_entries) {
  if (max_ttl.count() <= 0 || max_entries == 0) return;
  engine_->cache = std::make_shared<AnswerCache>(max_ttl, max_entries);
}

Resolver::~Resolver() {
  // Coroutines may still hold the engine; stopping here fails their queries now instead of later.
  engine_->stop();
}

// The public members are not coroutines themselves: each copies engine_ into the coroutine frame
// at the call, so awaiting the result never touches the Resolver object.
asio::awaitable<DnsAnswer<std::string>> Resolver::ptr(std::string ip) {
  return lookup_ptr(engine_, std::move(ip));
}

namespace {
asio::awaitable<Resolver::ClientName> lookup_client_name(std::shared_ptr<ResolverEngine> engine, std::string ip) {
  DnsAnswer<std::string> names = co_await lookup_ptr(std::move(engine), std::move(ip));
  Resolver::ClientName result;
  if (names.ok() && !names.records.empty()) result.name = names.records.front();
  else if (names.status != DnsStatus::nxdomain && names.status != DnsStatus::nodata)
    result.error = std::string(to_string(names.status));
  co_return result;
}
}  // namespace

asio::awaitable<Resolver::ClientName> Resolver::client_name(std::string ip) {
  return lookup_client_name(engine_, std::move(ip));
}

asio::awaitable<DnsAnswer<std::string>> Resolver::a(std::string name) {
  return lookup_addresses(engine_, std::move(name), ns_t_a);
}

asio::awaitable<DnsAnswer<std::string>> Resolver::aaaa(std::string name) {
  return lookup_addresses(engine_, std::move(name), ns_t_aaaa);
}

asio::awaitable<DnsAnswer<MxRecord>> Resolver::mx(std::string name) {
  return lookup_mx(engine_, std::move(name));
}

asio::awaitable<DnsAnswer<std::string>> Resolver::txt(std::string name) {
  return lookup_txt(engine_, std::move(name));
}

}  // namespace gatehouse::dns
