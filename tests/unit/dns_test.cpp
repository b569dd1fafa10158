// Tests for the c-ares resolver (src/dns/resolver.*) against a real DNS server: unbound started on a
// free loopback port by tests/fixtures/dns/run-unbound.sh, serving tests/fixtures/dns/local-data.conf.
// Covers PTR (RFC 1034 in-addr.arpa, RFC 3596 ip6.arpa), A, AAAA, MX ordering, TXT (RFC 1035
// §3.3.14, TCP fallback for truncated answers), NXDOMAIN vs NODATA (RFC 2308), server failure,
// timeouts, concurrency across io_context threads and shutdown with queries in flight.
// unbound is required: without it every server test fails with a message saying how to install it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dns/resolver.hpp"

#ifndef GATEHOUSE_SOURCE_DIR
#error "GATEHOUSE_SOURCE_DIR must name the source tree (CMake defines it for the unit tests)"
#endif

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using gatehouse::dns::DnsAnswer;
using gatehouse::dns::DnsStatus;
using gatehouse::dns::MxRecord;
using gatehouse::dns::Resolver;
using Names = DnsAnswer<std::string>;  // PTR, A, AAAA and TXT answers
using Exchangers = DnsAnswer<MxRecord>;
// The result of a test body that makes several lookups.
template <class... Answers>
using Lookups = asio::awaitable<std::tuple<Answers...>>;

const std::string kRunUnbound = std::string(GATEHOUSE_SOURCE_DIR) + "/tests/fixtures/dns/run-unbound.sh";

// --- small POSIX helpers ------------------------------------------------------------------------

// A socket bound to 127.0.0.1 on a kernel-chosen port; closed on destruction.
class LoopbackSocket {
 public:
  LoopbackSocket(int type, std::uint16_t port = 0) : fd_(::socket(AF_INET, type | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~LoopbackSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  bool bound() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  std::uint16_t port() const { return port_; }
  std::string nameserver() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A port currently free for both UDP and TCP on 127.0.0.1 (unbound listens on both).
std::uint16_t free_loopback_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    LoopbackSocket udp(SOCK_DGRAM);
    if (!udp.bound()) continue;
    LoopbackSocket tcp(SOCK_STREAM, udp.port());
    if (tcp.bound()) return udp.port();
  }
  throw std::runtime_error("no free loopback port");
}

// Sends one A query for mail.sender.test over UDP and reports whether a response arrived in time.
bool dns_server_answers(std::uint16_t port, std::chrono::milliseconds wait) {
  LoopbackSocket socket(SOCK_DGRAM);
  if (!socket.bound()) return false;
  std::vector<unsigned char> query = {0x4a, 0x11, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};  // id, RD, 1 question
  for (std::string label : {"mail", "sender", "test"}) {
    query.push_back(static_cast<unsigned char>(label.size()));
    query.insert(query.end(), label.begin(), label.end());
  }
  query.insert(query.end(), {0, 0, 1, 0, 1});  // root, QTYPE A, QCLASS IN
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  server.sin_port = htons(port);
  if (::sendto(socket.fd(), query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&server),
               sizeof server) < 0)
    return false;
  pollfd readable{socket.fd(), POLLIN, 0};
  if (::poll(&readable, 1, static_cast<int>(wait.count())) != 1) return false;
  unsigned char response[512];
  const ssize_t length = ::recv(socket.fd(), response, sizeof response, 0);
  return length >= 12 && response[0] == 0x4a && response[1] == 0x11 && (response[2] & 0x80) != 0;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

// --- the DNS server fixture -----------------------------------------------------------------------

// unbound, started through run-unbound.sh in its own process group and stopped (TERM, then KILL) on
// destruction. It also gets SIGTERM if this test process dies first.
class UnboundServer {
 public:
  // Starts the server on a free port and waits until it answers. Returns null and sets
  // `error` when it cannot.
  static std::unique_ptr<UnboundServer> start(std::string& error) {
    for (int attempt = 1; attempt <= 3; ++attempt) {
      auto server = std::unique_ptr<UnboundServer>(new UnboundServer(free_loopback_port()));
      const int exit_code = server->wait_until_answering(15s);
      if (exit_code == 0) return server;
      error = "the fixture DNS server (" + kRunUnbound + " " + std::to_string(server->port_) +
              ") did not start" + (exit_code > 0 ? ", exit status " + std::to_string(exit_code) : "") +
              ". Its output:\n" + read_file(server->log_path_);
      if (exit_code == 127) {
        error += "\nunbound is required for these tests: apt-get install -y unbound";
        break;
      }
      if (exit_code == 2) break;  // usage or data error: retrying cannot help
    }
    return nullptr;
  }

