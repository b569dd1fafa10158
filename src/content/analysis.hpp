// Everything the content checks look at, computed once per message after DATA (and by
// `gatehouse check` / `gatehouse learn`): the MIME parse and what is derived from it. Each content
// check reads from here instead of parsing the message again. See docs/content.md.
#pragma once
#include <string_view>

#include "content/html.hpp"
#include "content/mime.hpp"
#include "content/urls.hpp"

namespace gatehouse::content {

struct ContentLimits {
  MimeLimits mime;
  HtmlLimits html;
  UrlLimits urls;
};

struct MessageAnalysis {
  ParsedMessage mime;
  HtmlContent html;                // mime.html read as a mail reader shows it
  std::vector<Url> urls;           // links of the HTML and the plain text (content/urls.hpp)
};

MessageAnalysis analyse_message(std::string_view message, const ContentLimits& limits = {});

}  // namespace gatehouse::content
