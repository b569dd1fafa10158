// Tests of URL extraction and normalisation (src/content/urls.hpp): plain-text URLs and their
// obfuscated forms, hosts through IDNA and percent-decoding, every IPv4 spelling, userinfo,
// redirectors, deduplication, bounds and idempotence.
#include "content/urls.hpp"

#include <gtest/gtest.h>

namespace gatehouse::content {
namespace {

std::vector<std::string> normalized(const std::vector<Url>& urls) {
  std::vector<std::string> out;
  for (const auto& url : urls) out.push_back(url.normalized);
  return out;
}

TEST(Urls, NormalisesSchemeHostPortAndPath) {
  auto url = normalise_url("HTTP://WWW.Example.COM.:80/Path/A?q=1#Top");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->normalized, "http://www.example.com/Path/A?q=1#Top");
  EXPECT_EQ(url->host, "www.example.com");
  EXPECT_EQ(url->registrable_domain, "example.com");
  EXPECT_FALSE(url->is_ip);
  EXPECT_EQ(normalise_url("https://shop.example.co.uk:8443")->normalized, "https://shop.example.co.uk:8443/");
  EXPECT_EQ(normalise_url("https://shop.example.co.uk")->registrable_domain, "example.co.uk");
  EXPECT_EQ(normalise_url("//cdn.example.net/x.png")->normalized, "http://cdn.example.net/x.png");
  EXPECT_EQ(normalise_url("http:\\\\evil.example.net\\a b")->normalized, "http://evil.example.net/a%20b");
}

TEST(Urls, RefusesWhatIsNotAWebLinkWithAHost) {
  for (const char* text : {"mailto:a@example.com", "javascript:alert(1)", "/relative/path", "#top", "cid:logo@x",
                           "http://", "http://exa mple.com/", "http://localhost/", "http://256.1.1.1/", "http://a..b.com/",
                           "http://example.com:99999/", "file:///etc/passwd", "data:text/html,hi"})
    EXPECT_FALSE(normalise_url(text)) << text;
}

TEST(Urls, PercentEncodedHostsAreDecoded) {
  auto url = normalise_url("http://%65vil%2Eexample%2ecom/%7Euser");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "evil.example.com");
  EXPECT_EQ(url->normalized, "http://evil.example.com/%7Euser");   // the path keeps its encoding
}

TEST(Urls, InternationalisedNamesGetBothLabelForms) {
  auto url = normalise_url("https://B\xC3\xBC" "cher.example/kaufen");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "xn--bcher-kva.example");
  EXPECT_EQ(url->unicode_host, "b\xC3\xBC" "cher.example");
  EXPECT_EQ(url->registrable_domain, "xn--bcher-kva.example");
  auto punycode = normalise_url("https://XN--BCHER-KVA.example/");
  ASSERT_TRUE(punycode);
  EXPECT_EQ(punycode->host, "xn--bcher-kva.example");
  EXPECT_EQ(punycode->unicode_host, "b\xC3\xBC" "cher.example");
  // Cyrillic "а" in "pаypal": a different name from paypal.com, kept apart.
  auto spoof = normalise_url("http://p\xD0\xB0ypal.com/");
  ASSERT_TRUE(spoof);
  EXPECT_EQ(spoof->host, "xn--pypal-4ve.com");
  EXPECT_NE(spoof->registrable_domain, "paypal.com");
}

TEST(Urls, EveryIpv4SpellingBecomesADottedQuad) {
  for (const char* text : {"http://3232235777/", "http://0xC0A80101/", "http://0300.0250.0001.0001/",
                           "http://0xc0.0xa8.1.1/", "http://192.168.257/", "http://192.11010305/", "http://192.168.1.1./"}) {
    auto url = normalise_url(text);
    ASSERT_TRUE(url) << text;
    EXPECT_TRUE(url->is_ip) << text;
    EXPECT_EQ(url->host, "192.168.1.1") << text;
    EXPECT_EQ(url->normalized, "http://192.168.1.1/") << text;
  }
  auto v6 = normalise_url("http://[2001:DB8:0:0::1]:8080/x");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->is_ip);
  EXPECT_EQ(v6->normalized, "http://[2001:db8::1]:8080/x");
}