  ~UnboundServer() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      if (!reap_within(5s)) {
        ::kill(-pid_, SIGKILL);
        reap_within(5s);
      }
    }
    std::remove(log_path_.c_str());
  }

  std::uint16_t port() const { return port_; }

 private:
  explicit UnboundServer(std::uint16_t port) : port_(port) {
    char log_template[] = "/tmp/gatehouse-dns-test-XXXXXX";
    const int log_fd = ::mkstemp(log_template);
    if (log_fd < 0) throw std::runtime_error("mkstemp failed");
    log_path_ = log_template;
    const std::string port_text = std::to_string(port);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Child: only async-signal-safe calls from here (the test process may have threads).
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      const char* argv[] = {"bash", kRunUnbound.c_str(), port_text.c_str(), nullptr};
      ::execv("/bin/bash", const_cast<char* const*>(argv));
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also from the parent, so kill(-pid) works even before the child ran
    ::close(log_fd);
  }

  // 0 once the server answers; the exit status if it exited first; -1 on timeout.
  int wait_until_answering(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (dns_server_answers(port_, 100ms)) return 0;
    }
    return -1;
  }

  bool reap_within(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) != 0) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  std::uint16_t port_;
  pid_t pid_ = -1;
  std::string log_path_;
};

// --- running coroutines on a multi-threaded io_context ------------------------------------------

thread_local bool on_test_pool_thread = false;

// Runs `body` (a callable returning an awaitable) on `io` with several threads, as the daemon does,
// and returns its result.
template <class Body>
auto run_on_pool(asio::io_context& io, Body body, int thread_count = 4) {
  auto result = asio::co_spawn(io, std::move(body), asio::use_future);
  std::vector<std::thread> pool;
  for (int i = 0; i < thread_count; ++i)
    pool.emplace_back([&io] {
      on_test_pool_thread = true;
      io.run();
    });
  for (std::thread& thread : pool) thread.join();
  return result.get();
}

std::vector<std::string> sorted(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  return values;
}

template <class T>
std::string describe(const DnsAnswer<T>& answer) {
  return std::string(gatehouse::dns::to_string(answer.status)) +
         (answer.error.empty() ? "" : ": " + answer.error);
}

class DnsResolverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = UnboundServer::start(startup_error_).release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    if (!server_) FAIL() << startup_error_;
  }

  static std::string nameserver() { return "127.0.0.1:" + std::to_string(server_->port()); }
  static std::uint16_t port() { return server_->port(); }

  // Runs `body(resolver)` with a Resolver pointed at the fixture server.
  template <class Body>
  auto resolve(Body body) {
    asio::io_context io;
    Resolver resolver(io.get_executor(), {nameserver()}, 2000ms);
    return run_on_pool(io, [&]() { return body(resolver); });
  }

  static UnboundServer* server_;
  static std::string startup_error_;
};

UnboundServer* DnsResolverTest::server_ = nullptr;
std::string DnsResolverTest::startup_error_;

// --- PTR --------------------------------------------------------------------------------------------

TEST_F(DnsResolverTest, PtrIpv4IsForwardConfirmed) {
  auto [names, addresses] = resolve([](Resolver& resolver) -> Lookups<Names, Names> {
    auto names = co_await resolver.ptr("127.0.0.2");
    Names addresses;
    if (names.ok()) addresses = co_await resolver.a(names.records.front());
    co_return std::tuple{names, addresses};
  });
  ASSERT_TRUE(names.ok()) << describe(names);
  EXPECT_EQ(names.records, std::vector<std::string>{"mail.sender.test"});
  ASSERT_TRUE(addresses.ok()) << describe(addresses);
  EXPECT_EQ(addresses.records, std::vector<std::string>{"127.0.0.2"});
}

