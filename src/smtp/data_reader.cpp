// DATA body reader and transparency (RFC 5321 §4.1.1.4, §4.5.2). See data_reader.hpp.
#include "smtp/data_reader.hpp"

#include <algorithm>
#include <cstring>

namespace gatehouse::smtp {

void DataReader::append(std::string_view bytes) {
  size_ += bytes.size();
  line_length_ += bytes.size();
  if (size_ > max_size_) {
    // Over the limit: the message will be refused, keep nothing (and no half line ending).
    if (!message_.empty()) std::string().swap(message_);
    return;
  }
  message_.append(bytes);
}

void DataReader::end_line(bool real) {
  longest_line_ = std::max(longest_line_, line_length_);
  line_length_ = 0;
  append("\r\n");
  line_length_ = 0;
  if (!real) ++bare_newlines_;
}

std::size_t DataReader::consume(std::string_view input) {
  std::size_t i = 0;
  const std::size_t n = input.size();
  while (i < n && !finished_) {
    switch (state_) {
      case State::line_start: {
        char c = input[i];
        if (c == '.') { state_ = State::dot; ++i; break; }
        state_ = State::in_line;
        break;
      }
      case State::in_line: {
        // Fast path: copy the run of ordinary bytes up to the next CR or LF.
        std::size_t j = i;
        while (j < n && input[j] != '\r' && input[j] != '\n') ++j;
        if (j > i) append(input.substr(i, j - i));
        i = j;
        if (i == n) break;
        if (input[i] == '\r') { state_ = State::after_cr; ++i; break; }
        // Bare LF: normalise; the next byte does not start a real line.
        end_line(false);
        ++i;
        break;
      }
      case State::after_cr: {
        if (input[i] == '\n') {
          end_line(true);
          state_ = State::line_start;
          ++i;
        } else {
          end_line(false);  // bare CR
          state_ = State::in_line;
        }
        break;
      }
      case State::dot: {
        char c = input[i];
        if (c == '\r') { state_ = State::dot_cr; ++i; break; }
        // A leading dot followed by more text is transparency stuffing: drop it (§4.5.2).
        state_ = State::in_line;
        break;
      }
      case State::dot_cr: {
        if (input[i] == '\n') {
          finished_ = true;
          ++i;
          break;
        }
        // "<CRLF>.<CR>" + something: not a terminator. The dot was stuffing; the CR is bare.
        end_line(false);
        state_ = State::in_line;
        break;
      }
    }
  }
  return i;
}

std::uint64_t normalize_line_endings(std::string_view chunk, std::string& out, bool& pending_cr, bool last) {
  std::uint64_t fixed = 0;
  out.reserve(out.size() + chunk.size() + 2);
  for (char c : chunk) {
    if (pending_cr) {
      pending_cr = false;
      out += "\r\n";
      if (c == '\n') continue;
      ++fixed;  // bare CR
    }
    if (c == '\r') { pending_cr = true; continue; }
    if (c == '\n') { out += "\r\n"; ++fixed; continue; }
    out += c;
  }
  if (last && pending_cr) {
    pending_cr = false;
    out += "\r\n";
    ++fixed;
  }
  return fixed;
}

std::string dot_stuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 64 + 8);
  bool line_start = true;
  std::size_t i = 0;
  while (i < message.size()) {
    if (line_start && message[i] == '.') out += '.';
    auto nl = message.find("\r\n", i);
    if (nl == std::string_view::npos) {
      out.append(message.substr(i));
      out += "\r\n";
      i = message.size();
      break;
    }
    out.append(message.substr(i, nl + 2 - i));
    i = nl + 2;
    line_start = true;
  }
  out += ".\r\n";
  return out;
}

}  // namespace gatehouse::smtp
