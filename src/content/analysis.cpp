// Builds the MessageAnalysis the content checks share (content/analysis.hpp).
#include "content/analysis.hpp"

#include <algorithm>

namespace gatehouse::content {

namespace {

// Counts of the body: text/plain and HTML are mostly two renderings of one text (multipart/
// alternative), so the larger count of each, not their sum.
ObfuscationCounts larger_of(const ObfuscationCounts& a, const ObfuscationCounts& b) {
  ObfuscationCounts result;
  result.invisible_chars = std::max(a.invisible_chars, b.invisible_chars);
  result.mixed_script_words = std::max(a.mixed_script_words, b.mixed_script_words);
  result.confusables = std::max(a.confusables, b.confusables);
  result.leet_words = std::max(a.leet_words, b.leet_words);
  result.spaced_words = std::max(a.spaced_words, b.spaced_words);
  result.words = a.words + b.words;
  return result;
}

// analysis.normalized_text and analysis.obfuscation; the input budget is shared by the parts.
void normalize_message_text(MessageAnalysis& analysis, std::string_view html_text, const NormalizeLimits& limits) {
  NormalizeLimits remaining = limits;
  auto normalize_part = [&](std::string_view part) {
    NormalizedText normalized = normalize_text(part, remaining);
    remaining.max_input_bytes -= std::min(part.size(), remaining.max_input_bytes);
    if (!normalized.text.empty()) {
      if (!analysis.normalized_text.empty()) analysis.normalized_text += '\n';
      analysis.normalized_text += normalized.text;
    }
    return normalized.counts;
  };
  ObfuscationCounts counts = normalize_part(analysis.mime.subject);
  const ObfuscationCounts plain = normalize_part(analysis.mime.text_plain);
  const ObfuscationCounts html = normalize_part(html_text);
  counts += larger_of(plain, html);
  analysis.obfuscation = counts;
}

}  // namespace

MessageAnalysis analyse_message(std::string_view message, const ContentLimits& limits) {
  MessageAnalysis analysis;
  analysis.mime = parse_mime(message, limits.mime);
  analysis.html = extract_html(analysis.mime.html, limits.html);
  analysis.urls = collect_urls(analysis.mime.text_plain, analysis.html, limits.urls);
  normalize_message_text(analysis, analysis.html.visible_text, limits.normalize);
  analysis.attachments = inspect_attachments(analysis.mime, limits.archives);
  return analysis;
}

}  // namespace gatehouse::content