TEST_F(DnsResolverTest, PtrOfLoopbackIsLocalhost) {
  auto names = resolve([](Resolver& resolver) { return resolver.ptr("127.0.0.1"); });
  ASSERT_TRUE(names.ok()) << describe(names);
  EXPECT_EQ(names.records, std::vector<std::string>{"localhost"});
}

TEST_F(DnsResolverTest, PtrWithoutMatchingAddressRecord) {
  auto [names, addresses] = resolve([](Resolver& resolver) -> Lookups<Names, Names> {
    auto names = co_await resolver.ptr("127.0.0.3");
    Names addresses;
    if (names.ok()) addresses = co_await resolver.a(names.records.front());
    co_return std::tuple{names, addresses};
  });
  ASSERT_TRUE(names.ok()) << describe(names);
  EXPECT_EQ(names.records, std::vector<std::string>{"dynamic-127-0-0-3.pool.isp.test"});
  EXPECT_EQ(addresses.status, DnsStatus::nxdomain) << describe(addresses);
}

TEST_F(DnsResolverTest, PtrWithSeveralNames) {
  auto names = resolve([](Resolver& resolver) { return resolver.ptr("127.0.0.4"); });
  ASSERT_TRUE(names.ok()) << describe(names);
  EXPECT_EQ(sorted(names.records), (std::vector<std::string>{"relay1.sender.test", "relay2.sender.test"}));
}

TEST_F(DnsResolverTest, PtrIpv6AndIpv4Mapped) {
  auto [v6, mapped, bracketed] = resolve([](Resolver& resolver) -> Lookups<Names, Names, Names> {
    auto v6 = co_await resolver.ptr("2001:db8::25");
    auto mapped = co_await resolver.ptr("::ffff:127.0.0.2");
    auto bracketed = co_await resolver.ptr("[2001:DB8:0:0::25]");
    co_return std::tuple{v6, mapped, bracketed};
  });
  ASSERT_TRUE(v6.ok()) << describe(v6);
  EXPECT_EQ(v6.records, std::vector<std::string>{"mail6.sender.test"});
  ASSERT_TRUE(mapped.ok()) << describe(mapped);
  EXPECT_EQ(mapped.records, std::vector<std::string>{"mail.sender.test"});
  ASSERT_TRUE(bracketed.ok()) << describe(bracketed);
  EXPECT_EQ(bracketed.records, std::vector<std::string>{"mail6.sender.test"});
}

TEST_F(DnsResolverTest, PtrMissingOrInvalid) {
  auto [missing, invalid] = resolve([](Resolver& resolver) -> Lookups<Names, Names> {
    auto missing = co_await resolver.ptr("127.0.0.9");
    auto invalid = co_await resolver.ptr("mail.sender.test");
    co_return std::tuple{missing, invalid};
  });
  EXPECT_EQ(missing.status, DnsStatus::nxdomain) << describe(missing);
  EXPECT_NE(missing.error.find("9.0.0.127.in-addr.arpa"), std::string::npos) << missing.error;
  EXPECT_EQ(invalid.status, DnsStatus::error);
  EXPECT_FALSE(invalid.error.empty());
}

// --- A / AAAA ------------------------------------------------------------------------------------------

TEST_F(DnsResolverTest, AddressRecords) {
  auto answers = resolve([](Resolver& resolver) -> asio::awaitable<std::vector<Names>> {
    std::vector<Names> answers;
    answers.push_back(co_await resolver.a("multi.sender.test"));
    answers.push_back(co_await resolver.a("MX.Outbound.TEST."));  // case and the final dot do not matter
    co_return answers;
  });
  ASSERT_TRUE(answers[0].ok()) << describe(answers[0]);
  EXPECT_EQ(sorted(answers[0].records), (std::vector<std::string>{"127.0.0.10", "127.0.0.11"}));
  ASSERT_TRUE(answers[1].ok()) << describe(answers[1]);
  EXPECT_EQ(answers[1].records, std::vector<std::string>{"127.0.0.1"});
}

