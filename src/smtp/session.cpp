// The SMTP server session state machine. See session.hpp; replies follow RFC 5321 §4.2.2–4.2.3
// and the enhanced codes of RFC 3463; 421 closes the session (RFC 5321 §3.8); pipelining is
// judged against what was offered (RFC 2920 §3.1).
#include "smtp/session.hpp"

#include <algorithm>

#include <charconv>
#include <fmt/format.h>

namespace gatehouse::smtp {

Session::Session(SessionSettings settings) : settings_(std::move(settings)) {}

void Session::greet(const Reply& banner) {
  send(banner);
  greeted_ = true;
  if (banner.code != 220) closing_ = true;
  run();
}

void Session::receive(std::string_view bytes) {
  if (closing_) return;
  input_.append(bytes);
  run();
}

std::string Session::take_output() { return std::exchange(output_, {}); }

void Session::send(const Reply& reply) { output_ += reply.wire(); }

void Session::send(int code, std::string_view enhanced, std::string_view text) {
  send(Reply{code, std::string(enhanced), std::string(text)});
}

void Session::error(int code, std::string_view enhanced, std::string_view text) {
  send(code, enhanced, text);
  if (++errors_ >= settings_.max_errors) {
    send(421, "4.7.0", fmt::format("{} Error: too many errors", settings_.hostname));
    closing_ = true;
  }
}

void Session::raise(Event event) { pending_ = std::move(event); }

void Session::reset_transaction(bool notify) {
  bool was_open = mail_.has_value() || in_bdat_sequence_;
  mail_.reset();
  recipients_.clear();
  data_.reset();
  chunks_.clear();
  chunk_total_ = 0;
  chunk_bare_newlines_ = 0;
  chunk_pending_cr_ = false;
  in_bdat_sequence_ = false;
  if (notify && was_open) raise(ResetEvent{});
}

void Session::timeout() {
  if (closing_) return;
  send(421, "4.4.2", fmt::format("{} Error: timeout exceeded", settings_.hostname));
  closing_ = true;
  reset_transaction(true);
}

void Session::shutdown() {
  shutting_down_ = true;
  if (!closing_ && !pending_ && !in_transaction() && mode_ == Mode::command) {
    send(421, "4.3.2", fmt::format("{} Service shutting down, try again later", settings_.hostname));
    closing_ = true;
  }
}

void Session::connection_lost() {
  closing_ = true;
  if (!pending_) reset_transaction(true);
}

void Session::tls_established() {
  if (!pending_ || !std::holds_alternative<StartTlsEvent>(*pending_)) return;
  pending_.reset();
  tls_ = true;
  // RFC 3207 §4.2: discard all knowledge obtained from the client before TLS.
  helo_name_.clear();
  esmtp_ = false;
  reset_transaction(false);
  input_.clear();
  input_pos_ = 0;
  run();
}

std::string Session::ehlo_text() const {
  std::string text = settings_.hostname;
  if (settings_.offer_pipelining) text += "\nPIPELINING";
  text += fmt::format("\nSIZE {}", settings_.max_message_size);
  if (settings_.offer_starttls && !tls_) text += "\nSTARTTLS";
  text += "\nENHANCEDSTATUSCODES\n8BITMIME\nCHUNKING\nSMTPUTF8";
  return text;
}

void Session::resolve(const Reply& reply) {
  if (!pending_) return;
  Event event = std::move(*pending_);
  pending_.reset();
  if (auto* helo = std::get_if<HeloEvent>(&event)) {
    if (reply.positive()) {
      helo_name_ = helo->name;
      esmtp_ = helo->extended;
      if (helo->extended)
        send(Reply{250, "", ehlo_text()});
      else
        send(Reply{250, "", settings_.hostname});
    } else {
      send(reply);
    }
  } else if (auto* mail = std::get_if<MailEvent>(&event)) {
    if (reply.positive()) mail_ = std::move(mail->mail);
    send(reply);
  } else if (auto* rcpt = std::get_if<RcptEvent>(&event)) {
    if (reply.positive()) recipients_.push_back(std::move(rcpt->rcpt));
    send(reply);
  } else if (std::holds_alternative<MessageEvent>(event)) {
    send(reply);
    reset_transaction(false);
    rsets_since_message_ = 0;
    if (shutting_down_) {
      send(421, "4.3.2", fmt::format("{} Service shutting down, try again later", settings_.hostname));
      closing_ = true;
    }
  } else if (std::holds_alternative<StartTlsEvent>(event)) {
    pending_ = std::move(event);  // only tls_established() completes it
    return;
  }
  if (reply.code == 421) closing_ = true;
  run();
}

void Session::finish_message(MessageEvent event) {
  mode_ = Mode::command;
  raise(std::move(event));
}

void Session::complete_chunk() {
  mode_ = Mode::command;
  if (chunk_failed_) {
    chunk_failed_ = false;
    return error(chunk_reply_.code, chunk_reply_.enhanced, chunk_reply_.text);
  }
  if (!chunk_last_ && chunk_total_ <= settings_.max_message_size) return send(chunk_reply_);
  if (chunk_last_) chunk_bare_newlines_ += normalize_line_endings({}, chunks_, chunk_pending_cr_, true);
  MessageEvent event;
  event.size = chunk_total_;
  // Normalising bare line ends can make the message larger than the octets sent.
  event.oversize = chunk_total_ > settings_.max_message_size || chunks_.size() > settings_.max_message_size;
  event.bare_newlines = chunk_bare_newlines_;
  event.chunked = true;
  if (!event.oversize) event.message = std::move(chunks_);
  chunks_.clear();
  finish_message(std::move(event));
}

void Session::run() {
  while (greeted_ && !pending_ && !closing_ && input_pos_ < input_.size()) {
    std::string_view avail = std::string_view(input_).substr(input_pos_);
    switch (mode_) {
      case Mode::command: {
        auto nl = avail.find('\n');
        if (nl == std::string_view::npos) {
          // A trailing CR may be the first half of the line's CRLF: it does not count.
          if (avail.size() - (avail.back() == '\r' ? 1 : 0) > settings_.max_command_line) {
            error(500, "5.5.2", "Error: line too long");
            mode_ = Mode::discard_line;
            input_pos_ = input_.size();
          }
          goto out;  // wait for the rest of the line
        }
        std::string_view line = avail.substr(0, nl);
        input_pos_ += nl + 1;
        line_followed_ = input_pos_ < input_.size();
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > settings_.max_command_line)
          error(500, "5.5.2", "Error: line too long");
        else
          handle_line(line);
        break;
      }
      case Mode::discard_line: {
        auto nl = avail.find('\n');
        if (nl == std::string_view::npos) {
          input_pos_ = input_.size();
        } else {
          input_pos_ += nl + 1;
          mode_ = Mode::command;
        }
        break;
      }
      case Mode::data: {
        input_pos_ += data_->consume(avail);
        if (data_->finished()) {
          MessageEvent event;
          event.size = data_->size();
          event.oversize = data_->oversize();
          event.bare_newlines = data_->bare_newlines();
          event.longest_line = data_->longest_line();
          event.message = data_->take_message();
          data_.reset();
          finish_message(std::move(event));
        }
        break;
      }
      case Mode::bdat: {
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_remaining_, avail.size()));
        std::string_view chunk = avail.substr(0, take);
        input_pos_ += take;
        chunk_remaining_ -= take;
        bool ends = chunk_remaining_ == 0;
        if (!chunk_failed_ && chunk_total_ <= settings_.max_message_size)
          chunk_bare_newlines_ += normalize_line_endings(chunk, chunks_, chunk_pending_cr_, false);
        if (ends) complete_chunk();
        break;
      }
    }
  }
