// The adaptive classifier's tokenizer. See tokenizer.hpp and docs/content.md ("Classifier").
// HTML is read crudely (HTML5 tokenisation is not needed to find words, links and tag names);
// URLs per RFC 3986 §3.2 (authority: [userinfo "@"] host [":" port]).
#include "classifier/tokenizer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <unordered_set>

#include "common/organizational_domain.hpp"
#include "common/text.hpp"
#include "content/html.hpp"
#include "content/urls.hpp"

namespace gatehouse::classifier {
namespace {

constexpr std::size_t kMinWordLength = 2;
constexpr std::size_t kMaxWordLength = 30;
constexpr std::size_t kOsbWindow = 4;        // pairs up to 4 words apart (a window of five)

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_word_byte(unsigned char c) {
  return std::isalnum(c) || c >= 0x80 || c == '$' || c == '\'' || c == '-' || c == '_' || c == '.' || c == '!' ||
         c == '%' || c == '@';
}

bool is_trimmed_edge(char c) { return c == '.' || c == '\'' || c == '-' || c == '_' || c == '@'; }

bool all_digits(std::string_view word) {
  return !word.empty() && std::all_of(word.begin(), word.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool is_ip_literal(std::string_view host) {
  if (host.empty()) return false;
  if (host.front() == '[') return true;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) { return std::isdigit(c) || c == '.'; });
}

// "Name <local@domain>" → "local@domain" (the first address; "" when there is none).
std::string first_address(std::string_view value) {
  auto open = value.find('<');
  if (open != std::string_view::npos) {
    auto close = value.find('>', open);
    if (close != std::string_view::npos) return to_lower_ascii(trim_ascii_whitespace(value.substr(open + 1, close - open - 1)));
  }
  auto at = value.find('@');
  if (at == std::string_view::npos) return {};
  auto start = value.find_last_of(" \t,;:\"(", at);
  start = start == std::string_view::npos ? 0 : start + 1;
  auto end = value.find_first_of(" \t,;\")", at);
  return to_lower_ascii(value.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

std::string domain_of(std::string_view address) {
  auto at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string domain = to_lower_ascii(address.substr(at + 1));
  while (!domain.empty() && (domain.back() == '.' || domain.back() == '>')) domain.pop_back();
  return domain;
}

// "Microsoft Outlook Express 6.00.2600.0000" → "microsoft outlook express": the product without
// versions, so that one mailer is one token.
std::string mailer_name(std::string_view value) {
  std::string name;
  std::size_t words = 0;
  for (const auto& word : words_of(value, 8)) {
    if (std::isdigit(static_cast<unsigned char>(word[0])) || word.starts_with("v") && word.size() > 1 &&
                                                                 std::isdigit(static_cast<unsigned char>(word[1])))
      break;
    if (!name.empty()) name += ' ';
    name += word;
    if (++words == 3) break;
  }
  return name;
}

std::string size_bucket(std::size_t count) {
  if (count == 0) return "0";
  if (count == 1) return "1";
  if (count <= 3) return "2-3";
  if (count <= 10) return "4-10";
  if (count <= 30) return "11-30";
  return "31+";
}

class FeatureSet {
 public:
  void add(std::string text) {
    std::uint64_t hash = feature_hash(text);
    if (seen_.insert(hash).second) features_.push_back({hash, std::move(text)});
  }
  std::vector<Feature> take() { return std::move(features_); }

 private:
  std::unordered_set<std::uint64_t> seen_;
  std::vector<Feature> features_;
};

void add_words(FeatureSet& set, const std::vector<std::string>& words, std::string_view prefix, bool osb) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    set.add(fmt::format("{}{}", prefix, words[i]));
    if (!osb) continue;
    for (std::size_t distance = 1; distance <= kOsbWindow && distance <= i; ++distance)
      set.add(fmt::format("{}{} {} {}", prefix, words[i - distance], distance, words[i]));
  }
}

// Tag names of an HTML body ("font", "img", ...), distinct.
void add_html_tags(FeatureSet& set, std::string_view html) {
  std::size_t tags = 0;
  for (std::size_t pos = html.find('<'); pos != std::string_view::npos && tags < 2000; pos = html.find('<', pos + 1)) {
    std::size_t start = pos + 1;
    if (start < html.size() && html[start] == '/') ++start;
    std::size_t end = start;
    while (end < html.size() && end - start < 12 && std::isalnum(static_cast<unsigned char>(html[end]))) ++end;
    if (end == start) continue;
    ++tags;
    set.add("html:tag:" + to_lower_ascii(html.substr(start, end - start)));
  }
}

void add_url_features(FeatureSet& set, std::string_view text) {
  for (const auto& host : url_hosts(text)) {
    if (is_ip_literal(host)) {
      set.add("url:ip_literal");
      continue;
    }
    set.add("url:host:" + host);
    set.add("url:org:" + organizational_domain(host));
  }
}

void add_address_features(FeatureSet& set, std::string_view prefix, std::string_view value,
                          std::string* organization = nullptr) {
  std::string address = first_address(value);
  std::string domain = domain_of(address);
  if (domain.empty()) {
    set.add(fmt::format("{}:no_address", prefix));
    return;
  }
  std::string org = organizational_domain(domain);
  set.add(fmt::format("{}:domain:{}", prefix, domain));
  set.add(fmt::format("{}:org:{}", prefix, org));
  std::string_view local = std::string_view(address).substr(0, address.rfind('@'));
  auto digits = std::count_if(local.begin(), local.end(), [](unsigned char c) { return std::isdigit(c); });
  if (digits >= 3) set.add(fmt::format("{}:local_digits", prefix));
  if (organization) *organization = std::move(org);
}

}  // namespace

std::uint64_t feature_hash(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  // splitmix64 finaliser: spreads FNV's weak low bits over the whole word.
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ull;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebull;
  hash ^= hash >> 31;
  return hash;
}

std::vector<std::string> words_of(std::string_view text, std::size_t max_words) {
  std::vector<std::string> words;
  std::size_t pos = 0;
  while (pos < text.size() && words.size() < max_words) {
    while (pos < text.size() && !is_word_byte(static_cast<unsigned char>(text[pos]))) ++pos;
    std::size_t start = pos;
    while (pos < text.size() && is_word_byte(static_cast<unsigned char>(text[pos]))) ++pos;
    std::string_view word = text.substr(start, pos - start);
    while (!word.empty() && is_trimmed_edge(word.front())) word.remove_prefix(1);
    while (!word.empty() && is_trimmed_edge(word.back())) word.remove_suffix(1);
    if (word.size() < kMinWordLength) {
      if (word == "$" || word == "!") words.emplace_back(word);
      continue;
    }
    if (word.size() > kMaxWordLength) {
      // Long runs (encoded data, URLs, hashes) say little one by one: their shape says more.
      words.push_back(fmt::format("skip:{}:{}", lower(word.front()), word.size() / 10 * 10));
      continue;
    }
    if (all_digits(word) && word.size() > 4) {
      words.push_back(fmt::format("num:{}", word.size()));
      continue;
    }
    words.push_back(to_lower_ascii(word));
  }
  return words;
}

std::string html_to_text(std::string_view html) { return content::extract_html(html).visible_text; }

std::vector<std::string> url_hosts(std::string_view text, std::size_t max_hosts) {
  content::UrlLimits limits;
  limits.max_urls = max_hosts;
  std::vector<std::string> hosts;
  for (const auto& url : content::collect_urls(text, content::HtmlContent{}, limits))
    if (std::find(hosts.begin(), hosts.end(), url.host) == hosts.end()) hosts.push_back(url.host);
  return hosts;
}

std::vector<Feature> tokenize(const content::MessageAnalysis& analysis, const content::HeaderSection& headers,
                              const TokenizerOptions& options, std::string_view image_text) {
  FeatureSet set;
  const content::ParsedMessage& mime = analysis.mime;

  // The body: the normalised text (content/normalize.hpp: obfuscation undone, case-folded) when
  // the analysis has it, else the plain text, else the text of the HTML.
  std::string html_text;
  std::string_view body = analysis.normalized_text;
  if (trim_ascii_whitespace(body).empty()) body = mime.text_plain;
  if (trim_ascii_whitespace(body).empty() && !mime.html.empty()) {
    html_text = html_to_text(std::string_view(mime.html).substr(0, options.max_body_bytes * 2));
    body = html_text;
  }
  if (body.size() > options.max_body_bytes) body = body.substr(0, options.max_body_bytes);
  add_words(set, words_of(body, options.max_words), "", options.osb);
  if (trim_ascii_whitespace(body).empty()) set.add("body:empty");
  // The words of its images (OCR): what the reader sees is body text, whatever carries it.
  if (!trim_ascii_whitespace(image_text).empty()) {
    if (image_text.size() > options.max_body_bytes) image_text = image_text.substr(0, options.max_body_bytes);
    add_words(set, words_of(image_text, options.max_words), "", options.osb);
  }

  // Subject words (their own namespace: the same word weighs differently there).
  auto subject_words = words_of(mime.subject, 100);
  add_words(set, subject_words, "subject:", options.osb);
  if (subject_words.empty()) set.add("subject:none");
  {
    std::size_t letters = 0, capitals = 0;
    for (unsigned char c : mime.subject) {
      if (std::isalpha(c)) ++letters;
      if (std::isupper(c)) ++capitals;
    }
    if (letters >= 8 && capitals * 10 >= letters * 7) set.add("subject:mostly_capitals");
    if (std::count(mime.subject.begin(), mime.subject.end(), '!') >= 2) set.add("subject:exclamations");
  }

  // Links: the analysis's normalised URLs (content/urls.hpp) when it has them, else a crude scan.
  if (!analysis.urls.empty()) {
    for (const auto& url : analysis.urls) {
      if (url.is_ip) set.add("url:ip_literal");
      else {
        set.add("url:host:" + url.host);
        set.add("url:org:" + url.registrable_domain);
      }
      if (url.obfuscated) set.add("url:obfuscated");
      if (url.has_userinfo) set.add("url:userinfo");
      if (!url.redirect_of.empty()) set.add("url:redirector");
    }
  } else {
    add_url_features(set, mime.text_plain.size() > options.max_body_bytes
                              ? std::string_view(mime.text_plain).substr(0, options.max_body_bytes)
                              : std::string_view(mime.text_plain));
    if (!mime.html.empty()) add_url_features(set, std::string_view(mime.html).substr(0, options.max_body_bytes * 2));
  }
  if (!mime.html.empty()) {
    add_html_tags(set, std::string_view(mime.html).substr(0, options.max_body_bytes * 2));
    set.add(mime.text_plain.empty() ? "html:only" : "html:with_text");
  }
  if (analysis.html.hidden_chars >= 20) set.add("html:hidden_text");
  if (analysis.html.remote_images > 0) set.add("html:remote_images:" + size_bucket(analysis.html.remote_images));

  // Sender and reply addresses: domains, not mailboxes.
  std::string from_org, reply_org;
  if (auto from = headers.first("From")) {
    add_address_features(set, "from", *from, &from_org);
    std::string name = content::decode_encoded_words(*from);
    if (auto open = name.find('<'); open != std::string::npos) name.resize(open);
    for (const auto& word : words_of(name, 10))
      if (word.find('@') == std::string::npos) set.add("from:name:" + word);
  } else {
    set.add("from:none");
  }
  if (auto reply_to = headers.first("Reply-To")) {
    add_address_features(set, "reply_to", *reply_to, &reply_org);
    if (!from_org.empty() && !reply_org.empty() && reply_org != from_org) set.add("reply_to:other_org");
  }
  // Message-ID: who generated it (RFC 5322 §3.6.4 id-right), and whether it matches the From domain.
  if (auto message_id = headers.first("Message-ID")) {
    std::string id_domain = domain_of(trim_ascii_whitespace(*message_id));
    if (id_domain.empty()) set.add("msgid:no_domain");
    else {
      std::string org = organizational_domain(id_domain);
      set.add("msgid:org:" + org);
      set.add(org == from_org ? "msgid:from_org" : "msgid:other_org");
    }
  } else {
    set.add("msgid:none");
  }
  // Recipients: how many and how they are shown, never who (that would learn the mailbox).
  set.add("to:count:" + size_bucket(mime.to.size() + mime.cc.size()));
  if (mime.undisclosed_recipients) set.add("to:undisclosed");

  // The mailer.
  std::string mailer;
  if (auto value = headers.first("X-Mailer")) mailer = mailer_name(*value);
  else if (auto agent = headers.first("User-Agent")) mailer = mailer_name(*agent);
  set.add(mailer.empty() ? "mailer:none" : "mailer:" + mailer);
  if (headers.first("X-Priority") || headers.first("X-MSMail-Priority")) set.add("header:priority");

  // MIME structure.
  for (const auto& part : mime.parts) {
    set.add("mime:type:" + (part.content_type.empty() ? std::string("none") : part.content_type));
    if (!part.charset.empty()) set.add("mime:charset:" + part.charset);
    if (!part.transfer_encoding.empty()) set.add("mime:encoding:" + part.transfer_encoding);
    if (part.is_attachment()) {
      set.add("attachment:type:" + part.content_type);
      auto dot = part.filename.rfind('.');
      if (dot != std::string::npos && part.filename.size() - dot <= 6)
        set.add("attachment:extension:" + to_lower_ascii(std::string_view(part.filename).substr(dot + 1)));
    }
  }
  for (const auto& anomaly : mime.anomalies) set.add("mime:anomaly:" + anomaly);
  return set.take();
}

}  // namespace gatehouse::classifier