TEST_F(DnsResolverTest, Ipv6AddressRecords) {
  auto [mail6, multi, none] = resolve([](Resolver& resolver) -> Lookups<Names, Names, Names> {
    auto mail6 = co_await resolver.aaaa("mail6.sender.test");
    auto multi = co_await resolver.aaaa("multi.sender.test");
    auto none = co_await resolver.aaaa("mail.sender.test");
    co_return std::tuple{mail6, multi, none};
  });
  ASSERT_TRUE(mail6.ok()) << describe(mail6);
  EXPECT_EQ(mail6.records, std::vector<std::string>{"2001:db8::25"});
  ASSERT_TRUE(multi.ok()) << describe(multi);
  EXPECT_EQ(multi.records, std::vector<std::string>{"2001:db8::10"});
  EXPECT_EQ(none.status, DnsStatus::nodata) << describe(none);
}

// --- MX -----------------------------------------------------------------------------------------------

TEST_F(DnsResolverTest, MxSortedByPreference) {
  auto [sender, outbound] = resolve([](Resolver& resolver) -> Lookups<Exchangers, Exchangers> {
    auto sender = co_await resolver.mx("sender.test");
    auto outbound = co_await resolver.mx("outbound.test");
    co_return std::tuple{sender, outbound};
  });
  ASSERT_TRUE(sender.ok()) << describe(sender);
  EXPECT_EQ(sender.records, (std::vector<MxRecord>{
                                {10, "mx1.sender.test"}, {20, "mx2.sender.test"}, {30, "mx3.sender.test"}}));
  ASSERT_TRUE(outbound.ok()) << describe(outbound);
  EXPECT_EQ(outbound.records, (std::vector<MxRecord>{{10, "mx.outbound.test"}}));
}

TEST_F(DnsResolverTest, MxNodataAndNxdomain) {
  auto [nodata, nxdomain] = resolve([](Resolver& resolver) -> Lookups<Exchangers, Exchangers> {
    auto nodata = co_await resolver.mx("mail.sender.test");
    auto nxdomain = co_await resolver.mx("does-not-exist.sender.test");
    co_return std::tuple{nodata, nxdomain};
  });
  EXPECT_EQ(nodata.status, DnsStatus::nodata) << describe(nodata);
  EXPECT_TRUE(nodata.records.empty());
  EXPECT_EQ(nxdomain.status, DnsStatus::nxdomain) << describe(nxdomain);
}

// --- TXT ----------------------------------------------------------------------------------------------

TEST_F(DnsResolverTest, TxtRecordsJoinTheirStrings) {
  auto [sender, split] = resolve([](Resolver& resolver) -> Lookups<Names, Names> {
    auto sender = co_await resolver.txt("sender.test");
    auto split = co_await resolver.txt("split.sender.test");
    co_return std::tuple{sender, split};
  });
  ASSERT_TRUE(sender.ok()) << describe(sender);
  EXPECT_EQ(sorted(sender.records), (std::vector<std::string>{"google-site-verification=fixture",
                                                              "v=spf1 ip4:127.0.0.2 ip6:2001:db8::25 -all"}));
  ASSERT_TRUE(split.ok()) << describe(split);
  EXPECT_EQ(split.records, std::vector<std::string>{"v=spf1 ip4:127.0.0.2 include:outbound.test -all"});
}

TEST_F(DnsResolverTest, LargeTxtAnswerFallsBackToTcp) {
  auto big = resolve([](Resolver& resolver) { return resolver.txt("big.sender.test"); });
  ASSERT_TRUE(big.ok()) << describe(big);
  ASSERT_EQ(big.records.size(), 4u);
  std::vector<std::string> expected;
  for (char letter : {'a', 'b', 'c', 'd'}) expected.emplace_back(200, letter);
  EXPECT_EQ(sorted(big.records), expected);
}

// --- failures -----------------------------------------------------------------------------------------

TEST_F(DnsResolverTest, NxdomainInsideAndOutsideFixtureZones) {
  auto answers = resolve([](Resolver& resolver) -> asio::awaitable<std::vector<Names>> {
    std::vector<Names> answers;
    answers.push_back(co_await resolver.a("does-not-exist.sender.test"));
    answers.push_back(co_await resolver.txt("nowhere.example.com"));  // the server never recurses
    co_return answers;
  });
  for (const auto& answer : answers) {
    EXPECT_EQ(answer.status, DnsStatus::nxdomain) << describe(answer);
    EXPECT_FALSE(answer.ok());
    EXPECT_TRUE(answer.records.empty());
    EXPECT_FALSE(answer.error.empty());
  }
}

