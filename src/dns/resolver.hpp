// Asynchronous DNS resolver for Boost.Asio C++20 coroutines, built on c-ares.
//
// Looks up the record types an SMTP gateway needs: PTR (reverse names, RFC 1034 §5.2.1 in-addr.arpa
// and RFC 3596 §2.5 ip6.arpa), A (RFC 1035), AAAA (RFC 3596), MX (RFC 1035 §3.3.9, ordered by
// preference as RFC 5321 §5.1 uses them) and TXT (RFC 1035 §3.3.14). Answers distinguish NXDOMAIN
// from NODATA (RFC 2308), because DNS block lists, SPF and reverse-DNS checks treat them differently.
//
// Answers may be cached for their TTL (enable_cache), so repeated lookups of a busy gateway (the
// same sender domains, the same client addresses) cost no round trip.
//
// Every c-ares call happens on one private thread that owns the channel and polls its sockets, so the
// callers' io_context threads never block; each answer resumes the awaiting coroutine on that
// coroutine's own executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::dns {

namespace detail {
class ResolverEngine;  // the c-ares channel and the thread that drives it (resolver.cpp)
}

enum class DnsStatus {
  ok,        // the name has records of the asked type
  nxdomain,  // the name does not exist (RCODE 3)
  nodata,    // the name exists but has no record of the asked type
  servfail,  // the server failed or refused to answer, or no server could be reached
  timeout,   // no answer within timeout × tries
  error,     // anything else: malformed name or answer, resolver shut down, out of memory, ...
};

std::string_view to_string(DnsStatus status);

template <class T>
struct DnsAnswer {
  DnsStatus status = DnsStatus::error;
  std::vector<T> records;
  std::string error;  // a human-readable reason when status is not ok, empty otherwise

  bool ok() const { return status == DnsStatus::ok; }
};

struct MxRecord {
  int preference = 0;
  std::string host;  // without the trailing dot

  friend bool operator==(const MxRecord&, const MxRecord&) = default;
};

// The reverse-lookup name of an IPv4 or IPv6 address ("2.0.0.127.in-addr.arpa",
// "5.2.0.0. ... .8.b.d.0.1.0.0.2.ip6.arpa"); IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) use the IPv4
// form. Empty when `ip` is not a textual address.
std::string reverse_lookup_name(std::string_view ip);

class Resolver {
 public:
  // nameservers: "127.0.0.1:5353", "[::1]:53", "192.0.2.1" (port 53); empty means the system
  // configuration (/etc/resolv.conf). timeout is per try; tries is how often each server is asked.
  // Throws std::invalid_argument for an unusable nameserver list and std::runtime_error when c-ares
  // cannot start. `executor` runs completions for handlers that have no executor of their own; the
  // coroutines below always resume on the executor they were awaited from.
  Resolver(boost::asio::any_io_executor executor, std::vector<std::string> nameservers,
           std::chrono::milliseconds timeout, int tries = 2);
  // Stops the resolver thread; queries still in flight complete with DnsStatus::error.
  ~Resolver();

  // Keeps answers (positive, NXDOMAIN and NODATA; never failures) for their TTL (RFC 1035 §3.2.1;
  // negative answers for the SOA's minimum, RFC 2308 §5), at most `max_ttl`, at most `max_entries`
  // names. A hit is answered without leaving the caller's thread. Off until called; call before the
  // first query. max_ttl 0 keeps it off.
  void enable_cache(std::chrono::seconds max_ttl, std::size_t max_entries = 100000);

  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Host names of an IPv4 or IPv6 address (every PTR record, without trailing dots).
  boost::asio::awaitable<DnsAnswer<std::string>> ptr(std::string ip);
  // The client's name for checks and trace headers: the first PTR name, "" when there is none
  // (NXDOMAIN/NODATA); `error` says why the lookup failed (timeout, servfail), "" otherwise.
  struct ClientName {
    std::string name;
    std::string error;
  };
  boost::asio::awaitable<ClientName> client_name(std::string ip);
  // Textual addresses ("192.0.2.1", "2001:db8::1"); CNAME chains in the answer are followed.
  boost::asio::awaitable<DnsAnswer<std::string>> a(std::string name);
  boost::asio::awaitable<DnsAnswer<std::string>> aaaa(std::string name);
  // Mail exchangers sorted by preference (lowest first); equal preferences keep the server's order.
  boost::asio::awaitable<DnsAnswer<MxRecord>> mx(std::string name);
  // One entry per TXT record: its character-strings concatenated without separators (RFC 7208 §3.3).
  boost::asio::awaitable<DnsAnswer<std::string>> txt(std::string name);

 private:
  // Shared with the coroutines, so a query awaited after the Resolver is gone fails cleanly.
  std::shared_ptr<detail::ResolverEngine> engine_;
};

}  // namespace gatehouse::dns
