// libFuzzer target for the SMTP reply parser used by the back-end relay client
// (src/smtp/reply_parser.hpp; RFC 5321 §4.2 reply lines, RFC 2034 enhanced status codes), which
// reads whatever a possibly hostile or broken server sends.
//
// Input layout: 2 setting bytes (a seed for the piece sizes, a repeat count), then the server's
// bytes. The bytes are repeated so that inputs can exceed ReplyParser::kMaxReplySize (64 KiB).
//
// Invariants checked:
// - no crash, and memory stays bounded: a returned reply's text is never longer than
//   kMaxReplySize plus one received piece;
// - a well-formed reply has a code of 100-999 and an enhanced code that is empty or
//   "class.subject.detail" with the class digit of the code; a malformed one has code 0;
// - a parsed reply with code 200-599 sent on with Reply::wire() (as the relay does) parses back as
//   one reply with the same code and enhanced code. (The text is not compared: a non-conforming
//   reply, e.g. enhanced codes on some lines only, legitimately changes shape.)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>

#include "smtp/reply_parser.hpp"

using gatehouse::smtp::Reply;
using gatehouse::smtp::ReplyParser;

bool fuzz_invariant_ignored(const char* what);  // fuzz/fuzz_support.cpp

namespace {

// Aborts (a crash for libFuzzer) unless FUZZ_IGNORE names this invariant (fuzz_support.cpp).
void fail(const char* what, const Reply& reply) {
  if (fuzz_invariant_ignored(what)) return;
  std::fprintf(stderr, "reply_parser invariant violated: %s\n  code=%d enhanced=\"%s\" text size %zu\n", what,
               reply.code, reply.enhanced.c_str(), reply.text.size());
  std::abort();
}

bool is_enhanced_code(const std::string& text, int code) {
  // class "." subject "." detail: 1 digit, 1-3 digits, 1-3 digits (RFC 3463).
  if (text.size() < 5 || text[0] != static_cast<char>('0' + code / 100) || text[1] != '.') return false;
  std::size_t dots = 0, digits = 0;
  for (std::size_t i = 2; i < text.size(); ++i) {
    if (text[i] == '.') {
      if (digits == 0) return false;
      ++dots;
      digits = 0;
    } else if (text[i] >= '0' && text[i] <= '9') {
      ++digits;
    } else {
      return false;
    }
  }
  return dots == 1 && digits > 0;
}

void check_reply(const Reply& reply, std::size_t largest_piece) {
  if (reply.text.size() > ReplyParser::kMaxReplySize + largest_piece) fail("reply larger than the limit", reply);
  if (reply.code == 0) return;
  if (reply.code < 100 || reply.code > 999) fail("code outside 100-999", reply);
  if (!reply.enhanced.empty() && !is_enhanced_code(reply.enhanced, reply.code)) fail("malformed enhanced code", reply);

  // What the relay does with a back-end reply: send it on with Reply::wire(). That must be
  // well-formed for the client: one reply, the same code and enhanced code.
  if (reply.code >= 200 && reply.code < 600) {
    ReplyParser again;
    again.feed(reply.wire());
    const auto back = again.next();
    if (!back || back->code != reply.code || back->enhanced != reply.enhanced)
      fail("wire() of a parsed reply does not parse back as the same reply", reply);
    if (!again.empty() || again.next()) fail("wire() of a parsed reply leaves bytes behind", reply);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kSettingBytes = 2;
  if (size < kSettingBytes) return 0;
  std::minstd_rand random(data[0] + 1u);
  const std::size_t repeats = 1 + data[1] % 64;
  const std::string_view server_bytes(reinterpret_cast<const char*>(data + kSettingBytes), size - kSettingBytes);
  std::string stream;
  for (std::size_t i = 0; i < repeats; ++i) stream += server_bytes;

  ReplyParser parser;
  std::size_t position = 0, largest_piece = 0;
  while (position < stream.size()) {
    // Mostly small pieces, sometimes large ones, as reads from a socket come.
    const std::size_t piece_size = random() % 4 == 0 ? 1 + random() % 8192 : 1 + random() % 64;
    const std::string_view piece = std::string_view(stream).substr(position, piece_size);
    position += piece.size();
    largest_piece = std::max(largest_piece, piece.size());
    parser.feed(piece);
    while (auto reply = parser.next()) check_reply(*reply, largest_piece);
  }
  return 0;
}