TEST_F(DnsResolverTest, RefusedIsServerFailure) {
  auto refused = resolve([](Resolver& resolver) { return resolver.a("anything.refused.test"); });
  EXPECT_EQ(refused.status, DnsStatus::servfail) << describe(refused);
}

TEST_F(DnsResolverTest, InvalidNamesFailWithoutQuerying) {
  auto [empty, embedded_nul] = resolve([](Resolver& resolver) -> Lookups<Names, Exchangers> {
    auto empty = co_await resolver.a("");
    auto embedded_nul = co_await resolver.mx(std::string("sender.test\0evil", 16));
    co_return std::tuple{empty, embedded_nul};
  });
  EXPECT_EQ(empty.status, DnsStatus::error);
  EXPECT_EQ(embedded_nul.status, DnsStatus::error);
}

TEST_F(DnsResolverTest, TimeoutWhenTheServerIsSilent) {
  LoopbackSocket silent(SOCK_DGRAM);  // bound but never read: queries vanish
  ASSERT_TRUE(silent.bound());
  asio::io_context io;
  Resolver resolver(io.get_executor(), {silent.nameserver()}, 200ms, 2);
  const auto started = std::chrono::steady_clock::now();
  auto answer = run_on_pool(io, [&] { return resolver.a("mail.sender.test"); });
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(answer.status, DnsStatus::timeout) << describe(answer);
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 3s);
}

TEST_F(DnsResolverTest, NothingListeningIsServerFailure) {
  // On loopback the kernel answers with ICMP port unreachable, which c-ares reports as refused.
  const std::uint16_t closed_port = free_loopback_port();
  asio::io_context io;
  Resolver resolver(io.get_executor(), {"127.0.0.1:" + std::to_string(closed_port)}, 300ms, 2);
  const auto started = std::chrono::steady_clock::now();
  auto answer = run_on_pool(io, [&] { return resolver.a("mail.sender.test"); });
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(answer.status, DnsStatus::servfail) << describe(answer);
  EXPECT_LT(elapsed, 3s);
}

TEST_F(DnsResolverTest, FailsOverToTheNextNameserver) {
  LoopbackSocket silent(SOCK_DGRAM);
  ASSERT_TRUE(silent.bound());
  asio::io_context io;
  Resolver resolver(io.get_executor(), {silent.nameserver(), nameserver()}, 300ms, 2);
  auto answer = run_on_pool(io, [&] { return resolver.a("mail.sender.test"); });
  ASSERT_TRUE(answer.ok()) << describe(answer);
  EXPECT_EQ(answer.records, std::vector<std::string>{"127.0.0.2"});
}

TEST_F(DnsResolverTest, Ipv6LoopbackNameserver) {
  if (read_file("/proc/net/if_inet6").find("00000000000000000000000000000001") == std::string::npos)
    GTEST_SKIP() << "this host has no IPv6 loopback address";
  asio::io_context io;
  Resolver resolver(io.get_executor(), {"[::1]:" + std::to_string(port())}, 2000ms);
  auto answer = run_on_pool(io, [&] { return resolver.mx("outbound.test"); });
  ASSERT_TRUE(answer.ok()) << describe(answer);
  EXPECT_EQ(answer.records, (std::vector<MxRecord>{{10, "mx.outbound.test"}}));
}

// --- concurrency and lifetime ------------------------------------------------------------------

TEST_F(DnsResolverTest, ResumesOnTheAwaitingCoroutinesExecutor) {
  asio::io_context io;
  Resolver resolver(io.get_executor(), {nameserver()}, 2000ms);
  auto strand = asio::make_strand(io);
  auto checks = run_on_pool(io, [&]() -> asio::awaitable<std::vector<bool>> {
    std::vector<bool> checks;
    co_await asio::co_spawn(
        strand,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 5; ++i) {
            auto answer = co_await resolver.a("mail.sender.test");
            checks.push_back(answer.ok() && strand.running_in_this_thread() && on_test_pool_thread);
          }
        },
        asio::use_awaitable);
    co_return checks;
  });
  EXPECT_EQ(checks, std::vector<bool>(5, true));
}

