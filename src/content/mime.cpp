// The MIME reader on GMime 3 (content/mime.hpp): RFC 2045 §6 transfer decodings, RFC 2046 §5
// multiparts and message/rfc822, RFC 2047/2231 words and parameters, RFC 5322 §3.4 addresses.
// GMime reads; this file walks its tree into ParsedMessage within the limits, converts text to
// UTF-8 and names what was wrong with the message (GMime's parser warnings and our own findings).
#include "content/mime.hpp"
#include "common/text.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <cstring>
#include <memory>
#include <mutex>

namespace gatehouse::content {
namespace {

// RAII for GObject references and g_free'd strings.
struct GObjectUnref {
  void operator()(void* object) const {
    if (object) g_object_unref(object);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;
struct GFree {
  void operator()(void* memory) const { g_free(memory); }
};
using GString_ = std::unique_ptr<char, GFree>;

void initialise_gmime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

std::string windows_1252_or_repaired(std::string_view bytes);

// A header-derived string in UTF-8: GMime passes undeclared 8-bit header text through as it came.
std::string text_or_empty(const char* text) {
  if (!text) return {};
  std::string_view view(text);
  if (g_utf8_validate(view.data(), static_cast<gssize>(view.size()), nullptr)) return std::string(view);
  return windows_1252_or_repaired(view);
}

void add_anomaly(ParsedMessage& message, std::string_view name) {
  if (!message.has_anomaly(name)) message.anomalies.emplace_back(name);
}

std::string_view warning_name(GMimeParserWarning warning) {
  switch (warning) {
    case GMIME_WARN_DUPLICATED_HEADER: return "duplicated_header";
    case GMIME_WARN_DUPLICATED_PARAMETER: return "duplicated_parameter";
    case GMIME_WARN_UNENCODED_8BIT_HEADER: return "unencoded_8bit_header";
    case GMIME_WARN_INVALID_CONTENT_TYPE: return "invalid_content_type";
    case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE: return "invalid_rfc2047";
    case GMIME_WARN_MALFORMED_MULTIPART: return "malformed_multipart";
    case GMIME_WARN_TRUNCATED_MESSAGE: return "truncated_message";
    case GMIME_WARN_MALFORMED_MESSAGE: return "malformed_message";
    case GMIME_CRIT_INVALID_HEADER_NAME: return "invalid_header_name";
    case GMIME_CRIT_CONFLICTING_HEADER: return "conflicting_header";
    case GMIME_CRIT_CONFLICTING_PARAMETER: return "conflicting_parameter";
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY: return "multipart_without_boundary";
    case GMIME_WARN_INVALID_PARAMETER: return "invalid_parameter";
    case GMIME_WARN_INVALID_ADDRESS_LIST: return "invalid_address_list";
    case GMIME_CRIT_NESTING_OVERFLOW: return "depth_limit";
    case GMIME_WARN_PART_WITHOUT_CONTENT: return "part_without_content";
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT: return "part_without_headers_or_content";
  }
  return "parser_warning";
}

void on_parser_warning(gint64, GMimeParserWarning warning, const gchar*, gpointer data) {
  add_anomaly(*static_cast<ParsedMessage*>(data), warning_name(warning));
}

// Windows-1252 is what undeclared or mislabelled 8-bit mail nearly always is (and a superset of
// the printable ISO-8859-1): the fallback when the declared charset does not convert.
std::optional<std::string> convert_to_utf8(std::string_view bytes, const char* charset) {
  if (bytes.empty()) return std::string();
  gsize written = 0;
  GError* error = nullptr;
  GString_ converted(g_convert(bytes.data(), static_cast<gssize>(bytes.size()), "UTF-8", charset, nullptr, &written, &error));
  if (error) {
    g_error_free(error);
    return std::nullopt;
  }
  if (!converted) return std::nullopt;
  return std::string(converted.get(), written);
}

bool is_utf8_name(std::string_view charset) {
  return charset.empty() || charset == "utf-8" || charset == "utf8" || charset == "us-ascii" || charset == "ascii";
}

std::string text_in_utf8(std::string_view bytes, const std::string& charset, bool& fallback) {
  if (is_utf8_name(charset)) {
    if (g_utf8_validate(bytes.data(), static_cast<gssize>(bytes.size()), nullptr)) return std::string(bytes);
  } else {
    const char* iconv_name = g_mime_charset_iconv_name(charset.c_str());
    auto converted = convert_to_utf8(bytes, iconv_name ? iconv_name : charset.c_str());
    if (converted && g_utf8_validate(converted->data(), static_cast<gssize>(converted->size()), nullptr))
      return std::move(*converted);
  }
  fallback = true;
  return windows_1252_or_repaired(bytes);
}

std::string windows_1252_or_repaired(std::string_view bytes) {
  if (bytes.empty()) return {};
  auto converted = convert_to_utf8(bytes, "WINDOWS-1252");
  if (converted && g_utf8_validate(converted->data(), static_cast<gssize>(converted->size()), nullptr))
    return std::move(*converted);
  GString_ valid(g_utf8_make_valid(bytes.data(), static_cast<gssize>(bytes.size())));
  return valid ? std::string(valid.get()) : std::string();
}

void read_addresses(InternetAddressList* list, std::vector<MailboxAddress>& out, std::size_t depth = 0) {
  if (!list || depth > 4) return;
  const int count = internet_address_list_length(list);
  for (int i = 0; i < count && out.size() < 1000; ++i) {
    InternetAddress* address = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_MAILBOX(address)) {
      out.push_back({text_or_empty(internet_address_get_name(address)),
                     text_or_empty(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address)))});
    } else if (INTERNET_ADDRESS_IS_GROUP(address)) {
      read_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(address)), out, depth + 1);
    }
  }
}