out:
  if (input_pos_ > 0 && (input_pos_ == input_.size() || input_pos_ > 65536)) {
    input_.erase(0, input_pos_);
    input_pos_ = 0;
  }
}

void Session::handle_line(std::string_view line) {
  if (line.empty()) return error(500, "5.5.2", "Error: bad syntax");
  if (line.find('\0') != std::string_view::npos) return error(500, "5.5.2", "Error: NUL character in command");
  handle_command(parse_command(line));
}

void Session::handle_command(const Command& cmd) {
  const bool has_arg = !cmd.argument.empty();
  // RFC 2920 §3.1: without PIPELINING the client waits for each reply before the next command.
  // Input already buffered behind a command was sent before its reply. (Nothing needs to follow
  // QUIT; a pipelined EHLO is forgiven, see session.hpp.)
  if (line_followed_ && cmd.verb != Verb::quit && cmd.verb != Verb::ehlo &&
      (cmd.verb == Verb::helo || (!helo_name_.empty() && (!esmtp_ || !settings_.offer_pipelining))))
    unoffered_pipelining_ = true;
  switch (cmd.verb) {
    case Verb::helo:
    case Verb::ehlo: {
      if (!has_arg) return error(501, "5.5.4", fmt::format("Syntax: {} hostname", cmd.verb_text));
      // A bare CR or another control character cannot be part of a domain or address literal
      // (RFC 5321 §4.1.1.1); kept, it would travel into logs, headers and DNS names.
      if (std::any_of(cmd.argument.begin(), cmd.argument.end(),
                      [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
        return error(501, "5.5.2", "Syntax error: control character in host name");
      reset_transaction(false);
      raise(HeloEvent{cmd.argument, cmd.verb == Verb::ehlo});
      return;
    }
    case Verb::mail: {
      if (helo_name_.empty()) return error(503, "5.5.1", "Error: send HELO/EHLO first");
      if (settings_.require_tls && !tls_) return error(530, "5.7.0", "Must issue a STARTTLS command first");
      if (mail_ || in_bdat_sequence_) return error(503, "5.5.1", "Error: nested MAIL command");
      auto parsed = parse_mail_argument(cmd.argument, esmtp_);
      if (!parsed) return error(parsed.error().code, parsed.error().enhanced, parsed.error().message);
      // SIZE= and BODY= after HELO are harmless and common enough in the wild (Postfix, Sendmail
      // and OpenSMTPD accept them): refusing them would turn legitimate mail away. SMTPUTF8 still
      // needs EHLO (parse_mail_argument refuses it), since it changes the address syntax.
      if (parsed->params.size && *parsed->params.size > settings_.max_message_size)
        return error(552, "5.3.4", "Message size exceeds fixed maximum message size");
      raise(MailEvent{std::move(*parsed)});
      return;
    }
    case Verb::rcpt: {
      if (!mail_) return error(503, "5.5.1", "Error: need MAIL command");
      if (in_bdat_sequence_) return error(503, "5.5.1", "Error: RCPT after BDAT");
      if (recipients_.size() >= settings_.max_recipients)
        return send(452, "4.5.3", "Error: too many recipients");
      auto parsed = parse_rcpt_argument(cmd.argument, mail_->params.smtputf8);
      if (!parsed) return error(parsed.error().code, parsed.error().enhanced, parsed.error().message);
      raise(RcptEvent{std::move(*parsed)});
      return;
    }
    case Verb::data: {
      if (has_arg) return error(501, "5.5.4", "Syntax: DATA");
      if (in_bdat_sequence_) return error(503, "5.5.1", "Error: DATA after BDAT");
      if (!mail_) return error(503, "5.5.1", "Error: need MAIL command");
      if (recipients_.empty()) return error(554, "5.5.1", "Error: no valid recipients");
      send(354, "", "End data with <CR><LF>.<CR><LF>");
      mode_ = Mode::data;
      data_.emplace(settings_.max_message_size);
      return;
    }
    case Verb::bdat: {
      // "BDAT <size> [LAST]" (RFC 3030 §2).
      std::string_view arg = cmd.argument;
      auto space = arg.find(' ');
      std::string_view size_text = arg.substr(0, space);
      std::string_view rest = space == std::string_view::npos ? std::string_view{} : arg.substr(space + 1);
      std::uint64_t size = 0;
      auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size);
      bool last = false;
      if (!rest.empty()) {
        if (to_lower_ascii(rest) != "last") return error(501, "5.5.4", "Syntax: BDAT size [LAST]");
        last = true;
      }
      if (size_text.empty() || ec != std::errc{} || p != size_text.data() + size_text.size())
        return error(501, "5.5.4", "Syntax: BDAT size [LAST]");
      chunk_remaining_ = size;
      chunk_last_ = last;
      if (!mail_) {
        chunk_failed_ = true;
        chunk_reply_ = Reply{503, "5.5.1", "Error: need MAIL command"};
      } else if (recipients_.empty()) {
        chunk_failed_ = true;
        chunk_reply_ = Reply{554, "5.5.1", "Error: no valid recipients"};
      } else {
        in_bdat_sequence_ = true;
        chunk_total_ += size;
        chunk_reply_ = Reply{250, "2.0.0", fmt::format("{} octets received", size)};
      }
      mode_ = Mode::bdat;
      if (size == 0) complete_chunk();
      return;
    }
    case Verb::rset:
      if (has_arg) return error(501, "5.5.4", "Syntax: RSET");
      ++rsets_;
      if (++rsets_since_message_ > settings_.max_rsets && settings_.max_rsets > 0) {
        // A client looping on RSET (probing addresses, or holding the connection) sends no mail.
        send(421, "4.7.0", fmt::format("{} Too many RSET commands, closing connection", settings_.hostname));
        closing_ = true;
        too_many_rsets_ = true;
      } else {
        send(250, "2.0.0", "Ok");
      }
      reset_transaction(true);
      return;
    case Verb::noop:
      send(250, "2.0.0", "Ok");
      return;
    case Verb::quit:
      send(221, "2.0.0", "Bye");
      closing_ = true;
      reset_transaction(true);
      return;
    case Verb::vrfy:
      if (!has_arg) return error(501, "5.5.4", "Syntax: VRFY address");
      send(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery");
      return;
    case Verb::expn:
      return error(502, "5.5.1", "Error: command not implemented");
    case Verb::help:
      send(214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS");
      return;
    case Verb::starttls: {
      if (!settings_.offer_starttls) return error(502, "5.5.1", "Error: command not implemented");
      if (tls_) return error(503, "5.5.1", "Error: TLS already active");
      if (has_arg) return error(501, "5.5.4", "Syntax: STARTTLS");
      send(220, "2.0.0", "Ready to start TLS");
      // Anything pipelined after STARTTLS was sent in the clear: drop it (RFC 3207 §4.2,
      // the command-injection attack).
      input_.clear();
      input_pos_ = 0;
      reset_transaction(false);
      raise(StartTlsEvent{});
      return;
    }
    case Verb::auth:
      return error(502, "5.5.1", "Error: authentication not enabled");
    case Verb::lhlo:
    case Verb::unknown:
      return error(500, "5.5.2", "Error: command not recognized");
  }
}

}  // namespace gatehouse::smtp