TEST_F(DnsResolverTest, TwoHundredConcurrentQueries) {
  constexpr int kQueries = 200;
  asio::io_context io;
  Resolver resolver(io.get_executor(), {nameserver()}, 2000ms);
  std::vector<std::string> results(kQueries);
  for (int i = 0; i < kQueries; ++i) {
    asio::co_spawn(
        io,
        [&resolver, &results, i]() -> asio::awaitable<void> {
          switch (i % 4) {
            case 0: {
              auto answer = co_await resolver.a("mail.sender.test");
              results[i] = answer.ok() ? answer.records.front() : describe(answer);
              break;
            }
            case 1: {
              auto answer = co_await resolver.ptr("127.0.0.2");
              results[i] = answer.ok() ? answer.records.front() : describe(answer);
              break;
            }
            case 2: {
              auto answer = co_await resolver.mx("sender.test");
              results[i] = answer.ok() ? answer.records.front().host : describe(answer);
              break;
            }
            default: {
              auto answer = co_await resolver.a("does-not-exist.sender.test");
              results[i] = describe(answer).substr(0, 8);
              break;
            }
          }
        },
        asio::detached);
  }
  run_on_pool(io, []() -> asio::awaitable<void> { co_return; });
  const std::string expected[] = {"127.0.0.2", "mail.sender.test", "mx1.sender.test", "nxdomain"};
  for (int i = 0; i < kQueries; ++i) EXPECT_EQ(results[i], expected[i % 4]) << "query " << i;
}

TEST_F(DnsResolverTest, DestructionWithQueriesInFlight) {
  LoopbackSocket silent(SOCK_DGRAM);
  ASSERT_TRUE(silent.bound());
  asio::io_context io;
  auto resolver =
      std::make_unique<Resolver>(io.get_executor(), std::vector<std::string>{silent.nameserver()}, 5000ms, 2);
  std::atomic<int> failed_with_error{0};
  std::atomic<int> completed{0};
  for (int i = 0; i < 20; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto answer = co_await resolver->txt("sender.test");
          if (answer.status == DnsStatus::error && answer.error.find("shut down") != std::string::npos)
            ++failed_with_error;
          ++completed;
        },
        asio::detached);
  }
  const auto started = std::chrono::steady_clock::now();
  run_on_pool(io, [&]() -> asio::awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor, 100ms);
    co_await timer.async_wait(asio::use_awaitable);
    resolver.reset();  // on an io_context thread, while all twenty queries wait for the silent server
  });
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(completed.load(), 20);
  EXPECT_EQ(failed_with_error.load(), 20);
}

TEST_F(DnsResolverTest, AwaitingAfterTheResolverIsGoneFails) {
  asio::io_context io;
  auto resolver =
      std::make_unique<Resolver>(io.get_executor(), std::vector<std::string>{nameserver()}, 2000ms);
  auto pending = resolver->a("mail.sender.test");  // created, not yet started
  resolver.reset();
  auto answer = run_on_pool(io, [&]() { return std::move(pending); });
  EXPECT_EQ(answer.status, DnsStatus::error) << describe(answer);
}

// --- construction and helpers (no server needed) ---------------------------------------------------

TEST(DnsResolverSetup, RejectsBadConfiguration) {
  asio::io_context io;
  EXPECT_THROW(Resolver(io.get_executor(), {"not a nameserver"}, 1000ms), std::invalid_argument);
  EXPECT_THROW(Resolver(io.get_executor(), {"127.0.0.1:53,127.0.0.2"}, 1000ms), std::invalid_argument);
  EXPECT_THROW(Resolver(io.get_executor(), {"ns.example.test"}, 1000ms), std::invalid_argument);
  EXPECT_THROW(Resolver(io.get_executor(), {""}, 1000ms), std::invalid_argument);
  EXPECT_THROW(Resolver(io.get_executor(), {"127.0.0.1"}, 0ms), std::invalid_argument);
  EXPECT_THROW(Resolver(io.get_executor(), {"127.0.0.1"}, 1000ms, 0), std::invalid_argument);
  EXPECT_NO_THROW(Resolver(io.get_executor(), {"127.0.0.1", "[::1]:5353", "192.0.2.1:53"}, 1000ms));
  EXPECT_NO_THROW(Resolver(io.get_executor(), {}, 1000ms));  // system configuration
}

