// Visible and hidden text, links and images of an HTML body (content/html.hpp). Parsing follows
// WHATWG HTML §13.2 (gumbo); what counts as rendered follows the HTML "Rendering" section (§15:
// hidden elements, block-level elements) and the CSS properties that keep text from being seen
// (CSS 2.1 display/visibility, CSS Color 4 opacity and colours, font-size).
#include "content/html.hpp"
#include "common/text.hpp"

#include <gumbo.h>
#include <unicode/uchar.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>

namespace gatehouse::content {
namespace {

// ---------------------------------------------------------------------------------------------
// Text helpers

std::string_view trim(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

// Decodes one UTF-8 sequence at `text[i]`; advances `i`. Invalid bytes read as U+FFFD.
char32_t next_code_point(std::string_view text, std::size_t& i) {
  const auto byte = static_cast<unsigned char>(text[i]);
  int length = byte < 0x80 ? 1 : (byte >> 5) == 6 ? 2 : (byte >> 4) == 14 ? 3 : (byte >> 3) == 30 ? 4 : 0;
  if (length == 0 || i + static_cast<std::size_t>(length) > text.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t value = length == 1 ? byte : length == 2 ? (byte & 0x1F) : length == 3 ? (byte & 0x0F) : (byte & 0x07);
  for (int k = 1; k < length; ++k) {
    const auto continuation = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
    if ((continuation >> 6) != 2) {
      ++i;
      return 0xFFFD;
    }
    value = (value << 6) | (continuation & 0x3F);
  }
  i += static_cast<std::size_t>(length);
  return value;
}

bool is_space(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0xA0 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0x1680;
}

// Characters that take no room: zero-width space/joiners, word joiner, BOM, soft hyphen.
bool is_invisible(char32_t c) {
  return c == 0x200B || c == 0x200C || c == 0x200D || c == 0x2060 || c == 0xFEFF || c == 0xAD || c == 0x34F ||
         c == 0x180E || c == 0x2061 || c == 0x2062 || c == 0x2063 || c == 0x2064;
}

bool is_letter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  return u_isalpha(static_cast<UChar32>(c));
}

// Collects text with collapsed whitespace: runs of space become one ' ', block boundaries one '\n'.
class TextSink {
 public:
  explicit TextSink(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  void space() { pending_space_ = true; }
  void block() { pending_block_ = true; }
  bool full() const { return full_; }
  const std::string& text() const { return text_; }
  std::string take() { return std::move(text_); }
  std::size_t chars() const { return chars_; }

  // Appends one visible (non-space) code point given as its UTF-8 bytes.
  void put(std::string_view bytes) {
    if (full_) return;
    std::size_t separator = (!text_.empty() && (pending_block_ || pending_space_)) ? 1 : 0;
    if (text_.size() + separator + bytes.size() > max_bytes_) {
      full_ = true;
      return;
    }
    if (separator) text_ += pending_block_ ? '\n' : ' ';
    pending_block_ = pending_space_ = false;
    text_.append(bytes);
    ++chars_;
  }

 private:
  std::string text_;
  std::size_t max_bytes_;
  std::size_t chars_ = 0;
  bool pending_space_ = false;
  bool pending_block_ = false;
  bool full_ = false;
};

// ---------------------------------------------------------------------------------------------
// Colours and styles

struct Rgb {
  int r = 0, g = 0, b = 0;
};

bool close_colours(const Rgb& a, const Rgb& b) {
  return std::abs(a.r - b.r) + std::abs(a.g - b.g) + std::abs(a.b - b.b) <= 30;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Rgb> parse_hex_colour(std::string_view hex) {
  for (char c : hex)
    if (hex_digit(c) < 0) return std::nullopt;
  if (hex.size() == 3 || hex.size() == 4)
    return Rgb{hex_digit(hex[0]) * 17, hex_digit(hex[1]) * 17, hex_digit(hex[2]) * 17};
  if (hex.size() == 6 || hex.size() == 8)
    return Rgb{hex_digit(hex[0]) * 16 + hex_digit(hex[1]), hex_digit(hex[2]) * 16 + hex_digit(hex[3]),
               hex_digit(hex[4]) * 16 + hex_digit(hex[5])};
  return std::nullopt;
}

struct Colour {
  Rgb rgb;
  bool transparent = false;   // alpha 0 / "transparent"
};

// A CSS colour (CSS Color 4: #hex, rgb()/rgba(), a few common names) or a legacy attribute
// colour ("ffffff" without '#'). nullopt when it is not understood.
std::optional<Colour> parse_colour(std::string_view text, bool legacy) {
  std::string value = to_lower_ascii(trim(text));
  if (value.empty()) return std::nullopt;
  if (value == "transparent") return Colour{{}, true};
  if (value.front() == '#') {
    if (auto rgb = parse_hex_colour(std::string_view(value).substr(1))) {
      const bool clear = value.size() == 9 && value[7] == '0' && value[8] == '0';
      return Colour{*rgb, clear};
    }
    return std::nullopt;
  }
  if (value.starts_with("rgb")) {
    const auto open = value.find('('), close = value.find(')');
    if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
    std::string inner = value.substr(open + 1, close - open - 1);
    for (char& c : inner)
      if (c == ',' || c == '/') c = ' ';
    double parts[4] = {0, 0, 0, 1};
    int count = 0;
    const char* cursor = inner.c_str();
    while (count < 4) {
      char* end = nullptr;
      const double number = std::strtod(cursor, &end);
      if (end == cursor) break;
      cursor = end;
      const bool percent = *cursor == '%';
      if (percent) ++cursor;
      parts[count] = percent ? (count == 3 ? number / 100.0 : number * 2.55) : number;
      ++count;
    }
    if (count < 3) return std::nullopt;
    auto channel = [](double v) { return static_cast<int>(std::clamp(std::isfinite(v) ? v : 0.0, 0.0, 255.0)); };
    return Colour{{channel(parts[0]), channel(parts[1]), channel(parts[2])}, count == 4 && parts[3] <= 0.05};
  }
  struct Named {
    std::string_view name;
    Rgb rgb;
  };
  static constexpr Named names[] = {
      {"white", {255, 255, 255}}, {"black", {0, 0, 0}},       {"red", {255, 0, 0}},       {"lime", {0, 255, 0}},
      {"blue", {0, 0, 255}},      {"yellow", {255, 255, 0}},   {"cyan", {0, 255, 255}},    {"aqua", {0, 255, 255}},
      {"magenta", {255, 0, 255}}, {"fuchsia", {255, 0, 255}},  {"silver", {192, 192, 192}}, {"gray", {128, 128, 128}},
      {"grey", {128, 128, 128}},  {"maroon", {128, 0, 0}},     {"olive", {128, 128, 0}},   {"green", {0, 128, 0}},
      {"purple", {128, 0, 128}},  {"teal", {0, 128, 128}},     {"navy", {0, 0, 128}},      {"orange", {255, 165, 0}},
      {"snow", {255, 250, 250}},  {"ivory", {255, 255, 240}},  {"whitesmoke", {245, 245, 245}},
      {"ghostwhite", {248, 248, 255}}, {"floralwhite", {255, 250, 240}}, {"lightgray", {211, 211, 211}},
      {"lightgrey", {211, 211, 211}}};
  for (const auto& named : names)
    if (value == named.name) return Colour{named.rgb, false};
  if (legacy) {
    if (auto rgb = parse_hex_colour(value)) return Colour{*rgb, false};
  }
  return std::nullopt;
}

// A CSS length: number and unit ("0", "1px", "0.1em", "50%").
struct Length {
  double value = 0;
  std::string unit;
};

std::optional<Length> parse_length(std::string_view text) {
  std::string value = to_lower_ascii(trim(text));
  if (value.empty()) return std::nullopt;
  char* end = nullptr;
  const double number = std::strtod(value.c_str(), &end);
  if (end == value.c_str() || !std::isfinite(number)) return std::nullopt;
  return Length{number, std::string(trim(std::string_view(end)))};
}

bool tiny_font(const Length& size) {
  if (size.value <= 0) return true;
  if (size.unit == "px") return size.value <= 2;
  if (size.unit == "pt") return size.value <= 1.5;
  if (size.unit == "em" || size.unit == "rem") return size.value <= 0.15;
  if (size.unit == "%") return size.value <= 15;
  return false;
}

bool zero_length(std::string_view text) {
  auto length = parse_length(text);
  return length && length->value <= 0;
}

// Far off to the left (the "text-indent:-9999px" trick).
bool off_screen(std::string_view text) {
  auto length = parse_length(text);
  return length && length->value <= -500 && (length->unit == "px" || length->unit == "pt" || length->unit == "em");
}

// What is inherited down the tree for deciding whether text is seen.
struct Style {
  bool hidden = false;
  Colour colour{{0, 0, 0}, false};       // text colour (initial: black)
  std::optional<Rgb> background = Rgb{255, 255, 255};   // nullopt: unknown (image, style sheet class)
  bool background_set = false;           // by the element or an ancestor, not the initial white
};

// Applies one element's `style` attribute.
void apply_declarations(std::string_view style_text, Style& style) {
  bool overflow_hidden = false, zero_height = false;
  std::size_t start = 0;
  std::size_t declarations = 0;
  while (start < style_text.size() && declarations++ < 100) {
    std::size_t end = style_text.find(';', start);
    if (end == std::string_view::npos) end = style_text.size();
    std::string_view declaration = style_text.substr(start, end - start);
    start = end + 1;
    const auto colon = declaration.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string property = to_lower_ascii(trim(declaration.substr(0, colon)));
    std::string value = to_lower_ascii(trim(declaration.substr(colon + 1)));
    if (auto important = value.find("!important"); important != std::string::npos)
      value = std::string(trim(std::string_view(value).substr(0, important)));
    if (property == "display") {
      if (value == "none") style.hidden = true;
    } else if (property == "visibility") {
      if (value == "hidden" || value == "collapse") style.hidden = true;
    } else if (property == "opacity") {
      auto length = parse_length(value);
      if (length && ((length->unit.empty() && length->value <= 0.05) || (length->unit == "%" && length->value <= 5)))
        style.hidden = true;
    } else if (property == "font-size") {
      if (auto length = parse_length(value); length && tiny_font(*length)) style.hidden = true;
    } else if (property == "color") {
      if (auto colour = parse_colour(value, false)) style.colour = *colour;
    } else if (property == "background-color") {
      if (auto colour = parse_colour(value, false); colour && !colour->transparent) {
        style.background = colour->rgb;
        style.background_set = true;
      }
    } else if (property == "background" || property == "background-image") {
      if (value.find("url(") != std::string::npos || value.find("gradient(") != std::string::npos) {
        style.background.reset();
      } else if (property == "background") {
        // The shorthand: the colour is one of its words.
        std::size_t word_start = 0;
        while (word_start < value.size()) {
          std::size_t word_end = value.find(' ', word_start);
          if (word_end == std::string::npos) word_end = value.size();
          if (auto colour = parse_colour(std::string_view(value).substr(word_start, word_end - word_start), false);
              colour && !colour->transparent) {
            style.background = colour->rgb;
            style.background_set = true;
            break;
          }
          word_start = word_end + 1;
        }
      }
    } else if (property == "overflow" || property == "overflow-y") {
      if (value == "hidden") overflow_hidden = true;
    } else if (property == "max-height" || property == "height") {
      if (zero_length(value)) zero_height = true;
    } else if (property == "text-indent" || property == "left" || property == "margin-left") {
      if (off_screen(value)) style.hidden = true;
    }
  }
  if (overflow_hidden && zero_height) style.hidden = true;
}

const char* attribute(const GumboElement& element, const char* name) {
  const GumboAttribute* found = gumbo_get_attribute(&element.attributes, name);
  return found ? found->value : nullptr;
}

int pixels(const char* text) {
  if (!text) return -1;
  std::string_view value = trim(text);
  int number = 0, digits = 0;
  for (char c : value) {
    if (c < '0' || c > '9' || digits >= 6) break;
    number = number * 10 + (c - '0');
    ++digits;
  }
  return digits ? number : -1;
}

// ---------------------------------------------------------------------------------------------
// Elements

bool not_rendered(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_HEAD: case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_NOSCRIPT: case GUMBO_TAG_IFRAME: case GUMBO_TAG_OBJECT: case GUMBO_TAG_EMBED:
    case GUMBO_TAG_APPLET: case GUMBO_TAG_TITLE: case GUMBO_TAG_META: case GUMBO_TAG_LINK: case GUMBO_TAG_BASE:
    case GUMBO_TAG_AUDIO: case GUMBO_TAG_VIDEO: case GUMBO_TAG_CANVAS: case GUMBO_TAG_NOFRAMES:
    case GUMBO_TAG_DATALIST:
      return true;
    default:
      return false;
  }
}

bool is_block(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_ADDRESS: case GUMBO_TAG_ARTICLE: case GUMBO_TAG_ASIDE: case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_BR: case GUMBO_TAG_CAPTION: case GUMBO_TAG_CENTER: case GUMBO_TAG_DD: case GUMBO_TAG_DIV:
    case GUMBO_TAG_DL: case GUMBO_TAG_DT: case GUMBO_TAG_FIELDSET: case GUMBO_TAG_FIGCAPTION: case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_FOOTER: case GUMBO_TAG_FORM: case GUMBO_TAG_H1: case GUMBO_TAG_H2: case GUMBO_TAG_H3:
    case GUMBO_TAG_H4: case GUMBO_TAG_H5: case GUMBO_TAG_H6: case GUMBO_TAG_HEADER: case GUMBO_TAG_HR:
    case GUMBO_TAG_LI: case GUMBO_TAG_MAIN: case GUMBO_TAG_NAV: case GUMBO_TAG_OL: case GUMBO_TAG_P:
    case GUMBO_TAG_PRE: case GUMBO_TAG_SECTION: case GUMBO_TAG_TABLE: case GUMBO_TAG_TBODY: case GUMBO_TAG_TD:
    case GUMBO_TAG_TH: case GUMBO_TAG_THEAD: case GUMBO_TAG_TFOOT: case GUMBO_TAG_TR: case GUMBO_TAG_UL:
    case GUMBO_TAG_OPTION: case GUMBO_TAG_BUTTON: case GUMBO_TAG_DETAILS: case GUMBO_TAG_SUMMARY:
    case GUMBO_TAG_MENU: case GUMBO_TAG_LEGEND: case GUMBO_TAG_BODY: case GUMBO_TAG_HTML: case GUMBO_TAG_TEXTAREA:
    case GUMBO_TAG_SELECT: case GUMBO_TAG_LISTING: case GUMBO_TAG_XMP: case GUMBO_TAG_PLAINTEXT:
      return true;
    default:
      return false;
  }
}

class Walker {
 public:
  Walker(const HtmlLimits& limits, HtmlContent& out)
      : limits_(limits), out_(out), visible_(limits.max_text_bytes), hidden_(limits.max_text_bytes) {}

  void walk(const GumboNode* root) {
    Style style;
    visit(root, style, 0);
    out_.visible_chars = visible_.chars();
    out_.hidden_chars = hidden_.chars();
    out_.visible_text = visible_.take();
    out_.hidden_text = hidden_.take();
    if (visible_.full() || hidden_.full()) out_.truncated = true;
  }

 private:
  void visit(const GumboNode* node, const Style& inherited, std::size_t depth) {
    if (out_.nodes >= limits_.max_nodes || depth > limits_.max_depth) {
      out_.truncated = true;
      return;
    }
    ++out_.nodes;
    switch (node->type) {
      case GUMBO_NODE_DOCUMENT:
        visit_children(node->v.document.children, inherited, depth);
        return;
      case GUMBO_NODE_TEXT: case GUMBO_NODE_WHITESPACE: case GUMBO_NODE_CDATA:
        text(node->v.text.text, inherited);
        return;
      case GUMBO_NODE_COMMENT:
        suspicious_join_ = true;
        return;
      case GUMBO_NODE_TEMPLATE:
        return;
      case GUMBO_NODE_ELEMENT:
        element(node, inherited, depth);
        return;
    }
  }

  void visit_children(const GumboVector& children, const Style& style, std::size_t depth) {
    for (unsigned i = 0; i < children.length; ++i) visit(static_cast<const GumboNode*>(children.data[i]), style, depth + 1);
  }

  void element(const GumboNode* node, const Style& inherited, std::size_t depth) {
    const GumboElement& element = node->v.element;
    const GumboTag tag = element.tag;
    const std::size_t link = collect(element);
    if (tag == GUMBO_TAG_STYLE) note_style_sheet(element);
    if (tag == GUMBO_TAG_HEAD) {
      for (unsigned i = 0; i < element.children.length && i < limits_.max_nodes; ++i) {
        const auto* child = static_cast<const GumboNode*>(element.children.data[i]);
        if (child->type == GUMBO_NODE_ELEMENT && child->v.element.tag == GUMBO_TAG_STYLE) note_style_sheet(child->v.element);
      }
    }
    if (not_rendered(tag)) return;
    Style style = inherited;
    if (attribute(element, "hidden")) style.hidden = true;
    if (tag == GUMBO_TAG_INPUT) return;   // form fields show no text of their own
    if (tag == GUMBO_TAG_A && attribute(element, "href")) style.colour = Colour{{0, 0, 238}, false};   // links: blue
    if (attribute(element, "class") || attribute(element, "background")) style.background.reset();
    if (const char* colour = attribute(element, tag == GUMBO_TAG_BODY ? "text" : "color");
        colour && (tag == GUMBO_TAG_FONT || tag == GUMBO_TAG_BODY)) {
      if (auto parsed = parse_colour(colour, true)) style.colour = *parsed;
    }
    if (const char* background = attribute(element, "bgcolor")) {
      if (auto parsed = parse_colour(background, true); parsed && !parsed->transparent) {
        style.background = parsed->rgb;
        style.background_set = true;
      }
    }
    if (const char* css = attribute(element, "style")) apply_declarations(css, style);

    const bool block = is_block(tag);
    if (block) boundary();
    const bool is_link = link != npos;
    const std::size_t saved_link = current_link_;
    std::optional<TextSink> saved_text;
    if (is_link) {
      saved_text = std::move(link_text_);
      current_link_ = link;
      link_text_.emplace(1024);
    }
    const std::size_t chars_before = visible_.chars();
    visit_children(element.children, style, depth);
    if (is_link) {
      out_.links[link].text = link_text_->take();
      link_text_ = std::move(saved_text);
      current_link_ = saved_link;
    }
    if (block) boundary();
    // An inline element that shows nothing, between two letters, splits a word ("Vi<b></b>agra").
    else if (visible_.chars() == chars_before && tag != GUMBO_TAG_WBR) suspicious_join_ = true;
  }

  void boundary() {
    visible_.block();
    hidden_.block();
    if (link_text_) link_text_->space();
    last_letter_ = false;
    suspicious_join_ = false;
  }

  // Links, images and form targets, whether shown or not. Returns the index of the link this
  // element adds, npos when none.
  std::size_t collect(const GumboElement& element) {
    const GumboTag tag = element.tag;
    if (tag == GUMBO_TAG_A || tag == GUMBO_TAG_AREA) {
      if (const char* href = attribute(element, "href")) {
        if (out_.links.size() >= limits_.max_links) {
          out_.truncated = true;
          return npos;
        }
        out_.links.push_back({std::string(trim(href)), {}});
        return out_.links.size() - 1;
      }
    } else if (tag == GUMBO_TAG_IMG) {
      const char* src = attribute(element, "src");
      if (!src) return npos;
      if (out_.images.size() >= limits_.max_links) {
        out_.truncated = true;
        return npos;
      }
      HtmlImage image;
      image.src = std::string(trim(src));
      if (const char* alt = attribute(element, "alt")) image.alt = std::string(trim(alt));
      image.width = pixels(attribute(element, "width"));
      image.height = pixels(attribute(element, "height"));
      if (const char* css = attribute(element, "style")) {
        const std::string lower = to_lower_ascii(css);
        auto css_pixels = [&](std::string_view property) {
          for (std::size_t at = lower.find(property); at != std::string::npos; at = lower.find(property, at + 1)) {
            if (at > 0 && (lower[at - 1] == '-' || std::isalpha(static_cast<unsigned char>(lower[at - 1])))) continue;
            const auto colon = lower.find(':', at);
            if (colon == std::string::npos || trim(std::string_view(lower).substr(at + property.size(), colon - at - property.size())).size())
              continue;
            return pixels(lower.c_str() + colon + 1);
          }
          return -1;
        };
        if (int w = css_pixels("width"); w >= 0) image.width = w;
        if (int h = css_pixels("height"); h >= 0) image.height = h;
      }
      const std::string lower_src = to_lower_ascii(image.src.substr(0, 8));
      image.remote = lower_src.starts_with("http://") || lower_src.starts_with("https://") || lower_src.starts_with("//");
      if (image.remote) ++out_.remote_images;
      out_.images.push_back(std::move(image));
    } else if (tag == GUMBO_TAG_FORM) {
      if (const char* action = attribute(element, "action")) {
        if (out_.form_actions.size() >= limits_.max_links) {
          out_.truncated = true;
          return npos;
        }
        out_.form_actions.emplace_back(trim(action));
      }
    }
    return npos;
  }

  // A style sheet that paints backgrounds makes the initial white an unsafe guess.
  void note_style_sheet(const GumboElement& element) {
    for (unsigned i = 0; i < element.children.length; ++i) {
      const auto* child = static_cast<const GumboNode*>(element.children.data[i]);
      if (child->type == GUMBO_NODE_TEXT && to_lower_ascii(child->v.text.text).find("background") != std::string::npos)
        sheet_paints_background_ = true;
    }
  }

  bool hides_text(const Style& style) const {
    if (style.hidden || style.colour.transparent) return true;
    if (!style.background || (sheet_paints_background_ && !style.background_set)) return false;
    return close_colours(style.colour.rgb, *style.background);
  }

  void text(std::string_view content, const Style& style) {
    const bool hidden = hides_text(style);
    TextSink& sink = hidden ? hidden_ : visible_;
    if (hidden) sink.space();   // each hidden run apart from the last
    std::size_t i = 0;
    while (i < content.size()) {
      const std::size_t start = i;
      const char32_t c = next_code_point(content, i);
      // A byte that is not UTF-8 (gumbo passes some through) is written as U+FFFD, never copied.
      const std::string_view piece = c == 0xFFFD ? std::string_view("\xEF\xBF\xBD") : content.substr(start, i - start);
      if (is_space(c)) {
        sink.space();
        if (!hidden) {
          if (link_text_) link_text_->space();
          last_letter_ = false;
          suspicious_join_ = false;
        }
        continue;
      }
      if (is_invisible(c)) {
        ++out_.invisible_chars;
        if (!hidden) suspicious_join_ = true;
        continue;
      }
      if (hidden) {
        suspicious_join_ = true;
        sink.put(piece);
        continue;
      }
      const bool letter = is_letter(c);
      if (letter && last_letter_ && suspicious_join_) ++out_.split_words;
      suspicious_join_ = false;
      last_letter_ = letter;
      sink.put(piece);
      if (link_text_) link_text_->put(piece);
    }
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  const HtmlLimits& limits_;
  HtmlContent& out_;
  TextSink visible_, hidden_;
  std::optional<TextSink> link_text_;
  std::size_t current_link_ = npos;
  bool last_letter_ = false;       // the last visible character was a letter
  bool sheet_paints_background_ = false;
  bool suspicious_join_ = false;   // since then: a comment, an empty element, hidden text, an invisible character
};

bool element_without_nesting(std::string_view name) {
  // Void elements, and elements a sibling start tag closes (optional end tags, WHATWG HTML §13.1.2.4).
  static constexpr std::string_view names[] = {
      "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
      "param", "keygen", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot",
      "colgroup", "rb", "rt", "rp", "rtc", "html", "head", "body", "frame", "basefont", "bgsound", "image"};
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

bool raw_text_element(std::string_view name) {
  return name == "script" || name == "style" || name == "textarea" || name == "title" || name == "xmp" ||
         name == "iframe" || name == "noembed" || name == "noframes";
}

// Where the markup nests deeper than `max_depth` elements (counting start tags of elements that
// can contain themselves, less end tags), or html.size(). Tree construction checks the stack of
// open elements at every tag (WHATWG HTML §13.2.4.2 "has an element in scope"), so parsing time
// grows with tags times depth: the input is cut before the nesting gets deep.
std::size_t depth_cut(std::string_view html, std::size_t max_depth) {
  const std::string lower = to_lower_ascii(html);
  std::size_t depth = 0;
  std::size_t i = 0;
  auto name_at = [&](std::size_t start) {
    std::size_t end = start;
    while (end < lower.size() && end - start < 16 &&
           ((lower[end] >= 'a' && lower[end] <= 'z') || (lower[end] >= '0' && lower[end] <= '9') || lower[end] == '-'))
      ++end;
    return std::string_view(lower).substr(start, end - start);
  };
  while ((i = lower.find('<', i)) != std::string::npos && i + 1 < lower.size()) {
    const char next = lower[i + 1];
    if (lower.compare(i, 4, "<!--") == 0) {
      const auto end = lower.find("-->", i + 4);
      if (end == std::string::npos) break;
      i = end + 3;
    } else if (next == '/') {
      const std::string_view name = name_at(i + 2);
      if (!name.empty() && !element_without_nesting(name) && depth > 0) --depth;
      i += 2;
    } else if (next >= 'a' && next <= 'z') {
      const std::string_view name = name_at(i + 1);
      if (raw_text_element(name)) {
        const auto end = lower.find("</" + std::string(name), i + 1 + name.size());
        if (end == std::string::npos) break;
        i = end;
        continue;
      }
      if (!element_without_nesting(name) && ++depth > max_depth) return i;
      ++i;
    } else {
      ++i;
    }
  }
  return html.size();
}

// The input gumbo is given: at most max_input_bytes, cut before the tag after max_tags and before
// nesting deeper than max_depth.
std::string_view bounded_input(std::string_view html, const HtmlLimits& limits, bool& truncated) {
  if (html.size() > limits.max_input_bytes) {
    html = html.substr(0, limits.max_input_bytes);
    truncated = true;
  }
  std::size_t tags = 0;
  for (std::size_t at = html.find('<'); at != std::string_view::npos; at = html.find('<', at + 1)) {
    if (++tags > limits.max_tags) {
      truncated = true;
      html = html.substr(0, at);
      break;
    }
  }
  if (const std::size_t cut = depth_cut(html, limits.max_depth); cut < html.size()) {
    truncated = true;
    html = html.substr(0, cut);
  }
  return html;
}

}  // namespace

HtmlContent extract_html(std::string_view utf8_html, const HtmlLimits& limits) {
  HtmlContent content;
  if (trim(utf8_html).empty()) return content;
  content.parsed = true;
  const std::string_view input = bounded_input(utf8_html, limits, content.truncated);
  GumboOptions options = kGumboDefaultOptions;
  options.max_errors = 100;   // the errors are not used; keep their list small
  GumboOutput* output = gumbo_parse_with_options(&options, input.data(), input.size());
  if (!output) {
    content.truncated = true;
    return content;
  }
  Walker(limits, content).walk(output->document);
  gumbo_destroy_output(&options, output);
  return content;
}

}  // namespace gatehouse::content