TEST(Urls, UserinfoIsSplitOffAndKept) {
  auto url = normalise_url("http://paypal.com%2Fsignin@evil.example.net/login");
  ASSERT_TRUE(url);
  EXPECT_TRUE(url->has_userinfo);
  EXPECT_EQ(url->userinfo, "paypal.com/signin");
  EXPECT_EQ(url->host, "evil.example.net");
  EXPECT_EQ(url->normalized, "http://evil.example.net/login");
}

TEST(Urls, PlainTextUrlsWithSentencePunctuation) {
  auto urls = extract_text_urls(
      "See https://example.com/a/b?x=1. Or (www.example.org/page), or <http://example.net/>; "
      "ftp://files.example.com/pub! Wiki: https://en.example.org/wiki/Foo_(bar).");
  EXPECT_EQ(normalized(urls), (std::vector<std::string>{"https://example.com/a/b?x=1", "http://www.example.org/page",
                                                        "http://example.net/", "ftp://files.example.com/pub",
                                                        "https://en.example.org/wiki/Foo_(bar)"}));
}

TEST(Urls, ObfuscatedUrlsInTextAreFound) {
  auto urls = extract_text_urls(
      "Go to hxxp://evil-shop[.]test/buy or hxxps[:]//pay(.)evil.example/x and h**p://bad.example/ "
      "or visit cheap-meds[.]com today. Not a host: readme(.)txt");
  EXPECT_EQ(normalized(urls), (std::vector<std::string>{"http://evil-shop.test/buy", "https://pay.evil.example/x",
                                                        "http://bad.example/", "http://cheap-meds.com/"}));
  for (const auto& url : urls) EXPECT_TRUE(url.obfuscated) << url.original;
  EXPECT_EQ(urls[0].original, "hxxp://evil-shop[.]test/buy");
}

// Each form on its own, so that none depends on another form elsewhere in the text (the
// extraction skips text that holds none of "//", "www", "[.]" and "(.)").
TEST(Urls, EachUrlFormIsFoundAlone) {
  EXPECT_EQ(normalized(extract_text_urls("Order at cheap-meds[.]com today")),
            (std::vector<std::string>{"http://cheap-meds.com/"}));
  EXPECT_EQ(normalized(extract_text_urls("pay at pay.evil(.)com/x now")), (std::vector<std::string>{"http://pay.evil.com/x"}));
  EXPECT_EQ(normalized(extract_text_urls("See WWW.Shop.Example.com for more")),
            (std::vector<std::string>{"http://www.shop.example.com/"}));
  EXPECT_EQ(normalized(extract_text_urls("see wWw.example.org")), (std::vector<std::string>{"http://www.example.org/"}));
  EXPECT_EQ(normalized(extract_text_urls("1XXXXXXXXXXXXXXXX 2XXXXXXXXXXXXXXX ftp://files.example.com/pub")),
            (std::vector<std::string>{"ftp://files.example.com/pub"}));
  EXPECT_TRUE(extract_text_urls("1XXXXXXXXXXXXXXXXXXXXX 2XXXXXXXXXXXXXXXXXX w ww wW").empty());
}

TEST(Urls, PlainWordsAreNotUrls) {
  EXPECT_TRUE(extract_text_urls("Meet at 10.30 on the 3rd, file report.pdf, e.g. soon. http:// nothing").empty());
}

