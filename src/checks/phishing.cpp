// The `phishing` check: links that lie about where they go. Findings: link_text_brand and
// link_text_mismatch (the visible text of a link names a site — a protected brand or served domain,
// or another — whose registrable domain is not the link's, nor that of the URL a redirector in it
// carries), ip_host (numeric hosts), userinfo_trick ("http://paypal.com@
// evil.test/": RFC 3986 §3.2.1 userinfo that looks like a host), lookalike_own and lookalike_brand
// (a link's domain or the From domain confusable with, but not, a served domain or a protected
// brand: Unicode TR #39 §4 skeleton equality via ICU uspoof, one edit on a registrable label of at
// least six letters, or the original carried as leading labels), form_to_remote (an HTML form
// posting to a web site). Scores only by default; see docs/content.md "Phishing".
#include "checks/phishing.hpp"

#include <fmt/format.h>
#include <idn2.h>
#include <unicode/uspoof.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>

#include "checks/builtin.hpp"
#include "common/organizational_domain.hpp"

namespace gatehouse::checks {
namespace {

// TR #39 skeleton of a UTF-8 string; the input itself when ICU cannot make one.
std::string skeleton(std::string_view text) {
  static USpoofChecker* checker = [] {
    UErrorCode status = U_ZERO_ERROR;
    USpoofChecker* opened = uspoof_open(&status);
    return U_SUCCESS(status) ? opened : nullptr;
  }();
  if (!checker || text.size() > 1024) return std::string(text);
  std::string out(text.size() * 4 + 16, '\0');
  UErrorCode status = U_ZERO_ERROR;
  int32_t length = uspoof_getSkeletonUTF8(checker, 0, text.data(), static_cast<int32_t>(text.size()), out.data(),
                                           static_cast<int32_t>(out.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR && length > 0 && length < 65536) {
    out.assign(static_cast<std::size_t>(length) + 1, '\0');
    status = U_ZERO_ERROR;
    length = uspoof_getSkeletonUTF8(checker, 0, text.data(), static_cast<int32_t>(text.size()), out.data(),
                                    static_cast<int32_t>(out.size()), &status);
  }
  if (U_FAILURE(status) || length < 0) return std::string(text);
  out.resize(static_cast<std::size_t>(length));
  return out;
}

std::string unicode_form(std::string_view ascii) {
  std::string name(ascii);
  if (name.find("xn--") == std::string::npos) return name;
  char* unicode = nullptr;
  if (idn2_to_unicode_8z8z(name.c_str(), &unicode, 0) == IDN2_OK && unicode) name = unicode;
  idn2_free(unicode);
  return name;
}

// Code points of a UTF-8 string, for the edit distance.
std::u32string code_points(std::string_view text) {
  std::u32string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = byte < 0x80 ? 1 : (byte >> 5) == 6 ? 2 : (byte >> 4) == 14 ? 3 : 4;
    char32_t value = length == 1 ? byte : length == 2 ? (byte & 0x1F) : length == 3 ? (byte & 0x0F) : (byte & 0x07);
    for (std::size_t k = 1; k < length && i + k < text.size(); ++k) value = (value << 6) | (text[i + k] & 0x3F);
    out += value;
    i += length;
  }
  return out;
}

// Whether a and b are one insertion, deletion, substitution or adjacent transposition apart.
bool one_edit_apart(const std::u32string& a, const std::u32string& b) {
  if (a == b) return false;
  if (a.size() == b.size()) {
    std::size_t first = 0;
    while (a[first] == b[first]) ++first;
    if (a.compare(first + 1, std::u32string::npos, b, first + 1, std::u32string::npos) == 0) return true;
    return first + 1 < a.size() && a[first] == b[first + 1] && a[first + 1] == b[first] &&
           a.compare(first + 2, std::u32string::npos, b, first + 2, std::u32string::npos) == 0;
  }
  const std::u32string& longer = a.size() > b.size() ? a : b;
  const std::u32string& shorter = a.size() > b.size() ? b : a;
  if (longer.size() != shorter.size() + 1) return false;
  std::size_t first = 0;
  while (first < shorter.size() && shorter[first] == longer[first]) ++first;
  return longer.compare(first + 1, std::u32string::npos, shorter, first, std::u32string::npos) == 0;
}

std::pair<std::string_view, std::string_view> label_and_suffix(std::string_view domain) {
  const auto dot = domain.find('.');
  if (dot == std::string_view::npos) return {domain, {}};
  return {domain.substr(0, dot), domain.substr(dot + 1)};
}

std::string domain_of_address(std::string_view address) {
  const auto at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string domain(address.substr(at + 1));
  while (!domain.empty() && (domain.back() == '>' || domain.back() == ' ' || domain.back() == '.')) domain.pop_back();
  for (char& c : domain)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return domain;
}

// Collects the first example of each finding and how many there were.
class Signs {
 public:
  void add(const std::string& finding, std::string example) {
    auto [it, inserted] = found_.try_emplace(finding, Entry{std::move(example), 1});
    if (!inserted) ++it->second.count;
    if (inserted) order_.push_back(finding);
  }
  std::vector<PhishingSign> result() const {
    std::vector<PhishingSign> signs;
    for (const auto& finding : order_) {
      const Entry& entry = found_.at(finding);
      signs.push_back({finding, entry.count > 1 ? fmt::format("{} (and {} more)", entry.example, entry.count - 1) : entry.example});
    }
    return signs;
  }

