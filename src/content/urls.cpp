// URL extraction and normalisation (content/urls.hpp). Follows RFC 3986 for the parts of a URL,
// the WHATWG URL Standard where browsers differ from it (backslash as slash, tab/newline removal,
// the IPv4 number forms), UTS #46 / RFC 5891 for IDNA (libidn2) and the Public Suffix List for
// registrable domains (common/organizational_domain.hpp).
#include "content/urls.hpp"

#include <arpa/inet.h>
#include <idn2.h>
#include <libpsl.h>
#include <re2/re2.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <set>

#include "common/organizational_domain.hpp"
#include "common/text.hpp"

namespace gatehouse::content {
namespace {

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && to_lower_ascii(text.substr(0, prefix.size())) == prefix;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// The scheme as written, mapped to the real one: "hxxp", "h**p", "hxxps" → http(s).
std::optional<std::string> real_scheme(std::string_view written, bool& obfuscated) {
  const std::string scheme = to_lower_ascii(written);
  if (scheme == "http" || scheme == "https" || scheme == "ftp") return scheme;
  if ((scheme.size() == 4 || (scheme.size() == 5 && scheme[4] == 's')) && scheme[0] == 'h' && scheme[3] == 'p') {
    auto disguise = [](char c) { return c == 'x' || c == 't' || c == '*'; };
    if (disguise(scheme[1]) && disguise(scheme[2])) {
      obfuscated = true;
      return scheme.size() == 5 ? "https" : "http";
    }
  }
  return std::nullopt;
}

// WHATWG URL "IPv4 number parser": decimal, 0x hex, leading-zero octal.
std::optional<std::uint64_t> ipv4_number(std::string_view part) {
  if (part.empty()) return std::nullopt;
  int base = 10;
  if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
    part.remove_prefix(2);
    base = 16;
  } else if (part.size() >= 2 && part[0] == '0') {
    part.remove_prefix(1);
    base = 8;
  }
  if (part.empty()) return 0;
  if (part.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : part) {
    const int digit = hex_value(c);
    if (digit < 0 || digit >= base) return std::nullopt;
    value = value * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(digit);
    if (value > 0xFFFFFFFFull) return std::nullopt;
  }
  return value;
}

bool ends_in_number(std::string_view host) {
  std::string_view last = host.substr(host.rfind('.') == std::string_view::npos ? 0 : host.rfind('.') + 1);
  if (last.empty()) return false;
  if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) return true;
  if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X'))
    return std::all_of(last.begin() + 2, last.end(), [](char c) { return hex_value(c) >= 0; });
  return false;
}

// "3232235777", "0xC0.0xA8.1.1", "0300.0250.0.1", "192.168.257" → dotted quad; nullopt if invalid.
std::optional<std::string> parse_ipv4_host(std::string_view host) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto dot = host.find('.', start);
    parts.push_back(host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
    if (parts.size() > 4) return std::nullopt;
  }
  if (parts.size() > 4) return std::nullopt;
  std::vector<std::uint64_t> numbers;
  for (auto part : parts) {
    auto number = ipv4_number(part);
    if (!number) return std::nullopt;
    numbers.push_back(*number);
  }
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i)
    if (numbers[i] > 255) return std::nullopt;
  const std::size_t remaining = 5 - numbers.size();   // bytes the last number fills
  if (numbers.back() >= (std::uint64_t{1} << (8 * remaining))) return std::nullopt;
  std::uint64_t address = numbers.back();
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i) address += numbers[i] << (8 * (3 - i));
  return std::to_string((address >> 24) & 255) + "." + std::to_string((address >> 16) & 255) + "." +
         std::to_string((address >> 8) & 255) + "." + std::to_string(address & 255);
}

bool valid_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.find('.') == std::string_view::npos) return false;
  std::size_t start = 0;
  while (start <= host.size()) {
    auto dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    const auto label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63) return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
    start = dot + 1;
  }
  return true;
}

struct HostForms {
  std::string ascii, unicode;
  bool is_ip = false;
};

