// The SMTP server session as a sans-I/O state machine (RFC 5321 §3, §4.1, §4.3.2 sequencing;
// RFC 2920 PIPELINING; RFC 3030 CHUNKING/BDAT; RFC 3207 STARTTLS; RFC 1870 SIZE; RFC 6531).
//
// The session consumes bytes and produces reply bytes and *events*. An event that needs a
// decision (MAIL, RCPT, end of message, STARTTLS, …) pauses the session: pipelined input stays
// buffered until the host calls resolve() with the reply. No sockets, no clocks: the network
// layer, tests and fuzzers drive it alike.
//
// It also notes protocol abuse for the anti-spam checks: commands pipelined where PIPELINING was
// not offered (RFC 2920 §3.1: after HELO, or after an EHLO reply without it), the number of RSET
// commands (more than max_rsets with no message in between: 421 and close) and of protocol errors
// (max_errors: 421 and close).
// A 421 reply from the host closes the session (RFC 5321 §3.8).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "smtp/command.hpp"
#include "smtp/data_reader.hpp"
#include "smtp/reply.hpp"

namespace gatehouse::smtp {

struct SessionSettings {
  std::string hostname = "localhost";
  std::size_t max_message_size = 50 * 1024 * 1024;
  std::size_t max_recipients = 100;
  std::size_t max_command_line = 2048;   // §4.5.3.1.4 allows 512 + extension parameters
  std::size_t max_errors = 20;
  // RSET commands before 421, counted since the last message (a client reusing its connection,
  // as Postfix does, sends RSET before each message); 0 = unlimited.
  std::size_t max_rsets = 0;
  bool offer_pipelining = true;          // advertise PIPELINING (RFC 2920) in the EHLO reply
  bool offer_starttls = false;
  bool require_tls = false;              // MAIL refused until STARTTLS (RFC 3207 §4)
};

struct HeloEvent { std::string name; bool extended = false; };
struct MailEvent { MailArgument mail; };
struct RcptEvent { RcptArgument rcpt; };
struct MessageEvent {
  std::string message;                   // unstuffed, CRLF line endings
  std::uint64_t size = 0;
  bool oversize = false;
  std::uint64_t bare_newlines = 0;
  std::size_t longest_line = 0;
  bool chunked = false;                  // arrived by BDAT
};
struct ResetEvent {};                    // the open transaction was abandoned (RSET, HELO, QUIT, close)
struct StartTlsEvent {};                 // host: flush output, handshake, then tls_established()
using Event = std::variant<HeloEvent, MailEvent, RcptEvent, MessageEvent, ResetEvent, StartTlsEvent>;

class Session {
 public:
  explicit Session(SessionSettings settings);

  // The greeting. A non-220 greeting (554/421) closes the session after it is sent.
  void greet(const Reply& banner);
  // Feeds received bytes and runs the state machine as far as it can.
  void receive(std::string_view bytes);

  // The event waiting for resolve(), if any. While one is pending, no further input is processed.
  const std::optional<Event>& pending() const { return pending_; }
  std::optional<Event>& pending() { return pending_; }
  // Answers the pending event. For HELO/MAIL/RCPT/message the reply is sent to the client (a
  // positive MAIL/RCPT reply also updates the transaction). ResetEvent ignores the reply. A 421
  // reply closes the session once it is sent; input still buffered is not answered.
  void resolve(const Reply& reply);
  // STARTTLS completed: the session starts over (RFC 3207 §4.2) with TLS on.
  void tls_established();

  // Bytes to send to the client (replies), emptied by the call.
  std::string take_output();
  bool has_output() const { return !output_.empty(); }
  // The client sent QUIT, the session gave 421, or the greeting refused: close after sending.
  bool closing() const { return closing_; }
  bool in_data() const { return mode_ != Mode::command; }
  bool tls() const { return tls_; }
  bool esmtp() const { return esmtp_; }
  const std::string& helo_name() const { return helo_name_; }
  bool in_transaction() const { return mail_.has_value(); }

  // The host's idle timer fired (§4.5.3.2): 421 and close.
  void timeout();
  // The server is shutting down: 421 now if no transaction is open, else after it ends.
  void shutdown();
  // The connection was lost; emits ResetEvent if a transaction was open.
  void connection_lost();

  // The open transaction.
  const std::optional<MailArgument>& mail() const { return mail_; }
  const std::vector<RcptArgument>& recipients() const { return recipients_; }

  std::size_t errors() const { return errors_; }
  std::size_t rsets() const { return rsets_; }   // on the whole connection
  bool too_many_rsets() const { return too_many_rsets_; }   // closed for exceeding max_rsets
  // The client sent a further command in the same input as a command it had to wait on, where
  // PIPELINING was not offered: after HELO (a HELO command itself included), or after EHLO when
  // the reply did not advertise it. A pipelined EHLO is not counted: a client may remember from an
  // earlier visit that we offer PIPELINING. Sticky for the connection.
  bool unoffered_pipelining() const { return unoffered_pipelining_; }

 private:
  enum class Mode { command, data, bdat, discard_line };
  void run();
  void handle_line(std::string_view line);
  void handle_command(const Command& cmd);
  void send(const Reply& reply);
  void send(int code, std::string_view enhanced, std::string_view text);
  void error(int code, std::string_view enhanced, std::string_view text);
  void raise(Event event);
  void reset_transaction(bool notify);
  void finish_message(MessageEvent event);
  void complete_chunk();
  std::string ehlo_text() const;

  SessionSettings settings_;
  std::string input_;
  std::size_t input_pos_ = 0;
  std::string output_;
  std::optional<Event> pending_;
  Mode mode_ = Mode::command;
  bool greeted_ = false;
  bool closing_ = false;
  bool tls_ = false;
  bool esmtp_ = false;
  bool shutting_down_ = false;
  bool starttls_pending_ = false;
  std::string helo_name_;
  std::optional<MailArgument> mail_;
  std::vector<RcptArgument> recipients_;
  std::size_t errors_ = 0;
  std::size_t rsets_ = 0;
  std::size_t rsets_since_message_ = 0;
  bool too_many_rsets_ = false;
  bool unoffered_pipelining_ = false;
  bool line_followed_ = false;           // more input was buffered behind the command being handled

  // DATA
  std::optional<DataReader> data_;
  // BDAT
  std::string chunks_;
  std::uint64_t chunk_remaining_ = 0;
  std::uint64_t chunk_total_ = 0;
  std::uint64_t chunk_bare_newlines_ = 0;
  bool chunk_last_ = false;
  bool chunk_failed_ = false;            // the BDAT command was refused: read and discard
  bool chunk_pending_cr_ = false;
  bool in_bdat_sequence_ = false;
  Reply chunk_reply_;
};

}  // namespace gatehouse::smtp
