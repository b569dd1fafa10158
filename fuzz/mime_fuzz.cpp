// libFuzzer target for the MIME reader and the attachment inspection (src/content/mime.hpp,
// src/content/attachments.hpp; RFC 2045-2049, RFC 2047/2231): GMime's parse walked into
// ParsedMessage, text converted to UTF-8, and archives (libarchive) expanded within limits.
//
// Input layout: 1 setting byte, then the message. Setting bits:
//   0-1  limits: generous (the defaults), small (depth 4, 16 parts, 4 KiB decoded, 1 KiB text),
//        tiny (depth 1, 2 parts, 64 bytes), or zero-ish (depth 0, 1 part, 0 bytes);
//   2    CRLF line ends: every LF of the input is written as CRLF (what arrives after DATA);
//   3    archive limits small (depth 1, 8 members, 64 KiB expanded).
//
// Invariants checked (beyond no crash, no leak, no undefined behaviour):
// - parts: at most max_parts; every part's depth at most max_depth; a part's parent comes before
//   it and is one level up; only multiparts and embedded messages are parents;
// - decoded content over all parts at most max_decoded_bytes; text over all parts at most
//   max_text_bytes plus the growth of charset conversion (bounded by 3 bytes per input byte);
// - every text, the subject, names and addresses, text_plain and html are valid UTF-8;
// - anomalies are distinct; unparsable implies no parts;
// - attachments: members at most max_members (plus the attachments themselves); depth at most
//   max_depth + 1; a bomb stops the expansion.
#include <glib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "content/attachments.hpp"
#include "content/mime.hpp"

bool fuzz_invariant_ignored(const char* what);

namespace {

void check(bool condition, const char* what) {
  if (condition || fuzz_invariant_ignored(what)) return;
  std::fprintf(stderr, "mime invariant violated: %s\n", what);
  std::abort();
}

bool utf8(const std::string& text) { return g_utf8_validate(text.data(), static_cast<gssize>(text.size()), nullptr); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t settings = data[0];
  std::string message(reinterpret_cast<const char*>(data + 1), size - 1);
  if (settings & 4) {
    std::string crlf;
    for (char c : message) {
      if (c == '\n') crlf += '\r';
      crlf += c;
    }
    message = std::move(crlf);
  }
  gatehouse::content::MimeLimits limits;
  switch (settings & 3) {
    case 1: limits = {4, 16, 200, 4096, 1024}; break;
    case 2: limits = {1, 2, 20, 64, 64}; break;
    case 3: limits = {0, 1, 0, 0, 0}; break;
    default: break;
  }
  const auto parsed = gatehouse::content::parse_mime(message, limits);

  check(parsed.parts.size() <= limits.max_parts, "more parts than max_parts");
  check(!parsed.unparsable || parsed.parts.empty(), "unparsable message with parts");
  std::size_t decoded = 0, text = 0;
  for (std::size_t i = 0; i < parsed.parts.size(); ++i) {
    const auto& part = parsed.parts[i];
    check(part.depth <= limits.max_depth, "part deeper than max_depth");
    if (part.parent >= 0) {
      check(static_cast<std::size_t>(part.parent) < i, "parent after its child");
      const auto& parent = parsed.parts[static_cast<std::size_t>(part.parent)];
      check(parent.depth + 1 == part.depth, "child not one level below its parent");
      check(parent.multipart || parent.embedded_message, "leaf part with children");
    } else {
      check(i == 0, "a second top-level part");
    }
    decoded += part.decoded.size();
    text += part.text.size();
    check(utf8(part.text) && utf8(part.filename), "part text or file name not UTF-8");
  }
  check(decoded <= limits.max_decoded_bytes, "decoded bytes past max_decoded_bytes");
  check(text <= 3 * limits.max_text_bytes, "text far past max_text_bytes");
  check(utf8(parsed.subject) && utf8(parsed.text_plain) && utf8(parsed.html), "subject or body text not UTF-8");
  for (const auto* list : {&parsed.from, &parsed.to, &parsed.cc, &parsed.reply_to})
    for (const auto& address : *list) check(utf8(address.name) && utf8(address.address), "address not UTF-8");
  check(std::set<std::string>(parsed.anomalies.begin(), parsed.anomalies.end()).size() == parsed.anomalies.size(),
        "an anomaly listed twice");

  gatehouse::content::ArchiveLimits archive_limits;
  if (settings & 8) archive_limits = {1, 8, 64 * 1024, 200};
  const auto report = gatehouse::content::inspect_attachments(parsed, archive_limits);
  std::size_t attachments = 0, members = 0;
  for (const auto& file : report.files) {
    (file.depth == 0 ? attachments : members) += 1;
    check(file.depth <= archive_limits.max_depth + 1, "archive member deeper than max_depth + 1");
  }
  check(members <= archive_limits.max_members, "more archive members than max_members");
  check(attachments <= parsed.parts.size(), "more attachments than parts");
  return 0;
}
