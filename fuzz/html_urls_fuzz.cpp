// libFuzzer target for the HTML reader and the URL extraction and normalisation of the content
// analysis (src/content/html.hpp: WHATWG HTML parsing via gumbo, visible/hidden text, links;
// src/content/urls.hpp: RFC 3986 / WHATWG URL parts, IDNA via libidn2, IPv4 forms, redirectors).
//
// Input layout: 1 setting byte, then the text.
//   bit 0  small limits (max_nodes 300, max_depth 20, max_text_bytes 200, max_links 5, max_tags 50,
//          max_urls 7) so that every limit is reached;
//   bit 1  the text is also normalised as one URL (normalise_url) and read for link-text hosts.
// The text is read as HTML (extract_html) and as plain text (extract_text_urls); the URLs of both
// are collected (collect_urls).
//
// Invariants checked:
// - extract_html: visible and hidden text within max_text_bytes, valid UTF-8 (gumbo's output is),
//   no "  " or leading/trailing separators; links, images, form actions within max_links; nodes
//   within max_nodes; the character counts no larger than the texts' bytes; remote_images counts
//   the remote images exactly;
// - every URL: normalised text is printable ASCII, starts with its scheme and "://" and the host;
//   re-normalising it gives the same normalised text, host and IP-ness (idempotence); the host is
//   not empty, has no upper case; a non-IP host's registrable domain is a suffix of it;
// - collect_urls: at most max_urls and no two alike (normalised, source, link text, redirect);
// - hosts_named_in: every name is lower case ASCII without '/' or spaces.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "common/text.hpp"
#include "content/html.hpp"
#include "content/urls.hpp"

using namespace gatehouse::content;

bool fuzz_invariant_ignored(const char* what);  // fuzz/fuzz_support.cpp

namespace {

std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 300)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    }
  }
  return out;
}

void fail(const char* what, std::string_view first, std::string_view second = {}) {
  if (fuzz_invariant_ignored(what)) return;
  std::fprintf(stderr, "html_urls invariant violated: %s\n  [%s]\n  [%s]\n", what, printable(first).c_str(),
               printable(second).c_str());
  std::abort();
}

void check_text(std::string_view text, std::size_t limit, std::string_view input) {
  if (text.size() > limit) fail("text longer than max_text_bytes", input, text);
  if (!gatehouse::valid_utf8(text)) fail("text that is not UTF-8", input, text);
  if (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.back() == ' ' || text.back() == '\n'))
    fail("text with a leading or trailing separator", input, text);
  if (text.find("  ") != std::string_view::npos || text.find("\n\n") != std::string_view::npos ||
      text.find(" \n") != std::string_view::npos || text.find("\n ") != std::string_view::npos)
    fail("text with separators not collapsed", input, text);
}

void check_url(const Url& url, std::string_view input) {
  for (char c : url.normalized)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      fail("a normalised URL with a byte outside printable ASCII", input, url.normalized);
  if (url.host.empty()) fail("a URL without a host", input, url.normalized);
  for (char c : url.host)
    if (c >= 'A' && c <= 'Z') fail("a host with upper case", input, url.host);
  if (url.normalized.rfind(url.scheme + "://" + url.host, 0) != 0)
    fail("a normalised URL that does not start with scheme://host", input, url.normalized);
  if (!url.is_ip) {
    const auto& domain = url.registrable_domain;
    if (domain.empty() || domain.size() > url.host.size() ||
        url.host.compare(url.host.size() - domain.size(), domain.size(), domain) != 0)
      fail("a registrable domain that is not a suffix of the host", input, url.host + " / " + domain);
  }
  auto again = normalise_url(url.normalized, url.source);
  if (!again) {
    fail("a normalised URL that does not normalise again", input, url.normalized);
    return;
  }
  if (again->normalized != url.normalized) fail("normalising is not idempotent", url.normalized, again->normalized);
  if (again->host != url.host || again->is_ip != url.is_ip) fail("the host changes when normalised again", url.host, again->host);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t settings = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  HtmlLimits html_limits;
  UrlLimits url_limits;
  if (settings & 1) {
    html_limits.max_nodes = 300;
    html_limits.max_depth = 20;
    html_limits.max_text_bytes = 200;
    html_limits.max_links = 5;
    html_limits.max_tags = 50;
    url_limits.max_urls = 7;
  }

  const HtmlContent html = extract_html(input, html_limits);
  check_text(html.visible_text, html_limits.max_text_bytes, input);
  check_text(html.hidden_text, html_limits.max_text_bytes, input);
  if (html.links.size() > html_limits.max_links || html.images.size() > html_limits.max_links ||
      html.form_actions.size() > html_limits.max_links)
    fail("more links, images or forms than max_links", input);
  if (html.nodes > html_limits.max_nodes) fail("more nodes than max_nodes", input);
  if (html.visible_chars > html.visible_text.size() || html.hidden_chars > html.hidden_text.size())
    fail("a character count larger than its text", input);
  std::size_t remote = 0;
  for (const auto& image : html.images) remote += image.remote;
  if (remote != html.remote_images) fail("remote_images differs from the remote images", input);

  const auto text_urls = extract_text_urls(input, url_limits);
  if (text_urls.size() > url_limits.max_urls) fail("more text URLs than max_urls", input);
  for (const auto& url : text_urls) check_url(url, input);

  const auto urls = collect_urls(input, html, url_limits);
  if (urls.size() > url_limits.max_urls) fail("more URLs than max_urls", input);
  std::set<std::string> keys;
  for (const auto& url : urls) {
    check_url(url, input);
    std::string key = url.normalized + '\n' + std::string(to_string(url.source)) + '\n' + url.link_text + '\n' + url.redirect_of;
    if (!keys.insert(key).second) fail("a URL collected twice", input, url.normalized);
  }

  if (settings & 2) {
    if (auto url = normalise_url(input)) check_url(*url, input);
    for (const auto& host : hosts_named_in(input)) {
      for (char c : host)
        if ((c >= 'A' && c <= 'Z') || c == '/' || c == ' ' || static_cast<unsigned char>(c) >= 0x80)
          fail("a named host that is not a lower-case ASCII name", input, host);
    }
  }
  return 0;
}