TEST(DnsResolverSetup, ReverseLookupNames) {
  using gatehouse::dns::reverse_lookup_name;
  EXPECT_EQ(reverse_lookup_name("192.0.2.25"), "25.2.0.192.in-addr.arpa");
  EXPECT_EQ(reverse_lookup_name("::ffff:192.0.2.25"), "25.2.0.192.in-addr.arpa");
  EXPECT_EQ(reverse_lookup_name("2001:db8::567:89ab"),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");  // RFC 3596 §2.5
  EXPECT_EQ(reverse_lookup_name("[::1]"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
  EXPECT_EQ(reverse_lookup_name("256.1.1.1"), "");
  EXPECT_EQ(reverse_lookup_name("mail.example.test"), "");
  EXPECT_EQ(reverse_lookup_name(""), "");
}

}  // namespace

// --- the answer cache ------------------------------------------------------------------------------

namespace {
using Three = std::tuple<Names, Names, Names>;

// Asks mail.sender.test (A), nothing.sender.test (A: NXDOMAIN) and relay1.sender.test (A) when
// `third` is set, on `io` with `resolver`.
Three ask(asio::io_context& io, Resolver& resolver, bool third) {
  io.restart();
  return run_on_pool(io, [&]() -> asio::awaitable<Three> {
    auto positive = co_await resolver.a("mail.sender.test");
    auto negative = co_await resolver.a("nothing.sender.test");
    Names other;
    if (third) other = co_await resolver.a("relay1.sender.test");
    co_return Three{positive, negative, other};
  });
}
}  // namespace

TEST(DnsCache, AnswersAndNegativeAnswersOutliveTheServerForTheirTtl) {
  std::string error;
  auto server = UnboundServer::start(error);
  ASSERT_TRUE(server) << error;
  asio::io_context io;
  Resolver resolver(io.get_executor(), {"127.0.0.1:" + std::to_string(server->port())}, 300ms, 1);
  resolver.enable_cache(60s);
  auto [positive, negative, unused] = ask(io, resolver, false);
  ASSERT_TRUE(positive.ok()) << describe(positive);
  ASSERT_EQ(negative.status, DnsStatus::nxdomain) << describe(negative);
  server.reset();  // the server is gone: what was asked before is still known, nothing else
  auto [again, negative_again, other] = ask(io, resolver, true);
  ASSERT_TRUE(again.ok()) << describe(again);
  EXPECT_EQ(again.records, std::vector<std::string>{"127.0.0.2"});
  EXPECT_EQ(negative_again.status, DnsStatus::nxdomain) << describe(negative_again);
  EXPECT_TRUE(other.status == DnsStatus::servfail || other.status == DnsStatus::timeout) << describe(other);
}

TEST(DnsCache, OffByDefaultAndBoundedByMaxTtl) {
  std::string error;
  auto server = UnboundServer::start(error);
  ASSERT_TRUE(server) << error;
  const std::string nameserver = "127.0.0.1:" + std::to_string(server->port());
  asio::io_context io;
  Resolver uncached(io.get_executor(), {nameserver}, 300ms, 1);
  Resolver short_lived(io.get_executor(), {nameserver}, 300ms, 1);
  short_lived.enable_cache(1s);
  ASSERT_TRUE(std::get<0>(ask(io, uncached, false)).ok());
  ASSERT_TRUE(std::get<0>(ask(io, short_lived, false)).ok());
  server.reset();
  EXPECT_FALSE(std::get<0>(ask(io, uncached, false)).ok()) << "no cache unless enabled";
  EXPECT_TRUE(std::get<0>(ask(io, short_lived, false)).ok()) << "within max_ttl";
  std::this_thread::sleep_for(1200ms);
  EXPECT_FALSE(std::get<0>(ask(io, short_lived, false)).ok()) << "max_ttl (1 s) caps the record's TTL (3600 s)";
}
