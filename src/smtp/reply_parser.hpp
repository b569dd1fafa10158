// Parses SMTP replies received from a server, sans-I/O (RFC 5321 §4.2: "code-text" continuation
// lines, "code text" final line; RFC 2034 enhanced status codes split off when present).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "smtp/reply.hpp"

namespace gatehouse::smtp {

class ReplyParser {
 public:
  // Appends received bytes.
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete reply, if one has arrived. A malformed line yields a reply with code 0.
  std::optional<Reply> next();
  bool empty() const { return buffer_.empty(); }
  // Replies longer than this are malformed (protects the client from a hostile server).
  static constexpr std::size_t kMaxReplySize = 64 * 1024;

 private:
  std::string buffer_;
};

}  // namespace gatehouse::smtp