class Walker {
 public:
  Walker(std::string_view raw, const MimeLimits& limits, ParsedMessage& out) : raw_(raw), limits_(limits), out_(out) {}

  void walk(GMimeObject* object, int parent, std::size_t depth) {
    if (!object) return;
    if (depth > limits_.max_depth) {
      add_anomaly(out_, "depth_limit");
      return;
    }
    if (out_.parts.size() >= limits_.max_parts) {
      add_anomaly(out_, "part_limit");
      return;
    }
    const int index = static_cast<int>(out_.parts.size());
    out_.parts.emplace_back();
    describe(object, parent, depth, out_.parts.back());

    if (GMIME_IS_MULTIPART(object)) {
      auto* multipart = GMIME_MULTIPART(object);
      out_.parts[index].multipart = true;
      check_end_boundary(object);
      const int count = g_mime_multipart_get_count(multipart);
      // RFC 2046 §5.1.1: a multipart holds one or more body parts. None means GMime found no
      // delimiter line it accepts (one followed by other text, a boundary past 70 characters),
      // which other readers may still split on: content the checks do not see.
      if (count == 0) add_anomaly(out_, "malformed_multipart");
      for (int i = 0; i < count; ++i) walk(g_mime_multipart_get_part(multipart, i), index, depth + 1);
    } else if (GMIME_IS_MESSAGE_PART(object)) {
      out_.parts[index].embedded_message = true;
      GMimeMessage* embedded = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
      if (embedded) walk(g_mime_message_get_mime_part(embedded), index, depth + 1);
    } else if (GMIME_IS_PART(object)) {
      read_content(GMIME_PART(object), out_.parts[index]);
      if (is_message_type(out_.parts[index].content_type)) walk_encoded_message(index, depth);
    }
  }

 private:
  static bool is_message_type(std::string_view type) { return type == "message/rfc822" || type == "message/global"; }

