// The clamd INSTREAM protocol without I/O (clamd(8), "INSTREAM"): the request is the command
// "zINSTREAM\0" followed by the data in chunks, each preceded by its length as a 4-byte unsigned
// integer in network byte order, and ended by a zero-length chunk. The "z" prefix makes clamd end
// its reply with a NUL byte: "stream: OK", "stream: NAME FOUND", or "... ERROR" (for example
// "INSTREAM size limit exceeded. ERROR" when the data exceeds clamd's StreamMaxLength).
// Also the scanner address forms of the configuration ("unix:/path", "/path", "tcp:host:port").
// clamd_client.hpp puts this on a socket.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace gatehouse::clamd {

// Where clamd listens: a unix socket (clamd.conf LocalSocket) or TCP (TCPSocket/TCPAddr).
struct ScannerAddress {
  enum class Kind { unix_socket, tcp };
  Kind kind = Kind::unix_socket;
  std::string path;              // unix_socket
  std::string host;              // tcp: an IP address (no name lookups on the scanning path)
  std::uint16_t port = 0;        // tcp
  std::string text;              // as configured, for logs
  // "unix:/run/clamav/clamd.ctl", "/run/clamav/clamd.ctl", "tcp:127.0.0.1:3310", "tcp:[::1]:3310".
  static Result<ScannerAddress> parse(std::string_view text);
};

inline constexpr std::string_view instream_command{"zINSTREAM\0", 10};
inline constexpr std::size_t default_chunk_size = 64 * 1024;

// The 4-byte big-endian length that precedes a chunk.
std::string chunk_length(std::uint32_t length);

// Cuts `data` into the INSTREAM request, one piece at a time: send each piece's `header`, then its
// `payload`. The first header carries the command too; the last piece is the zero-length
// terminator (an empty payload). The views stay valid until the next call to next() and while the
// data lives.
class InstreamEncoder {
 public:
  explicit InstreamEncoder(std::string_view data, std::size_t chunk_size = default_chunk_size);

  struct Piece {
    std::string_view header;
    std::string_view payload;
  };
  bool done() const { return finished_; }
  Piece next();   // only while !done()

 private:
  std::string_view data_;
  std::size_t chunk_size_;
  std::size_t offset_ = 0;
  bool started_ = false;
  bool finished_ = false;
  std::string header_;
};

// What clamd said about the data.
struct ScanReply {
  enum class Kind { clean, infected, error };
  // Why an error: clamd's own ERROR or a reply not understood (scanner), no connection
  // (unreachable), no verdict in time (timeout), the connection broke (connection), a bad address.
  enum class Failure { none, scanner, unreachable, timeout, connection, address };
  Kind kind = Kind::error;
  Failure failure = Failure::scanner;
  std::string text;              // infected: the signature name; error: clamd's or our description
};

// The reply complete in `received`, without its terminating NUL, or nullopt while it is still
// incomplete. A reply that grows beyond `limit` bytes without a NUL is returned as it is (the
// caller parses it, which reports it as an error).
std::optional<std::string_view> complete_reply(std::string_view received, std::size_t limit = 4096);

// Parses one reply (terminating NUL or newline allowed): "stream: OK" → clean, "stream: NAME FOUND"
// → infected NAME, "… ERROR" → error with clamd's text, anything else → error "unexpected reply".
ScanReply parse_reply(std::string_view reply);

// A reply made printable for logs and SMTP replies (control characters and non-ASCII as '?'),
// at most `limit` characters.
std::string printable(std::string_view text, std::size_t limit = 200);

}  // namespace gatehouse::clamd
