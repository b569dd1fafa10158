// Everything the content checks look at, computed once per message after DATA (and by
// `gatehouse check` / `gatehouse learn`): the MIME parse and what is derived from it. Each content
// check reads from here instead of parsing the message again. See docs/content.md.
#pragma once
#include <string_view>

#include "content/mime.hpp"

namespace gatehouse::content {

struct ContentLimits {
  MimeLimits mime;
};

struct MessageAnalysis {
  ParsedMessage mime;
};

MessageAnalysis analyse_message(std::string_view message, const ContentLimits& limits = {});

}  // namespace gatehouse::content
