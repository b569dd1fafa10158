// The links of a message: URLs found in plain text (http/https/ftp, "www." names, obfuscated
// forms like "hxxp://evil[.]test") and in HTML (href, img src, form action), normalised so that
// block lists and phishing checks compare like with like: scheme and host in lower case, the host
// percent-decoded and converted by IDNA (UTS #46 / RFC 5891) to its A-label and U-label, trailing
// dots dropped, numeric hosts in every IPv4 spelling browsers accept (WHATWG URL "IPv4 parser":
// decimal, hex, octal, fewer than four parts) written as dotted quads, the userinfo split off (RFC
// 3986 §3.2.1) and kept, and the registrable domain from the Public Suffix List. A query
// parameter that carries a whole http(s) URL (a redirector: "?url=", "?q=", "?u=") adds the
// target as a URL of its own. Results are deduplicated and bounded.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "content/html.hpp"

namespace gatehouse::content {

enum class UrlSource { text, href, src, form };
std::string_view to_string(UrlSource source);

struct Url {
  std::string original;            // as found (at most max_url_bytes)
  std::string normalized;          // scheme://host[:port]/path?query#fragment, ASCII; no userinfo
  std::string scheme;              // "http", "https", "ftp"
  std::string host;                // A-label host or dotted-quad / [IPv6] address
  std::string unicode_host;        // U-label form (= host when ASCII or numeric)
  std::string registrable_domain;  // A-label; the host itself for numeric hosts
  std::string userinfo;            // "paypal.com" in http://paypal.com@evil.test/ (percent-decoded)
  bool is_ip = false;
  bool has_userinfo = false;
  bool obfuscated = false;         // written as hxxp://, h**p://, with [.] or (.) dots
  UrlSource source = UrlSource::text;
  std::string link_text;           // href: the link's visible text
  std::string redirect_of;         // a redirector's target: the normalised URL that carried it
};

struct UrlLimits {
  std::size_t max_urls = 500;
  std::size_t max_url_bytes = 4096;     // longer candidates are cut here
  std::size_t max_scan_bytes = 4u << 20;   // plain text scanned for URLs
};

// Normalises one URL written in a link or text. nullopt when it is not an http, https or ftp URL
// with a usable host ("mailto:", "javascript:", relative references, hosts with bad characters).
// "//host/path" is read as http. Idempotent: normalising `normalized` gives it back.
std::optional<Url> normalise_url(std::string_view text, UrlSource source = UrlSource::text);

// URLs in plain text, in order of appearance.
std::vector<Url> extract_text_urls(std::string_view text, const UrlLimits& limits = {});

// URLs of HTML links, images and forms, then bare URLs in its visible text.
std::vector<Url> extract_html_urls(const HtmlContent& html, const UrlLimits& limits = {});

// All of a message's URLs: the HTML's, then the plain text's; redirector targets added; distinct
// by (normalised URL, source); at most limits.max_urls.
std::vector<Url> collect_urls(std::string_view text_plain, const HtmlContent& html, const UrlLimits& limits = {});

// Domain-like names in free text ("paypal.com", "www.paypal.com/login", "https://paypal.com"): the
// hosts a reader would take the text to name, lower case. Used to compare a link's text with its
// target.
std::vector<std::string> hosts_named_in(std::string_view text);

}  // namespace gatehouse::content
