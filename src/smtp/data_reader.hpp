// Reads the body of a DATA command, sans-I/O (RFC 5321 §4.1.1.4 end of data, §4.5.2 transparency).
//
// DATA ends only on <CRLF>.<CRLF>. Every other would-be terminator used for SMTP smuggling
// (<LF>.<LF>, <CR>.<CR>, <LF>.<CRLF>, <CRLF>.<CR>, …) is message content. Bare CR and bare LF are
// normalised to CRLF (and counted) so they never reach the back-end; a line that then begins with
// a dot is dot-stuffed again when relayed, so no back-end can be made to split the message.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gatehouse::smtp {

class DataReader {
 public:
  explicit DataReader(std::size_t max_size) : max_size_(max_size) {}

  // Consumes input; returns the number of bytes used. Stops right after the terminator, so
  // bytes that follow (pipelined commands) are left to the caller.
  std::size_t consume(std::string_view input);
  bool finished() const { return finished_; }

  // The message without dot-stuffing, CRLF line endings. Empty once `oversize()`.
  const std::string& message() const { return message_; }
  std::string take_message() { return std::move(message_); }
  std::uint64_t size() const { return size_; }          // full size, even when oversize
  bool oversize() const { return size_ > max_size_; }
  std::uint64_t bare_newlines() const { return bare_newlines_; }
  std::size_t longest_line() const { return longest_line_; }

 private:
  enum class State { line_start, in_line, after_cr, dot, dot_cr };
  void append(std::string_view bytes);
  void end_line(bool real);

  std::size_t max_size_;
  State state_ = State::line_start;
  std::string message_;
  std::uint64_t size_ = 0;
  std::uint64_t bare_newlines_ = 0;
  std::size_t line_length_ = 0;
  std::size_t longest_line_ = 0;
  bool finished_ = false;
};

// Normalises a chunk of BDAT content (RFC 3030) the same way: bare CR/LF become CRLF. `pending_cr`
// carries a trailing CR from one chunk to the next. Returns the number of bare line breaks fixed.
std::uint64_t normalize_line_endings(std::string_view chunk, std::string& out, bool& pending_cr, bool last);

// Dot-stuffs a CRLF-normalised message for sending with DATA and appends "<CRLF>.<CRLF>".
std::string dot_stuff(std::string_view message);

}  // namespace gatehouse::smtp
