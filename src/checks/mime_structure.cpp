// MIME anomalies (RFC 2045 §5–6, RFC 2046 §5.1): what the MIME reader (content/mime.hpp) met on the
// way — a multipart without its close-delimiter (parts that some readers show and others hide),
// malformed multiparts and headers, nesting or part counts past the limits, text sent as base64,
// charsets that do not convert, an HTML-only message pulling a remote image (a tracking beacon
// without a text version), a message that cannot be parsed at all, and a message declared HTML
// that holds no markup at all (plain text labelled text/html by a hand-made mass mailer: a mail
// program that writes HTML writes tags). Scores only.
#include <fmt/format.h>

#include <cctype>

#include "checks/builtin.hpp"
#include "content/analysis.hpp"

namespace gatehouse::checks {
namespace {

// Tags in an HTML text: "<" followed by a letter, "/" or "!" ("<p", "</div", "<!--").
std::size_t tags_in(std::string_view html, std::size_t enough) {
  std::size_t tags = 0;
  for (std::size_t at = html.find('<'); at != std::string_view::npos && tags < enough; at = html.find('<', at + 1))
    if (at + 1 < html.size() && (std::isalpha(static_cast<unsigned char>(html[at + 1])) || html[at + 1] == '/' ||
                                 html[at + 1] == '!'))
      ++tags;
  return tags;
}

class MimeStructureCheck final : public Check {
 public:
  std::string_view name() const override { return "mime_structure"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 1; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.content) co_return outcome;
    const auto& mime = context.content->mime;
    const CheckPolicy& policy = context.policy->check(name());
    auto has = [&](std::string_view anomaly) { return mime.has_anomaly(anomaly); };
    if (mime.unparsable) {
      outcome.add(policy, "unparsable", "the message could not be parsed as MIME");
      co_return outcome;
    }
    if (has("missing_end_boundary")) outcome.add(policy, "missing_end_boundary", "a multipart without its closing boundary");
    for (std::string_view malformed : {"malformed_multipart", "multipart_without_boundary", "part_without_headers_or_content",
                                       "invalid_header_name", "conflicting_header", "malformed_message"}) {
      if (has(malformed)) {
        outcome.add(policy, "malformed", std::string(malformed));
        break;
      }
    }
    if (has("depth_limit") || has("part_limit") || has("header_limit"))
      outcome.add(policy, "limits", fmt::format("{} parts, nesting or header fields past the limits", mime.parts.size()));
    if (has("text_as_base64")) outcome.add(policy, "text_as_base64", "body text sent as base64");
    if (has("bad_charset") || has("invalid_utf8")) outcome.add(policy, "bad_charset", "text not in its declared charset");
    if (has("html_only") && context.content->html.remote_images > 0)
      outcome.add(policy, "html_only_remote_image",
                  fmt::format("HTML without a text version, {} remote image(s)", context.content->html.remote_images));
    if (!mime.parts.empty() && mime.parts.front().content_type == "text/html" && tags_in(mime.html, 2) < 2)
      outcome.add(policy, "html_without_tags", "declared text/html, but holds no HTML markup");
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_mime_structure_check() { return std::make_unique<MimeStructureCheck>(); }

}  // namespace gatehouse::checks