  // RFC 2046 §5.2.1 allows only 7bit, 8bit or binary for message/rfc822, but senders do encode
  // attached messages in base64 or quoted-printable, and GMime then reads them as a leaf part. A
  // filter must see inside them: the decoded content is parsed as the embedded message.
  void walk_encoded_message(int index, std::size_t depth) {
    MimePart& part = out_.parts[index];
    if (part.decoded.empty() || depth + 1 > limits_.max_depth) return;
    part.embedded_message = true;
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(part.decoded.data(), part.decoded.size()));
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), nullptr));
    if (message) walk(g_mime_message_get_mime_part(message.get()), index, depth + 1);
  }

  void describe(GMimeObject* object, int parent, std::size_t depth, MimePart& part) {
    part.parent = parent;
    part.depth = depth;
    GMimeHeaderList* headers = g_mime_object_get_header_list(object);
    const int header_count = headers ? g_mime_header_list_get_count(headers) : 0;
    for (int i = 0; i < header_count; ++i) {
      if (header_fields_ >= limits_.max_header_fields) {
        add_anomaly(out_, "header_limit");
        break;
      }
      ++header_fields_;
      const char* name = g_mime_header_get_name(g_mime_header_list_get_header_at(headers, i));
      part.header_names.push_back(text_or_empty(name));
      if (name && g_ascii_strcasecmp(name, "Content-Type") == 0) part.content_type_declared = true;
    }
    if (GMimeContentType* type = g_mime_object_get_content_type(object)) {
      GString_ mime_type(g_mime_content_type_get_mime_type(type));
      part.content_type = to_lower_ascii(text_or_empty(mime_type.get()));
      part.charset = to_lower_ascii(text_or_empty(g_mime_content_type_get_parameter(type, "charset")));
    }
    if (GMIME_IS_PART(object) && content_type_invalid(object, part.content_type)) part.content_type = "text/plain";
    if (GMimeContentDisposition* disposition = g_mime_object_get_content_disposition(object))
      part.disposition = to_lower_ascii(text_or_empty(g_mime_content_disposition_get_disposition(disposition)));
    part.content_id = text_or_empty(g_mime_object_get_content_id(object));
    part.transfer_encoding = to_lower_ascii(text_or_empty(g_mime_object_get_header(object, "Content-Transfer-Encoding")));
    if (auto space = part.transfer_encoding.find_first_of(" \t;("); space != std::string::npos)
      part.transfer_encoding.resize(space);
    if (GMIME_IS_PART(object)) part.filename = text_or_empty(g_mime_part_get_filename(GMIME_PART(object)));
  }

  // RFC 2045 §5.2: a syntactically invalid Content-Type ("text", "text/", "foo") is to be read as
  // the default, text/plain. GMime makes it application/octet-stream, which would take the text
  // out of the content checks' sight; a field that really says application/octet-stream stays.
  static bool content_type_invalid(GMimeObject* object, std::string_view parsed_type) {
    if (parsed_type != "application/octet-stream") return false;
    const char* raw = g_mime_object_get_header(object, "Content-Type");
    if (!raw) return false;
    std::string declared;
    for (const char* c = raw; *c && *c != ';' && *c != '('; ++c)
      if (!std::isspace(static_cast<unsigned char>(*c))) declared += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
    return declared != "application/octet-stream";
  }

  // RFC 2046 §5.1.1: a multipart ends with its close-delimiter "--boundary--". Its absence is
  // legal-looking garbage that some filters and clients read differently (a way to hide parts).
  void check_end_boundary(GMimeObject* object) {
    // The parameter as parsed, not g_mime_multipart_get_boundary(): without one, that makes up a
    // boundary and re-encodes the whole Content-Type field, which GMime 3.2 does without bound for
    // hostile parameters (a 2 GiB allocation, found by fuzz/mime_fuzz.cpp).
    GMimeContentType* type = g_mime_object_get_content_type(object);
    const char* boundary = type ? g_mime_content_type_get_parameter(type, "boundary") : nullptr;
    if (!boundary || !*boundary) return;
    const std::string close = std::string("--") + boundary + "--";
    if (raw_.find(close) == std::string_view::npos) add_anomaly(out_, "missing_end_boundary");
  }

  void read_content(GMimePart* mime_part, MimePart& part) {
    GMimeDataWrapper* wrapper = g_mime_part_get_content(mime_part);
    if (!wrapper) return;
    GPtr<GMimeStream> stream(g_mime_stream_mem_new());
    if (g_mime_data_wrapper_write_to_stream(wrapper, stream.get()) < 0) {
      add_anomaly(out_, "undecodable_part");
      return;
    }
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream.get()));
    std::string_view decoded(reinterpret_cast<const char*>(bytes->data), bytes->len);
    const std::size_t room = limits_.max_decoded_bytes - std::min(decoded_bytes_, limits_.max_decoded_bytes);
    if (decoded.size() > room) {
      decoded = decoded.substr(0, room);
      part.truncated = true;
      add_anomaly(out_, "decoded_limit");
    }
    decoded_bytes_ += decoded.size();
    part.decoded.assign(decoded);

    if (!part.is_text() || part.is_attachment()) return;
    const std::size_t text_room = limits_.max_text_bytes - std::min(text_bytes_, limits_.max_text_bytes);
    std::string_view text_source = decoded.substr(0, std::min(decoded.size(), text_room));
    if (text_source.size() < decoded.size()) part.truncated = true;
    part.text = text_in_utf8(text_source, part.charset, part.charset_fallback);
    text_bytes_ += part.text.size();
    if (part.charset_fallback) add_anomaly(out_, part.charset.empty() || is_utf8_name(part.charset) ? "invalid_utf8" : "bad_charset");
    if (part.transfer_encoding == "base64") add_anomaly(out_, "text_as_base64");
  }

  std::string_view raw_;
  const MimeLimits& limits_;
  ParsedMessage& out_;
  std::size_t header_fields_ = 0;
  std::size_t decoded_bytes_ = 0;
  std::size_t text_bytes_ = 0;
};

