// Structural header checks (RFC 5322 §3.6, §2.1.1): the fields every message must carry (From, Date,
// exactly once), the Message-ID it should carry and its syntax (§3.6.4), header sections that cannot
// be parsed, and lines longer than the 998 characters the format allows. MIME fields without what
// they need (RFC 2045 §4: MIME-Version; §6: an encoding with no Content-Type to say what it
// encodes), written by hand-made mass mailers; and a Message-ID in Outlook's form with every field
// zero-padded, which Outlook never writes and a family of mass mailers always does; Outlook's
// X-MSMail-Priority without the X-MimeOLE that Outlook writes beside it (a mailer imitating it).
#include <cctype>

#include "checks/builtin.hpp"
#include "common/text.hpp"

namespace gatehouse::checks {
namespace {

// msg-id = "<" id-left "@" id-right ">" (RFC 5322 §3.6.4), read leniently: no spaces, one '@'
// with something on both sides; comments and folding around it are allowed.
bool valid_message_id(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.size() < 5 || value.front() != '<') return false;
  const auto close = value.find('>');
  if (close == std::string_view::npos) return false;
  const std::string_view id = value.substr(1, close - 1);
  const auto at = id.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == id.size() || id.find('@', at + 1) != std::string_view::npos)
    return false;
  for (unsigned char c : id)
    if (c <= ' ' || c == '<' || c == 0x7f) return false;
  return true;
}

// "<0000XXXXXXXX$0000XXXX$0000XXXX@": Outlook's Message-IDs are "<" 12 hex "$" 8 hex "$" 8 hex "@",
// the second and third fields random; a mass mailer imitating them pads all three with zeros.
bool zero_padded_outlook_id(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  constexpr std::string_view shape = "<0000hhhhhhhh$0000hhhh$0000hhhh@";
  if (value.size() < shape.size()) return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const char c = value[i];
    if (shape[i] == 'h' ? !std::isxdigit(static_cast<unsigned char>(c)) : c != shape[i]) return false;
  }
  return true;
}

// The longest line of the message, in octets without its CRLF.
std::size_t longest_line(std::string_view message) {
  std::size_t longest = 0;
  while (!message.empty()) {
    const auto end = message.find('\n');
    std::size_t length = end == std::string_view::npos ? message.size() : end;
    if (length > 0 && message[length - 1] == '\r') --length;
    longest = std::max(longest, length);
    if (end == std::string_view::npos) break;
    message.remove_prefix(end + 1);
  }
  return longest;
}

class HeaderStructureCheck final : public Check {
 public:
  std::string_view name() const override { return "header_structure"; }
  Stage stage() const override { return Stage::data; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.headers) co_return outcome;
    const auto& h = *context.headers;
    const CheckPolicy& policy = context.policy->check(name());
    auto add = [&](const char* finding, std::string detail) { outcome.add(policy, finding, std::move(detail)); };
    if (h.count("From") == 0) add("no_from", "no From header");
    else if (h.count("From") > 1) add("several_from", "several From headers");
    if (h.count("Date") == 0) add("no_date", "no Date header");
    else if (h.count("Date") > 1) add("several_date", "several Date headers");
    if (auto id = h.first("Message-ID"); !id) add("no_message_id", "no Message-ID header");
    else if (!valid_message_id(*id)) add("bad_message_id", "Message-ID " + id->substr(0, 80));
    else if (zero_padded_outlook_id(*id)) add("ratware_message_id", "Message-ID " + id->substr(0, 80));
    if (h.count("Subject") > 1) add("several_subject", "several Subject headers");
    if (h.first("X-MSMail-Priority") && !h.first("X-MimeOLE"))
      add("msmail_without_mimeole", "X-MSMail-Priority without X-MimeOLE");
    const auto content_type = h.first("Content-Type");
    if (!content_type && h.first("Content-Transfer-Encoding"))
      add("encoding_without_type", "Content-Transfer-Encoding without Content-Type");
    if (content_type && !h.first("MIME-Version")) {
      const std::string type = to_lower_ascii(content_type->substr(0, content_type->find(';')));
      if (type.find("multipart/") != std::string::npos || type.find("text/html") != std::string::npos)
        add("no_mime_version", "Content-Type " + type.substr(0, 60) + " without MIME-Version");
    }
    if (h.malformed) add("malformed", "malformed header lines");
    if (const std::size_t longest = longest_line(context.message); longest > 998)
      add("long_lines", "a line of " + std::to_string(longest) + " characters (at most 998)");
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_header_structure_check() { return std::make_unique<HeaderStructureCheck>(); }

}  // namespace gatehouse::checks
