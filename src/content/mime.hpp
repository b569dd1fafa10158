// The MIME reader of the content analysis (RFC 2045–2049, RFC 2047 encoded words, RFC 2231
// parameters, RFC 5322 addresses), on GMime 3. It turns a message into a flat list of parts with
// their decoded content, the text parts converted to UTF-8, and every anomaly it met on the way.
// Hostile input is the norm: depth, part count, header fields and the bytes kept are bounded, and a
// message that cannot be parsed yields `unparsable` and whatever was read, never a crash.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::content {

struct MimeLimits {
  std::size_t max_depth = 20;                  // nesting of multiparts and message/rfc822
  std::size_t max_parts = 500;
  std::size_t max_header_fields = 2000;        // over all parts
  std::size_t max_decoded_bytes = 64u << 20;   // decoded content kept over all parts
  std::size_t max_text_bytes = 4u << 20;       // UTF-8 text kept over all text parts
};

struct MailboxAddress {
  std::string name;                            // display name, decoded, UTF-8
  std::string address;                         // local@domain as written ("" for an empty group)
};

struct MimePart {
  int parent = -1;                             // index in ParsedMessage::parts; -1 for the message
  std::size_t depth = 0;
  std::string content_type;                    // "text/plain", lower case ("" when absent)
  bool content_type_declared = false;          // a Content-Type field was present
  std::string charset;                         // declared charset, lower case
  std::string transfer_encoding;               // "base64", "quoted-printable", "7bit", ... lower case
  std::string disposition;                     // "attachment", "inline" or ""
  std::string filename;                        // decoded (RFC 2231/2047), UTF-8; Content-Disposition
                                               // filename, else Content-Type name
  std::string content_id;
  bool multipart = false;
  bool embedded_message = false;               // message/rfc822 (its parts follow as children)
  std::string decoded;                         // leaf parts: the content after transfer decoding
  bool truncated = false;                      // decoded or text was cut at a limit
  std::string text;                            // text/* leaf parts: the content in UTF-8
  bool charset_fallback = false;               // the declared charset failed: read as Windows-1252
  std::vector<std::string> header_names;       // the part's own header fields, as written

  bool is_text() const { return content_type.starts_with("text/"); }
  bool is_attachment() const;                  // a leaf that is not body text (named, or disposition attachment, or not text)
};

struct ParsedMessage {
  std::vector<MimePart> parts;                 // pre-order; parts[0] is the top-level entity
  std::string subject;                         // decoded, UTF-8
  std::vector<MailboxAddress> from, to, cc, reply_to;
  bool undisclosed_recipients = false;         // To/Cc only empty groups ("undisclosed-recipients:;") or absent
  std::string text_plain;                      // the text/plain body parts (not attachments), UTF-8, joined
  std::string html;                            // the text/html body parts (not attachments), UTF-8, joined
  std::vector<std::string> anomalies;          // distinct names, e.g. "malformed_multipart", "depth_limit"
  bool unparsable = false;                     // GMime gave up on the message

  bool has_anomaly(std::string_view name) const;
};

// Parses a whole message (header section and body, CRLF or LF line ends).
ParsedMessage parse_mime(std::string_view message, const MimeLimits& limits = {});

}  // namespace gatehouse::content
