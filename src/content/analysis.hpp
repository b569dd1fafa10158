// Everything the content checks look at, computed once per message after DATA (and by
// `gatehouse check` / `gatehouse learn`): the MIME parse and what is derived from it. Each content
// check reads from here instead of parsing the message again. See docs/content.md.
#pragma once
#include <string_view>

#include "content/attachments.hpp"
#include "content/html.hpp"
#include "content/mime.hpp"
#include "content/normalize.hpp"
#include "content/urls.hpp"

namespace gatehouse::content {

struct ContentLimits {
  MimeLimits mime;
  NormalizeLimits normalize;       // read of subject, plain text and HTML text together
  HtmlLimits html;
  UrlLimits urls;
  ArchiveLimits archives;
};

struct MessageAnalysis {
  ParsedMessage mime;
  // The subject, the text/plain body and the visible HTML text, each normalised against
  // obfuscation (content/normalize.hpp), one a line: what the classifier and the watch words read.
  std::string normalized_text;
  ObfuscationCounts obfuscation;   // what the normaliser found there (the obfuscation check)
  HtmlContent html;                // mime.html read as a mail reader shows it
  std::vector<Url> urls;           // links of the HTML and the plain text (content/urls.hpp)
  AttachmentReport attachments;    // attachments and archive members (content/attachments.hpp)
};

MessageAnalysis analyse_message(std::string_view message, const ContentLimits& limits = {});

}  // namespace gatehouse::content
