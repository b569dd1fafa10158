// libFuzzer target for the sans-I/O SMTP server session (src/smtp/session.hpp; RFC 5321 replies
// §4.2, DATA transparency §4.5.2, RFC 3030 BDAT, RFC 3207 STARTTLS), driven like the network layer
// drives it: bytes arrive in pieces, every event is answered, StartTlsEvent is completed with
// tls_established(), and the connection may time out, shut down or drop.
//
// Input layout: 4 setting bytes, then the client's bytes. Decisions (piece sizes, the reply to each
// event, timeouts, …) are taken from the end of the input with FuzzedDataProvider, one byte each;
// a zero byte (or none left) means "positive reply, feed all the rest at once". So the 4 setting
// bytes, a plain SMTP dialogue and two zero bytes (action, piece size) make a readable seed.
//
// Invariants checked:
// - the output is whole reply lines: each ends with CRLF, has no other CR or LF, starts with three
//   digits followed by ' ' or '-' (or nothing), and a take_output() never ends inside a multi-line reply;
// - once the session is closing and has no pending event, it raises no event and sends nothing more;
// - while an event is pending, received bytes are only buffered: no output, same event;
// - MessageEvent.message has no bare CR or bare LF, and never exceeds max_message_size.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "smtp/session.hpp"

using namespace gatehouse::smtp;

bool fuzz_invariant_ignored(const char* what);  // fuzz/fuzz_support.cpp

namespace {

std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 400)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    }
  }
  return out;
}

// Aborts (a crash for libFuzzer) unless FUZZ_IGNORE names this invariant (fuzz_support.cpp).
void fail(const char* what, std::string_view detail = {}) {
  if (fuzz_invariant_ignored(what)) return;
  std::fprintf(stderr, "smtp_session invariant violated: %s\n  %s\n", what, printable(detail).c_str());
  std::abort();
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

void check_output(std::string_view output) {
  bool inside_multiline = false;
  while (!output.empty()) {
    const auto crlf = output.find("\r\n");
    if (crlf == std::string_view::npos) return fail("output does not end with CRLF", output);
    const std::string_view line = output.substr(0, crlf);
    output.remove_prefix(crlf + 2);
    if (line.find_first_of("\r\n") != std::string_view::npos) fail("bare CR or LF inside a reply line", line);
    if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
      fail("reply line does not start with three digits", line);
    if (line.size() > 3 && line[3] != ' ' && line[3] != '-') fail("reply code not followed by ' ' or '-'", line);
    inside_multiline = line.size() > 3 && line[3] == '-';
  }
  if (inside_multiline) fail("output ends inside a multi-line reply");
}

bool has_bare_line_break(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) return true;
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return true;
  }
  return false;
}

class Driver {
 public:
  Driver(SessionSettings settings, FuzzedDataProvider& decisions)
      : max_message_size_(settings.max_message_size), session_(std::move(settings)), decisions_(decisions) {}

  Session& session() { return session_; }

  void drain_output() {
    const std::string output = session_.take_output();
    check_output(output);
    if (finished_ && !output.empty()) fail("output after the session finished closing", output);
  }

  // Answers events until none is pending, as the host does.
  void resolve_all() {
    for (int rounds = 0; session_.pending() && rounds < 100000; ++rounds) {
      drain_output();
      check_event(*session_.pending());
      if (std::holds_alternative<StartTlsEvent>(*session_.pending())) {
        if (decisions_.ConsumeIntegral<std::uint8_t>() >= 240) {
          // resolve() must leave STARTTLS pending: only tls_established() completes it.
          session_.resolve(Reply{250, "2.0.0", "ignored"});
          if (!session_.pending() || !std::holds_alternative<StartTlsEvent>(*session_.pending()))
            fail("resolve() completed a StartTlsEvent");
        }
        session_.tls_established();
        if (!session_.tls() && !session_.closing()) fail("tls_established() did not turn TLS on");
      } else {
        session_.resolve(choose_reply(*session_.pending()));
      }
    }
    drain_output();
    note_closing();
  }

  void receive(std::string_view bytes) {
    if (session_.pending()) {
      // Pipelined input while the host is still deciding: it must only be buffered.
      drain_output();
      const Event before = *session_.pending();
      session_.receive(bytes);
      if (session_.has_output()) fail("output while an event is pending", session_.take_output());
      if (!session_.pending() || session_.pending()->index() != before.index()) fail("pending event changed by receive()");
      return;
    }
    session_.receive(bytes);
    if (finished_ && session_.pending()) fail("event after the session finished closing");
  }

