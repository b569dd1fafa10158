// libFuzzer target for the DATA body reader, dot-stuffing and BDAT line-ending normalisation
// (src/smtp/data_reader.hpp; RFC 5321 §4.1.1.4 end of data, §4.5.2 transparency; RFC 3030).
//
// Input layout: 2 setting bytes (a seed for the piece sizes, a small size limit), then the bytes a
// client sends after "354".
//
// Invariants checked:
// - feeding the input in random-sized pieces gives the same result as all at once (bytes used,
//   finished, message, size, bare line breaks, longest line); an unfinished reader uses every byte;
// - the message never has a bare CR or LF, ends with CRLF unless empty, and a size-limited reader
//   keeps at most max_size bytes, a prefix of the unlimited message, with the same size();
// - round trip: dot_stuff(message) through a fresh reader finishes exactly at its end and gives
//   the message back, with no line break to fix;
// - normalize_line_endings (BDAT) gives the same output whatever the chunking, with no bare CR/LF.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>

#include "smtp/data_reader.hpp"

using gatehouse::smtp::DataReader;
using gatehouse::smtp::dot_stuff;
using gatehouse::smtp::normalize_line_endings;

bool fuzz_invariant_ignored(const char* what);  // fuzz/fuzz_support.cpp

namespace {

constexpr std::size_t kUnlimited = 1 << 30;

// Aborts (a crash for libFuzzer) unless FUZZ_IGNORE names this invariant (fuzz_support.cpp).
void fail(const char* what) {
  if (fuzz_invariant_ignored(what)) return;
  std::fprintf(stderr, "data_reader invariant violated: %s\n", what);
  std::abort();
}

bool has_bare_line_break(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) return true;
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return true;
  }
  return false;
}

// Piece sizes from 0 to 16 bytes, mostly small so that every state boundary gets split.
std::size_t next_piece_size(std::minstd_rand& random) { return random() % 17; }

struct Outcome {
  std::size_t used = 0;
  bool finished = false;
  std::string message;
  std::uint64_t size = 0, bare_newlines = 0;
  std::size_t longest_line = 0;
  bool oversize = false;

  bool operator==(const Outcome&) const = default;
};

Outcome outcome_of(const DataReader& reader, std::size_t used) {
  return {used, reader.finished(), reader.message(), reader.size(), reader.bare_newlines(), reader.longest_line(),
          reader.oversize()};
}

Outcome read_at_once(std::string_view body, std::size_t max_size) {
  DataReader reader(max_size);
  const std::size_t used = reader.consume(body);
  if (used > body.size()) fail("consume() used more bytes than given");
  if (!reader.finished() && used != body.size()) fail("an unfinished reader left bytes unused");
  return outcome_of(reader, used);
}

Outcome read_in_pieces(std::string_view body, std::size_t max_size, std::minstd_rand& random) {
  DataReader reader(max_size);
  std::size_t used = 0;
  while (used < body.size() && !reader.finished()) {
    const std::string_view piece = body.substr(used, next_piece_size(random));
    const std::size_t taken = reader.consume(piece);
    if (taken > piece.size()) fail("consume() used more bytes than given");
    if (!reader.finished() && taken != piece.size()) fail("an unfinished reader left bytes of a piece unused");
    used += taken;
  }
  return outcome_of(reader, used);
}

void check_normalize(std::string_view chunk_data, std::minstd_rand& random) {
  std::string whole;
  bool whole_pending_cr = false;
  const std::uint64_t whole_fixed = normalize_line_endings(chunk_data, whole, whole_pending_cr, true);
  if (whole_pending_cr) fail("normalize_line_endings(last) left a CR pending");
  if (has_bare_line_break(whole)) fail("normalize_line_endings left a bare CR or LF");

  std::string pieces;
  bool pending_cr = false;
  std::uint64_t fixed = 0;
  std::size_t position = 0;
  while (position < chunk_data.size()) {
    const std::string_view piece = chunk_data.substr(position, next_piece_size(random));
    fixed += normalize_line_endings(piece, pieces, pending_cr, false);
    position += piece.size();
  }
  fixed += normalize_line_endings({}, pieces, pending_cr, true);
  if (pieces != whole || fixed != whole_fixed) fail("normalize_line_endings depends on the chunking");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kSettingBytes = 2;
  if (size < kSettingBytes) return 0;
  std::minstd_rand random(data[0] + 1u);
  const std::size_t small_limit = data[1];
  const std::string_view body(reinterpret_cast<const char*>(data + kSettingBytes), size - kSettingBytes);

  // All at once versus in pieces, without a size limit.
  const Outcome whole = read_at_once(body, kUnlimited);
  const Outcome pieces = read_in_pieces(body, kUnlimited, random);
  if (!(pieces == whole)) fail("reading in pieces differs from reading at once");
  if (has_bare_line_break(whole.message)) fail("bare CR or LF in the message");
  if (whole.finished && !whole.message.empty() && !whole.message.ends_with("\r\n"))
    fail("a finished message does not end with CRLF");
  if (whole.message.size() != whole.size) fail("size() differs from the message length");

  // With a small size limit: the same reading, the message cut at the limit.
  const Outcome limited = read_at_once(body, small_limit);
  const Outcome limited_pieces = read_in_pieces(body, small_limit, random);
  if (!(limited_pieces == limited)) fail("reading in pieces differs from reading at once (size-limited)");
  if (limited.used != whole.used || limited.finished != whole.finished || limited.size != whole.size)
    fail("the size limit changed where the body ends or its size");
  if (limited.message.size() > small_limit) fail("the size-limited message exceeds max_size");
  if (whole.message.compare(0, limited.message.size(), limited.message) != 0)
    fail("the size-limited message is not a prefix of the message");
  if (has_bare_line_break(limited.message)) fail("bare CR or LF in the size-limited message");

  // Round trip through dot-stuffing.
  if (whole.finished) {
    const std::string stuffed = dot_stuff(whole.message);
    DataReader again(kUnlimited);
    const std::size_t used = again.consume(stuffed);
    if (!again.finished() || used != stuffed.size()) fail("dot_stuff(message) does not end exactly at its terminator");
    if (again.message() != whole.message) fail("dot_stuff(message) does not read back as the message");
    if (again.bare_newlines() != 0) fail("dot_stuff(message) contains bare line breaks");
  }

  check_normalize(body, random);
  return 0;
}