// The host of a URL, percent-decoded, through IDNA; nullopt when browsers would not resolve it.
std::optional<HostForms> normalise_host(std::string_view written, bool& obfuscated) {
  if (written.size() > 1024) return std::nullopt;   // a host name has at most 253 octets
  std::string host = percent_decode(written);
  // "[.]", "(.)" and "[dot]" for dots: an obfuscated host, never a real one.
  for (std::string_view disguise : {"[.]", "(.)", "{.}", "[dot]", "(dot)"}) {
    for (auto at = to_lower_ascii(host).find(disguise); at != std::string::npos; at = to_lower_ascii(host).find(disguise)) {
      host.replace(at, disguise.size(), ".");
      obfuscated = true;
    }
  }
  HostForms forms;
  if (!host.empty() && host.front() == '[') {
    if (host.back() != ']') return std::nullopt;
    std::string inner = host.substr(1, host.size() - 2);
    in6_addr address{};
    if (inet_pton(AF_INET6, inner.c_str(), &address) != 1) return std::nullopt;
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, &address, text, sizeof text);
    forms.ascii = forms.unicode = "[" + std::string(text) + "]";
    forms.is_ip = true;
    return forms;
  }
  if (!valid_utf8(host)) return std::nullopt;
  host = to_lower_ascii(host);
  const bool ascii = std::all_of(host.begin(), host.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (!ascii || host.find("xn--") != std::string::npos) {
    char* converted = nullptr;
    if (idn2_to_ascii_8z(host.c_str(), &converted, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK || !converted) {
      idn2_free(converted);
      return std::nullopt;
    }
    host = to_lower_ascii(converted);
    idn2_free(converted);
  }
  while (!host.empty() && host.back() == '.') host.pop_back();
  if (host.empty()) return std::nullopt;
  if (ends_in_number(host)) {
    auto ip = parse_ipv4_host(host);
    if (!ip) return std::nullopt;
    forms.ascii = forms.unicode = *ip;
    forms.is_ip = true;
    return forms;
  }
  if (!valid_dns_name(host)) return std::nullopt;
  forms.ascii = host;
  forms.unicode = host;
  if (host.find("xn--") != std::string::npos) {
    char* unicode = nullptr;
    if (idn2_to_unicode_8z8z(host.c_str(), &unicode, 0) == IDN2_OK && unicode) forms.unicode = unicode;
    idn2_free(unicode);
  }
  return forms;
}

// The rest of the URL (path, query, fragment) in printable ASCII: other bytes percent-encoded.
std::string encode_rest(std::string_view rest) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  if (rest.empty() || rest.front() == '?' || rest.front() == '#') out += '/';
  for (char c : rest) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\\') {
      out += '/';
    } else if (byte <= 0x20 || byte >= 0x7F || c == '"' || c == '<' || c == '>' || c == '`') {
      out += '%';
      out += digits[byte >> 4];
      out += digits[byte & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view default_port(std::string_view scheme) {
  if (scheme == "http") return "80";
  if (scheme == "https") return "443";
  return "21";
}

const RE2& text_url_pattern() {
  // Scheme URLs (real or disguised), "www." names, and bare names with disguised dots.
  static const RE2 pattern(
      R"((?i)((?:\b(?:h[xt*][xt*]ps?|ftp)(?:://|\[:\]//)|\bwww(?:\.|\[\.\]|\(\.\)))[^\s<>"'`\x00-\x1f]+)"
      R"(|\b[a-z0-9][a-z0-9-]*(?:(?:\.|\[\.\]|\(\.\))[a-z0-9-]+)*(?:\[\.\]|\(\.\))[a-z0-9-]*[a-z][a-z0-9-]*(?:/[^\s<>"'`\x00-\x1f]*)?))");
  return pattern;
}

// Trailing punctuation that belongs to the sentence, not the URL.
std::string_view trim_trailing(std::string_view candidate) {
  while (!candidate.empty()) {
    const char c = candidate.back();
    if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '*') {
      candidate.remove_suffix(1);
      continue;
    }
    if (c == ')' || c == ']' || c == '}') {
      const char open = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (std::count(candidate.begin(), candidate.end(), open) < std::count(candidate.begin(), candidate.end(), c)) {
        candidate.remove_suffix(1);
        continue;
      }
    }
    break;
  }
  return candidate;
}

void add_redirect_targets(std::vector<Url>& urls, std::size_t from, const UrlLimits& limits) {
  // Two rounds: a redirector's target may itself be a redirector.
  for (int round = 0; round < 2; ++round) {
    const std::size_t end = urls.size();
    for (std::size_t i = from; i < end && urls.size() < limits.max_urls; ++i) {
      const std::string outer = urls[i].normalized;
      const auto question = outer.find('?');
      if (question == std::string::npos) continue;
      std::string_view query(outer);
      query.remove_prefix(question + 1);
      if (auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
      std::size_t start = 0;
      int parameters = 0;
      while (start <= query.size() && parameters++ < 50) {
        auto amp = query.find('&', start);
        if (amp == std::string_view::npos) amp = query.size();
        std::string_view parameter = query.substr(start, amp - start);
        start = amp + 1;
        const auto equals = parameter.find('=');
        if (equals == std::string_view::npos) continue;
        std::string value = percent_decode(parameter.substr(equals + 1));
        if (starts_with_nocase(value, "http%3a")) value = percent_decode(value);   // encoded twice
        if (!starts_with_nocase(value, "http://") && !starts_with_nocase(value, "https://")) continue;
        auto target = normalise_url(value.substr(0, limits.max_url_bytes), urls[i].source);
        if (!target || urls.size() >= limits.max_urls) continue;
        target->redirect_of = outer;
        urls.push_back(std::move(*target));
      }
    }
    from = end;
  }
}

void deduplicate(std::vector<Url>& urls, std::size_t max_urls) {
  std::set<std::string> seen;
  std::vector<Url> kept;
  kept.reserve(std::min(urls.size(), max_urls));
  for (auto& url : urls) {
    if (kept.size() >= max_urls) break;
    std::string key = url.normalized + '\n' + std::string(to_string(url.source)) + '\n' + url.link_text + '\n' + url.redirect_of;
    if (seen.insert(std::move(key)).second) kept.push_back(std::move(url));
  }
  urls = std::move(kept);
}

const psl_ctx_t* suffix_list() {
  static const psl_ctx_t* context = [] {
    const psl_ctx_t* latest = psl_latest(nullptr);
    return latest ? latest : psl_builtin();
  }();
  return context;
}

// Whether the name ends in a suffix of the Public Suffix List (not just its "*" default rule),
// or in a reserved test name (RFC 2606), so that "file.txt" is not taken for a host.
bool has_known_suffix(std::string_view host) {
  const auto dot = host.rfind('.');
  if (dot == std::string_view::npos) return false;
  const std::string tld(host.substr(dot + 1));
  if (tld == "test" || tld == "example") return true;
  const psl_ctx_t* list = suffix_list();
  return list && psl_is_public_suffix2(list, tld.c_str(), PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE);
}

}  // namespace

std::string_view to_string(UrlSource source) {
  switch (source) {
    case UrlSource::text: return "text";
    case UrlSource::href: return "href";
    case UrlSource::src: return "src";
    case UrlSource::form: return "form";
  }
  return "text";
}

std::optional<Url> normalise_url(std::string_view text, UrlSource source) {
  if (text.size() > 65536) return std::nullopt;
  // Browsers drop surrounding spaces and controls and every tab and newline inside (WHATWG URL).
  std::string cleaned;
  cleaned.reserve(text.size());
  for (char c : text)
    if (c != '\t' && c != '\n' && c != '\r') cleaned += c;
  std::string_view input(cleaned);
  while (!input.empty() && static_cast<unsigned char>(input.front()) <= 0x20) input.remove_prefix(1);
  while (!input.empty() && static_cast<unsigned char>(input.back()) <= 0x20) input.remove_suffix(1);
  if (input.empty()) return std::nullopt;

  Url url;
  url.original = std::string(text.substr(0, 4096));
  url.source = source;
  std::string_view after_scheme;
  if (input.starts_with("//")) {
    url.scheme = "http";
    after_scheme = input.substr(2);
  } else if (starts_with_nocase(input, "www.") || starts_with_nocase(input, "www[.]") || starts_with_nocase(input, "www(.)")) {
    url.scheme = "http";
    after_scheme = input;
  } else {
    const auto colon = input.find(':');
    const auto bracket_colon = input.find("[:]");
    std::size_t scheme_end = std::min(colon, bracket_colon);
    if (scheme_end == std::string_view::npos || scheme_end == 0 || scheme_end > 5) return std::nullopt;
    auto scheme = real_scheme(input.substr(0, scheme_end), url.obfuscated);
    if (!scheme) return std::nullopt;
    url.scheme = *scheme;
    std::string_view rest = input.substr(scheme_end);
    if (rest.starts_with("[:]")) {
      url.obfuscated = true;
      rest.remove_prefix(3);
    } else {
      rest.remove_prefix(1);
    }
    // "http:/host" and "http:\\host" are read as "http://host" by browsers.
    std::size_t slashes = 0;
    while (slashes < rest.size() && (rest[slashes] == '/' || rest[slashes] == '\\')) ++slashes;
    if (slashes == 0) return std::nullopt;
    after_scheme = rest.substr(slashes);
  }

  // The authority ends at the first '/', '?', '#' or '\'.
  std::size_t authority_end = after_scheme.find_first_of("/?#\\");
  if (authority_end == std::string_view::npos) authority_end = after_scheme.size();
  std::string_view authority = after_scheme.substr(0, authority_end);
  const std::string_view rest = after_scheme.substr(authority_end);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    url.has_userinfo = true;
    url.userinfo = percent_decode(authority.substr(0, at));
    authority.remove_prefix(at + 1);
  }
  std::string_view host_text = authority, port_text;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host_text = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host_text = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  std::string port;
  if (!port_text.empty()) {
    if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    const long number = std::strtol(std::string(port_text).c_str(), nullptr, 10);
    if (number > 65535) return std::nullopt;
    port = std::to_string(number);
    if (port == default_port(url.scheme)) port.clear();
  }
  auto host = normalise_host(host_text, url.obfuscated);
  if (!host) return std::nullopt;
  url.host = host->ascii;
  url.unicode_host = host->unicode;
  url.is_ip = host->is_ip;
  url.registrable_domain = url.is_ip ? url.host : organizational_domain(url.host);
  url.normalized = url.scheme + "://" + url.host + (port.empty() ? "" : ":" + port) + encode_rest(rest);
  return url;
}

// Whether text_url_pattern() can match anywhere in `text`: each of its forms needs "//" (a
// scheme), "www" in any case, or a disguised dot "[.]" / "(.)". Most text without links has none,
// and these scans cost far less than the regular expression's search over the whole text.
namespace {
bool could_hold_url(std::string_view text) {
  if (text.find("//") != std::string_view::npos || text.find("[.]") != std::string_view::npos ||
      text.find("(.)") != std::string_view::npos)
    return true;
  // (A plain loop: find_first_of("wW") calls memchr once per byte.)
  for (std::size_t at = 0; at + 3 <= text.size(); ++at)
    if ((text[at] | 0x20) == 'w' && (text[at + 1] | 0x20) == 'w' && (text[at + 2] | 0x20) == 'w') return true;
  return false;
}
}  // namespace

std::vector<Url> extract_text_urls(std::string_view text, const UrlLimits& limits) {
  std::vector<Url> urls;
  if (text.size() > limits.max_scan_bytes) text = text.substr(0, limits.max_scan_bytes);
  if (!could_hold_url(text)) return urls;
  re2::StringPiece input(text.data(), text.size());
  re2::StringPiece match;
  std::size_t candidates = 0;
  while (urls.size() < limits.max_urls && candidates++ < limits.max_urls * 4 &&
         RE2::FindAndConsume(&input, text_url_pattern(), &match)) {
    std::string_view candidate(match.data(), std::min<std::size_t>(match.size(), limits.max_url_bytes));
    candidate = trim_trailing(candidate);
    const bool has_scheme = candidate.find("//") != std::string_view::npos && candidate.find("//") < 10;
    const bool www = starts_with_nocase(candidate, "www");
    std::string written(candidate);
    if (!has_scheme && !www) written = "http://" + written;   // a bare name with disguised dots
    auto url = normalise_url(written, UrlSource::text);
    if (!url) continue;
    if (!has_scheme && !www && (url->is_ip || !has_known_suffix(url->host))) continue;
    url->original = std::string(candidate);
    urls.push_back(std::move(*url));
  }
  return urls;
}

std::vector<Url> extract_html_urls(const HtmlContent& html, const UrlLimits& limits) {
  std::vector<Url> urls;
  auto add = [&](std::string_view written, UrlSource source, std::string_view link_text) {
    if (urls.size() >= limits.max_urls) return;
    auto url = normalise_url(written.substr(0, limits.max_url_bytes), source);
    if (!url) return;
    url->link_text = std::string(link_text);
    urls.push_back(std::move(*url));
  };
  for (const auto& link : html.links) add(link.href, UrlSource::href, link.text);
  for (const auto& image : html.images) add(image.src, UrlSource::src, {});
  for (const auto& action : html.form_actions) add(action, UrlSource::form, {});
  for (std::string_view text : {std::string_view(html.visible_text), std::string_view(html.hidden_text)}) {
    if (urls.size() >= limits.max_urls) break;
    UrlLimits rest = limits;
    rest.max_urls = limits.max_urls - urls.size();
    for (auto& url : extract_text_urls(text, rest)) urls.push_back(std::move(url));
  }
  return urls;
}

std::vector<Url> collect_urls(std::string_view text_plain, const HtmlContent& html, const UrlLimits& limits) {
  std::vector<Url> urls = extract_html_urls(html, limits);
  if (urls.size() < limits.max_urls) {
    UrlLimits rest = limits;
    rest.max_urls = limits.max_urls - urls.size();
    for (auto& url : extract_text_urls(text_plain, rest)) urls.push_back(std::move(url));
  }
  deduplicate(urls, limits.max_urls);
  const std::size_t direct = urls.size();
  add_redirect_targets(urls, 0, limits);
  if (urls.size() > direct) deduplicate(urls, limits.max_urls);
  return urls;
}

std::vector<std::string> hosts_named_in(std::string_view text) {
  std::vector<std::string> hosts;
  // Trimmed of spaces and the punctuation around it, is the whole text one name or URL?
  std::string_view whole = text.substr(0, 2048);
  auto edge = [](char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '<' || c == '>' || c == '(' || c == ')' || c == '[' ||
           c == ']' || c == '"' || c == '\'' || c == ',' || c == ':' || c == ';' || c == '.';
  };
  while (!whole.empty() && edge(whole.front())) whole.remove_prefix(1);
  while (!whole.empty() && edge(whole.back())) whole.remove_suffix(1);
  if (!whole.empty() && whole.find_first_of(" \n\t") == std::string_view::npos && whole.find('.') != std::string_view::npos) {
    std::string candidate(whole);
    if (const auto at = candidate.find('@'); at != std::string::npos && candidate.find("://") == std::string::npos)
      candidate = candidate.substr(at + 1);   // an address shown as link text names its domain
    const bool has_scheme = candidate.find("://") != std::string::npos;
    auto url = normalise_url(has_scheme ? candidate : "http://" + candidate, UrlSource::text);
    // A number like "1.5" or "12.99" is not an address shown to the reader: only dotted quads are.
    std::string_view host_text(candidate);
    if (has_scheme) host_text.remove_prefix(candidate.find("://") + 3);
    host_text = host_text.substr(0, host_text.find_first_of("/?#"));
    const bool dotted_quad = std::count(host_text.begin(), host_text.end(), '.') == 3;
    if (url && ((url->is_ip && dotted_quad) || (!url->is_ip && has_known_suffix(url->host)))) {
      hosts.push_back(url->host);
      return hosts;
    }
  }
  // Otherwise the names the text writes as URLs or "www." names.
  for (auto& url : extract_text_urls(text, UrlLimits{.max_urls = 20}))
    if ((url.original.find("//") != std::string::npos || starts_with_nocase(url.original, "www")) && !url.is_ip &&
        has_known_suffix(url.host))
      hosts.push_back(url.host);
  return hosts;
}

}  // namespace gatehouse::content
