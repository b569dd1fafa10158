// The HTML reader of the content analysis: what a mail reader would show of an HTML body. The
// document is parsed as browsers parse it (WHATWG HTML "Parsing HTML documents", via gumbo), then
// walked once: the visible text (block elements separate words, inline elements and comments do
// not, so "Vi<b></b>agra" reads "Viagra"), the text a reader would not see (display:none,
// visibility:hidden, opacity:0, tiny fonts, text in the background's colour, the `hidden`
// attribute; inherited down the tree), the links with their visible text, images and form
// targets. Styles are read from `style` attributes and the legacy presentational attributes
// (<font color>, bgcolor); style sheets are not applied. Input, node count, depth and kept text
// are bounded: hostile markup yields a truncated result, never a crash.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::content {

struct HtmlLimits {
  std::size_t max_input_bytes = 2u << 20;   // HTML beyond this is not parsed
  std::size_t max_tags = 20000;             // the input is cut before the tag after this many '<'
  std::size_t max_nodes = 100000;           // nodes visited in the parsed tree
  std::size_t max_depth = 200;              // the input is cut before markup nests deeper (parsing
                                            // time grows with tags times depth); deeper nodes skipped
  std::size_t max_text_bytes = 1u << 20;    // visible and hidden text kept, each
  std::size_t max_links = 1000;             // links, images and form actions kept, each
};

struct HtmlLink {
  std::string href;                         // as written (entities decoded, surrounding space removed)
  std::string text;                         // its visible text, whitespace collapsed
};

struct HtmlImage {
  std::string src;
  std::string alt;
  int width = -1;                           // pixels from the attribute or the style; -1 = not given
  int height = -1;
  bool remote = false;                      // http:, https: or scheme-relative "//host"
};

struct HtmlContent {
  std::string visible_text;                 // words separated by ' ', blocks by '\n'
  std::string hidden_text;                  // text present but not shown, same form
  std::vector<HtmlLink> links;              // <a href>, <area href>
  std::vector<HtmlImage> images;            // <img src>
  std::vector<std::string> form_actions;    // <form action>
  std::size_t visible_chars = 0;            // code points of visible text (not counting spaces)
  std::size_t hidden_chars = 0;             // code points of hidden text (not counting spaces)
  std::size_t invisible_chars = 0;          // zero-width and soft-hyphen characters dropped from the text
  std::size_t remote_images = 0;
  std::size_t split_words = 0;              // words joined across a comment, an empty or hidden
                                            // element or a zero-width character ("Vi<!---->agra")
  std::size_t nodes = 0;                    // nodes visited
  bool truncated = false;                   // a limit was reached
  bool parsed = false;                      // there was HTML to read
};

// Reads a UTF-8 HTML document or fragment.
HtmlContent extract_html(std::string_view utf8_html, const HtmlLimits& limits = {});

}  // namespace gatehouse::content