void join_text(std::string& into, const std::string& text) {
  if (text.empty()) return;
  if (!into.empty()) into += "\n";
  into += text;
}

// Inside multipart/alternative only the richest version is shown; both are kept (text_plain and
// html are read separately), so nothing here needs to choose.
void collect_body_text(ParsedMessage& message) {
  bool any_plain = false;
  for (const auto& part : message.parts) {
    if (part.is_attachment() || !part.is_text()) continue;
    if (part.content_type == "text/html") {
      join_text(message.html, part.text);
    } else if (part.content_type == "text/plain" || part.content_type.empty()) {
      any_plain = true;
      join_text(message.text_plain, part.text);
    }
  }
  if (!message.html.empty() && !any_plain) add_anomaly(message, "html_only");
}

GPtr<GMimeMessage> construct_message(std::string_view raw, ParsedMessage& result) {
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  GMimeParserOptions* options = g_mime_parser_options_new();
  g_mime_parser_options_set_rfc2047_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_address_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_parameter_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_warning_callback(options, on_parser_warning, &result);
  GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), options));
  g_mime_parser_options_free(options);
  return message;
}

}  // namespace

bool MimePart::is_attachment() const {
  if (multipart || embedded_message) return false;
  if (disposition == "attachment") return true;
  if (!filename.empty()) return true;
  return !content_type.empty() && !is_text();
}

bool ParsedMessage::has_anomaly(std::string_view name) const {
  return std::find(anomalies.begin(), anomalies.end(), name) != anomalies.end();
}

ParsedMessage parse_mime(std::string_view raw, const MimeLimits& limits) {
  initialise_gmime();
  ParsedMessage result;

  GPtr<GMimeMessage> message = construct_message(raw, result);
  if (!message && !raw.empty()) {
    // GMime gives up on a message that does not start with a header field (RFC 5322 §2.1). Mail
    // readers still show such text, so it is read as a body without header fields and the content
    // checks see it; the message is malformed, not unparsable.
    std::string body_only = "\r\n";
    body_only.append(raw);
    message = construct_message(body_only, result);
    if (message) {
      add_anomaly(result, "no_header");
      add_anomaly(result, "malformed_message");
    }
  }
  if (!message) {
    result.unparsable = true;
    add_anomaly(result, "unparsable");
    return result;
  }

  result.subject = text_or_empty(g_mime_message_get_subject(message.get()));
  read_addresses(g_mime_message_get_from(message.get()), result.from);
  read_addresses(g_mime_message_get_to(message.get()), result.to);
  read_addresses(g_mime_message_get_cc(message.get()), result.cc);
  read_addresses(g_mime_message_get_reply_to(message.get()), result.reply_to);
  result.undisclosed_recipients =
      std::none_of(result.to.begin(), result.to.end(), [](auto& a) { return !a.address.empty(); }) &&
      std::none_of(result.cc.begin(), result.cc.end(), [](auto& a) { return !a.address.empty(); });

  Walker walker(raw, limits, result);
  GMimeObject* body = g_mime_message_get_mime_part(message.get());
  if (body) {
    walker.walk(body, -1, 0);
  } else {
    add_anomaly(result, "no_body");
  }
  collect_body_text(result);
  return result;
}

}  // namespace gatehouse::content
