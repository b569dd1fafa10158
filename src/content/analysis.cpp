// Builds the MessageAnalysis the content checks share (content/analysis.hpp).
#include "content/analysis.hpp"

namespace gatehouse::content {

MessageAnalysis analyse_message(std::string_view message, const ContentLimits& limits) {
  MessageAnalysis analysis;
  analysis.mime = parse_mime(message, limits.mime);
  analysis.html = extract_html(analysis.mime.html, limits.html);
  analysis.urls = collect_urls(analysis.mime.text_plain, analysis.html, limits.urls);
  return analysis;
}

}  // namespace gatehouse::content
