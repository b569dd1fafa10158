// The client side of SMTP (RFC 5321) and LMTP (RFC 2033) towards a back-end mail server, on
// Asio coroutines: used live during a client's transaction, by the retry queue, and by the
// recovery commands. Every step has a deadline; a transport failure is an Error value, a reply
// from the server (even 5xx) is a Reply.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"
#include "smtp/reply.hpp"

namespace gatehouse::delivery {

struct BackendCapabilities {
  bool pipelining = false, size = false, eightbitmime = false, smtputf8 = false, chunking = false;
  std::uint64_t max_size = 0;
};

class BackendConnection {
 public:
  struct Timeouts {
    std::chrono::seconds connect{10};
    std::chrono::seconds command{60};
    std::chrono::seconds data{300};
  };

  // Coroutine parameters are taken by value: g++ 12 can destroy a temporary bound to a reference
  // parameter before the coroutine is done with it.

  // Connects, reads the greeting and says EHLO (LHLO for LMTP). A refusal at greeting or EHLO
  // is returned as Error with the server's reply in the text.
  static boost::asio::awaitable<Result<std::unique_ptr<BackendConnection>>> open(
      boost::asio::any_io_executor executor, const BackendAddress& address, std::string helo_name, Timeouts timeouts);

  ~BackendConnection();
  BackendConnection(const BackendConnection&) = delete;
  BackendConnection& operator=(const BackendConnection&) = delete;

  boost::asio::awaitable<Result<smtp::Reply>> mail(std::string sender, bool eightbit, bool smtputf8,
                                                   std::uint64_t size);
  boost::asio::awaitable<Result<smtp::Reply>> rcpt(std::string recipient);
  // MAIL and the first RCPT in one round trip when the server offers PIPELINING (RFC 2920).
  // The RCPT result is only meaningful when MAIL was accepted.
  boost::asio::awaitable<std::pair<Result<smtp::Reply>, Result<smtp::Reply>>> mail_and_rcpt(
      std::string sender, bool eightbit, bool smtputf8, std::uint64_t size, std::string recipient);
  // Sends the message (CRLF-normalised, unstuffed). SMTP gives one reply; LMTP one per accepted
  // recipient (RFC 2033 §4.2), in the order of the RCPT commands.
  boost::asio::awaitable<Result<std::vector<smtp::Reply>>> data(const std::string& message, std::size_t accepted_recipients);
  boost::asio::awaitable<Result<smtp::Reply>> rset();
  boost::asio::awaitable<void> quit();

  // Still connected and between transactions, so it may go back to a pool.
  bool reusable() const { return healthy_; }
  const BackendCapabilities& capabilities() const { return capabilities_; }
  const BackendAddress& address() const { return address_; }
  std::chrono::steady_clock::time_point last_used() const { return last_used_; }

 private:
  struct Transport;
  BackendConnection(std::unique_ptr<Transport> transport, BackendAddress address, Timeouts timeouts);
  boost::asio::awaitable<Result<smtp::Reply>> command(std::string line, std::chrono::seconds timeout);
  boost::asio::awaitable<Result<smtp::Reply>> read_reply(std::chrono::seconds timeout);
  boost::asio::awaitable<Status> write(std::string bytes, std::chrono::seconds timeout);

  std::unique_ptr<Transport> transport_;
  BackendAddress address_;
  Timeouts timeouts_;
  BackendCapabilities capabilities_;
  bool healthy_ = true;
  std::chrono::steady_clock::time_point last_used_;
};

// Delivers one message in a fresh connection: MAIL, every RCPT, DATA, QUIT. Returns one reply per
// recipient (the RCPT refusal, or the data reply), or an Error if the transport failed before any
// recipient was settled.
struct RecipientOutcome {
  std::string recipient;
  smtp::Reply reply;
};
boost::asio::awaitable<Result<std::vector<RecipientOutcome>>> deliver_once(
    boost::asio::any_io_executor executor, const BackendAddress& address, const std::string& helo_name,
    BackendConnection::Timeouts timeouts, const std::string& sender, const std::vector<std::string>& recipients,
    const std::string& message);

}  // namespace gatehouse::delivery