  // Closing with nothing pending: from here on nothing may happen.
  void note_closing() {
    if (session_.closing() && !session_.pending()) finished_ = true;
  }

  void check_after(const char* action) {
    if (finished_ && session_.pending()) fail("event after the session finished closing", action);
  }

  // The connection dropped. After a close this may still raise the ResetEvent for a transaction
  // left open (e.g. 421 after too many errors); nothing else.
  void lose_connection() {
    drain_output();
    const bool had_pending = session_.pending().has_value();
    session_.connection_lost();
    if (finished_ && session_.pending()) {
      if (!std::holds_alternative<ResetEvent>(*session_.pending())) fail("connection_lost() raised an event other than ResetEvent");
      reset_after_close_ = true;
    }
    if (!had_pending && session_.pending() && !std::holds_alternative<ResetEvent>(*session_.pending()))
      fail("connection_lost() raised an event other than ResetEvent");
    if (session_.has_output()) fail("connection_lost() produced output", session_.take_output());
    resolve_all();
  }

 private:
  void check_event(const Event& event) {
    if (finished_ && !std::exchange(reset_after_close_, false)) fail("event after the session finished closing");
    if (const auto* message = std::get_if<MessageEvent>(&event)) {
      if (has_bare_line_break(message->message))
        fail(message->oversize ? "bare CR or LF in an oversize (truncated) MessageEvent.message"
                               : "bare CR or LF in MessageEvent.message",
             message->message);
      if (message->message.size() > max_message_size_) fail("MessageEvent.message exceeds max_message_size", message->message);
    }
  }

  Reply choose_reply(const Event& event) {
    const std::uint8_t choice = decisions_.ConsumeIntegral<std::uint8_t>();
    if (choice >= 250) return Reply{421, "4.3.0", "closing"};
    if (choice >= 230) return Reply{451, "4.7.1", "try again later"};
    if (choice >= 200) return Reply{550, "5.7.1", "refused\nsecond line"};
    if (std::holds_alternative<MessageEvent>(event)) return Reply{250, "2.0.0", "queued as ABC"};
    return Reply{250, "2.1.0", "Ok"};
  }

  std::size_t max_message_size_;
  Session session_;
  FuzzedDataProvider& decisions_;
  bool finished_ = false;
  bool reset_after_close_ = false;
};

SessionSettings settings_from(const std::uint8_t* bytes) {
  static constexpr std::size_t kMessageSizes[] = {0, 1, 10, 64, 100, 1000, 4096, 50 * 1024 * 1024};
  SessionSettings settings;
  settings.hostname = "mx.example";
  settings.offer_starttls = bytes[0] & 0x01;
  settings.require_tls = bytes[0] & 0x02;
  settings.max_message_size = kMessageSizes[bytes[1] % 8];
  settings.max_recipients = (bytes[2] & 0x0f) == 0 ? 100 : (bytes[2] & 0x0f);
  settings.max_errors = (bytes[2] >> 4) == 0 ? 20 : (bytes[2] >> 4);
  settings.max_command_line = bytes[3] < 128 ? 2048 : (bytes[3] - 128) * 8 + 8;
  return settings;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kSettingBytes = 4;
  if (size < kSettingBytes) return 0;
  const bool refuse_greeting = (data[0] & 0xf0) == 0xf0;
  FuzzedDataProvider input(data + kSettingBytes, size - kSettingBytes);
  Driver driver(settings_from(data), input);
  Session& session = driver.session();

  session.greet(refuse_greeting ? Reply{554, "5.7.1", "no service for you"} : Reply{220, "", "mx.example ESMTP"});
  driver.drain_output();
  driver.note_closing();

  while (input.remaining_bytes() > 0) {
    const std::uint8_t action = input.ConsumeIntegral<std::uint8_t>();
    const std::uint8_t piece_size = input.ConsumeIntegral<std::uint8_t>();
    const std::string piece = piece_size == 0 ? input.ConsumeRemainingBytesAsString()
                                              : input.ConsumeBytesAsString(piece_size);
    driver.receive(piece);
    switch (action) {
      case 251: session.timeout(); driver.check_after("timeout"); break;
      case 252: session.shutdown(); driver.check_after("shutdown"); break;
      case 253: driver.lose_connection(); break;
      case 254: continue;  // leave the event pending; the next piece arrives meanwhile
      default: break;
    }
    driver.resolve_all();
  }
  driver.lose_connection();
  return 0;
}