TEST(Urls, RedirectorTargetsAreAddedAlongsideTheLink) {
  HtmlContent html;
  html.links.push_back({"https://www.google.com/url?q=https%3A%2F%2Fevil.example.net%2Fpay&sa=D", "Pay now"});
  html.links.push_back({"https://t.example.com/r?u=http%253A%252F%252Fdouble.example.org%252F", "x"});
  auto urls = collect_urls("", html);
  ASSERT_EQ(urls.size(), 4u);
  EXPECT_EQ(urls[2].normalized, "https://evil.example.net/pay");
  EXPECT_EQ(urls[2].redirect_of, urls[0].normalized);
  EXPECT_EQ(urls[2].source, UrlSource::href);
  EXPECT_EQ(urls[3].normalized, "http://double.example.org/");
}

TEST(Urls, HtmlSourcesAndVisibleTextUrlsAreCollectedAndDeduplicated) {
  auto html = extract_html(
      "<a href='https://Example.com/a'>first</a><a href='https://example.com/a'>first</a>"
      "<img src='http://img.example.net/i.png'><form action='https://form.example.org/post'></form>"
      "<p>Also www.example.info/page</p>");
  auto urls = collect_urls("plain text link: https://plain.example.com/", html);
  ASSERT_EQ(urls.size(), 5u);
  EXPECT_EQ(urls[0].source, UrlSource::href);
  EXPECT_EQ(urls[0].link_text, "first");
  EXPECT_EQ(urls[1].source, UrlSource::src);
  EXPECT_EQ(urls[2].source, UrlSource::form);
  EXPECT_EQ(urls[3].normalized, "http://www.example.info/page");
  EXPECT_EQ(urls[3].source, UrlSource::text);
  EXPECT_EQ(urls[4].normalized, "https://plain.example.com/");
}

TEST(Urls, CountIsBounded) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "http://h" + std::to_string(i) + ".example.com/ ";
  EXPECT_EQ(collect_urls(text, HtmlContent{}).size(), 500u);
  UrlLimits limits;
  limits.max_urls = 10;
  EXPECT_EQ(extract_text_urls(text, limits).size(), 10u);
}

TEST(Urls, NormalisedUrlsNormaliseToThemselves) {
  for (const char* text : {"HTTP://WWW.Example.COM.:80/Path/A?q=1#Top", "https://B\xC3\xBC" "cher.example/k\xC3\xA4se",
                           "http://3232235777/", "hxxp://evil-shop[.]test/a b", "http://u:p@%65x.example.com:8080?x",
                           "http://[::FFFF:1.2.3.4]/", "http:\\\\a.example.com\\b\\c"}) {
    auto once = normalise_url(text);
    ASSERT_TRUE(once) << text;
    auto twice = normalise_url(once->normalized);
    ASSERT_TRUE(twice) << once->normalized;
    EXPECT_EQ(twice->normalized, once->normalized);
    EXPECT_EQ(twice->host, once->host);
  }
}

TEST(Urls, HostsNamedInLinkText) {
  EXPECT_EQ(hosts_named_in("www.PayPal.com"), std::vector<std::string>{"www.paypal.com"});
  EXPECT_EQ(hosts_named_in(" https://www.paypal.com/signin "), std::vector<std::string>{"www.paypal.com"});
  EXPECT_EQ(hosts_named_in("paypal.com."), std::vector<std::string>{"paypal.com"});
  EXPECT_EQ(hosts_named_in("service@paypal.com"), std::vector<std::string>{"paypal.com"});
  EXPECT_EQ(hosts_named_in("Log in at https://bank.example.com now"), std::vector<std::string>{"bank.example.com"});
  EXPECT_TRUE(hosts_named_in("Click here").empty());
  EXPECT_TRUE(hosts_named_in("report.pdf").empty());
  EXPECT_TRUE(hosts_named_in("12.99").empty());
  EXPECT_TRUE(hosts_named_in("see www.example.o for more").empty());   // cut short: no such suffix
  EXPECT_EQ(hosts_named_in("192.0.2.7"), std::vector<std::string>{"192.0.2.7"});
  EXPECT_TRUE(hosts_named_in("Read more about example.com in our blog").empty());
}

}  // namespace
}  // namespace gatehouse::content