 private:
  struct Entry {
    std::string example;
    std::size_t count = 0;
  };
  std::map<std::string, Entry> found_;
  std::vector<std::string> order_;
};

// What imitated_domain compares an original domain by, made once per thread and domain (the
// originals are the served domains and the protected brands of the configuration: a few dozen
// names, asked about for every message).
struct PreparedOriginal {
  std::string organizational;   // its registrable domain
  std::string skeleton;
  std::string suffix;
  std::u32string label_points;
};

const PreparedOriginal& prepared(const std::string& original) {
  thread_local std::unordered_map<std::string, PreparedOriginal> cache;
  if (auto found = cache.find(original); found != cache.end()) return found->second;
  if (cache.size() >= 4096) cache.clear();   // bounded, should a configuration name that many
  const std::string shown = unicode_form(original);
  const auto [label, suffix] = label_and_suffix(shown);
  return cache.emplace(original, PreparedOriginal{organizational_domain(original), skeleton(shown), std::string(suffix),
                                                  code_points(label)})
      .first->second;
}

}  // namespace

std::optional<std::string> imitated_domain(std::string_view domain, const std::vector<std::string>& originals) {
  if (domain.empty()) return std::nullopt;
  const std::string shown = unicode_form(domain);
  const std::string shown_skeleton = skeleton(shown);
  const auto [label, suffix] = label_and_suffix(shown);
  const std::u32string label_points = code_points(label);
  for (const auto& original : originals) {
    if (original == domain || prepared(original).organizational == domain) return std::nullopt;
  }
  for (const auto& original : originals) {
    const PreparedOriginal& compared = prepared(original);
    if (compared.skeleton == shown_skeleton) return original;
    if (compared.suffix == suffix && compared.label_points.size() >= 6 && one_edit_apart(label_points, compared.label_points))
      return original;
  }
  return std::nullopt;
}

std::optional<std::string> carried_domain(std::string_view host, std::string_view registrable,
                                          const std::vector<std::string>& originals) {
  for (const auto& original : originals) {
    if (registrable == original) continue;
    if (host.size() > original.size() + 1 && host.starts_with(original) && host[original.size()] == '.') return original;
    // "login.paypal.com.example.net" too.
    const std::string inner = "." + original + ".";
    if (host.find(inner) != std::string_view::npos) return original;
  }
  return std::nullopt;
}

std::vector<PhishingSign> find_phishing_signs(const content::MessageAnalysis& analysis, std::string_view from_domain,
                                              const std::vector<std::string>& own_domains,
                                              const std::vector<std::string>& protected_domains) {
  Signs signs;
  const auto& urls = analysis.urls;

  // Where each link really goes: its own registrable domain and those of the URLs it carries.
  std::multimap<std::string, std::string> carried;   // redirector URL → target registrable domain
  for (const auto& url : urls)
    if (!url.redirect_of.empty()) carried.emplace(url.redirect_of, url.registrable_domain);

  std::vector<std::string> own;
  for (const auto& domain : own_domains) own.push_back(organizational_domain(domain));

  std::set<std::string> ip_hosts, tricks;
  for (const auto& url : urls) {
    if (url.source == content::UrlSource::href && url.redirect_of.empty() && !url.link_text.empty()) {
      for (const auto& named : content::hosts_named_in(url.link_text)) {
        const bool named_ip = named.find_first_not_of("0123456789.") == std::string::npos;
        const std::string named_domain = named_ip ? named : organizational_domain(named);
        if (named_domain == url.registrable_domain) continue;
        bool via_redirect = false;
        for (auto [it, end] = carried.equal_range(url.normalized); it != end; ++it)
          if (it->second == named_domain) via_redirect = true;
        if (via_redirect) continue;
        // Naming a protected brand or a served domain is the phishing case; any other name is
        // mostly click tracking (ESP redirect hosts), weak evidence.
        const bool valuable = std::find(protected_domains.begin(), protected_domains.end(), named_domain) != protected_domains.end() ||
                              std::find(own.begin(), own.end(), named_domain) != own.end();
        signs.add(valuable ? "link_text_brand" : "link_text_mismatch", fmt::format("text \"{}\" links to {}", named, url.host));
        break;
      }
    }
    if (url.is_ip && ip_hosts.insert(url.host).second) signs.add("ip_host", fmt::format("link to {}", url.host));
    if (url.has_userinfo && url.scheme != "ftp" && url.userinfo.find('.') != std::string::npos &&
        tricks.insert(url.userinfo + "@" + url.host).second)
      signs.add("userinfo_trick", fmt::format("{}@{}", url.userinfo.substr(0, 100), url.host));
    if (url.source == content::UrlSource::form) signs.add("form_to_remote", fmt::format("form posts to {}", url.host));
  }

  // Look-alikes among the link domains and the From domain.
  std::set<std::string> seen;
  auto judge = [&](const std::string& domain, const std::string& host, const std::string& where) {
    if (domain.empty()) return;
    if (seen.insert(domain + "|" + host).second == false) return;
    if (auto original = imitated_domain(domain, own)) {
      signs.add("lookalike_own", fmt::format("{} {} imitates {}", where, unicode_form(domain), *original));
    } else if (auto brand = imitated_domain(domain, protected_domains)) {
      signs.add("lookalike_brand", fmt::format("{} {} imitates {}", where, unicode_form(domain), *brand));
    } else if (auto carried_brand = carried_domain(host, domain, protected_domains)) {
      signs.add("lookalike_brand", fmt::format("{} {} carries {}", where, host, *carried_brand));
    } else if (auto carried_own = carried_domain(host, domain, own)) {
      signs.add("lookalike_own", fmt::format("{} {} carries {}", where, host, *carried_own));
    }
  };
  if (!from_domain.empty()) {
    const std::string from(from_domain);
    judge(organizational_domain(from), from, "From");
  }
  std::size_t judged = 0;
  for (const auto& url : urls) {
    if (url.is_ip) continue;
    if (++judged > 200) break;   // bounded work per message
    judge(url.registrable_domain, url.host, "link");
  }
  return signs.result();
}

namespace {

class PhishingCheck final : public Check {
 public:
  std::string_view name() const override { return "phishing"; }
  Stage stage() const override { return Stage::data; }
  bool reads_content() const override { return true; }
  int cost() const override { return 5; }
  std::pair<double, double> score_range(const Config&, const FilterPolicy& policy) const override {
    return action_score_range(policy.check("phishing"));
  }
  bool may_decide(const Config&, const FilterPolicy& policy) const override {
    return actions_decide(policy.check("phishing"));
  }
  std::string_view reject_enhanced() const override { return "5.7.1"; }
  int reject_code() const override { return 554; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.content) co_return outcome;
    std::string from_domain;
    if (!context.content->mime.from.empty()) from_domain = domain_of_address(context.content->mime.from.front().address);
    std::vector<std::string> own;
    for (const auto& domain : context.config->domains) own.push_back(domain.name);
    const CheckPolicy& policy = context.policy->check("phishing");
    for (auto& sign : find_phishing_signs(*context.content, from_domain, own, context.config->phishing.protected_domains))
      outcome.add(policy, sign.finding, std::move(sign.detail));
    if (outcome.contributions.empty()) outcome.note = fmt::format("{} links, none suspect", context.content->urls.size());
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_phishing_check() { return std::make_unique<PhishingCheck>(); }

}  // namespace gatehouse::checks
