// Tests of the phishing signs (src/checks/phishing.hpp): link text naming another site, numeric
// hosts, the userinfo trick, forms, look-alikes of served domains and protected brands (skeletons,
// one edit, carried names), and the ham that must not trigger them: same-site hosts, redirectors
// to the named site, plain "Click here" links, real brand links.
#include "checks/phishing.hpp"

#include <gtest/gtest.h>

namespace gatehouse::checks {
namespace {

const std::vector<std::string> own = {"example.test", "corp-mail.test"};
const std::vector<std::string> brands = {"paypal.com", "apple.com", "microsoft.com", "linkedin.com", "dhl.com"};

content::MessageAnalysis analysis_of(const std::string& html, const std::string& text = "") {
  content::MessageAnalysis analysis;
  analysis.html = content::extract_html(html);
  analysis.urls = content::collect_urls(text, analysis.html);
  return analysis;
}

std::map<std::string, std::string> signs_of(const content::MessageAnalysis& analysis, const std::string& from = "") {
  std::map<std::string, std::string> out;
  for (const auto& sign : find_phishing_signs(analysis, from, own, brands)) out[sign.finding] = sign.detail;
  return out;
}

TEST(Phishing, LinkTextShowingABrandOrAnotherDomain) {
  auto signs = signs_of(analysis_of("<p>Please verify: <a href=\"http://secure-login.evil.test/pp\">www.paypal.com</a></p>"));
  EXPECT_EQ(signs["link_text_brand"], "text \"www.paypal.com\" links to secure-login.evil.test");
  EXPECT_FALSE(signs.count("link_text_mismatch"));
  signs = signs_of(analysis_of("<a href=\"https://evil.test/\">https://www.paypal.com/signin</a>"));
  EXPECT_TRUE(signs.count("link_text_brand"));
  signs = signs_of(analysis_of("<a href=\"https://evil.test/\">Mailbox at https://webmail.example.test/</a>"));
  EXPECT_TRUE(signs.count("link_text_brand"));   // a served domain
  // Any other name: click tracking does this too, so it is a weaker finding of its own.
  signs = signs_of(analysis_of("<a href=\"http://clickthru.tracker.test/c?id=7\">www.example.org</a>"));
  EXPECT_EQ(signs["link_text_mismatch"], "text \"www.example.org\" links to clickthru.tracker.test");
  EXPECT_FALSE(signs.count("link_text_brand"));
}

TEST(Phishing, SameSiteHostsRedirectorsToTheNamedSiteAndPlainTextAreNotMismatches) {
  auto signs = signs_of(analysis_of(
      "<a href=\"https://click.example.com/track?id=1\">www.example.com</a>"
      "<a href=\"https://r.mailer.test/x?url=https%3A%2F%2Fshop.example.org%2Fsale\">shop.example.org</a>"
      "<a href=\"https://evil.test/\">Click here</a>"
      "<a href=\"https://blog.example.net/\">Read more about example.com on our blog</a>"
      "<a href=\"mailto:info@example.com\">info@example.com</a>"
      "<a href=\"http://194.44.46.21/\">194.44.46.21</a><a href=\"https://www.example.org/\">www.example.o</a>"));
  signs.erase("ip_host");
  EXPECT_FALSE(signs.count("link_text_mismatch"));
  EXPECT_TRUE(signs.empty()) << signs.begin()->first << ": " << signs.begin()->second;
}

TEST(Phishing, NumericHostsAndUserinfoTricks) {
  auto signs = signs_of(analysis_of("<a href=\"http://3232235777/login\">Sign in</a>"
                                    "<a href=\"http://www.paypal.com@evil.test/\">Sign in</a>"));
  EXPECT_EQ(signs["ip_host"], "link to 192.168.1.1");
  EXPECT_EQ(signs["userinfo_trick"], "www.paypal.com@evil.test");
  EXPECT_FALSE(signs.count("lookalike_brand"));   // userinfo is not the host: not judged as its domain
}

TEST(Phishing, FormsPostingToWebSites) {
  auto signs = signs_of(analysis_of("<form action=\"https://collect.evil.test/p.php\"><input name=pw></form>"));
  EXPECT_EQ(signs["form_to_remote"], "form posts to collect.evil.test");
}

TEST(Phishing, LookalikesOfOwnDomainsInLinksAndFrom) {
  auto signs = signs_of(analysis_of("<a href=\"https://login.examp1e.test/\">Mailbox quota</a>"));
  EXPECT_EQ(signs["lookalike_own"], "link examp1e.test imitates example.test");
  signs = signs_of(analysis_of("<p>Wire the money today.</p>"), "exampel.test");
  EXPECT_EQ(signs["lookalike_own"], "From exampel.test imitates example.test");
  signs = signs_of(analysis_of("<p>hi</p>"), "mail.example.test");
  EXPECT_TRUE(signs.empty());
}

TEST(Phishing, LookalikesOfBrands) {
  // Cyrillic "а" (U+0430) in "pаypal.com": the same skeleton as paypal.com.
  auto signs = signs_of(analysis_of("<a href=\"https://p\xD0\xB0ypal.com/\">Your account</a>"));
  EXPECT_EQ(signs["lookalike_brand"], "link p\xD0\xB0ypal.com imitates paypal.com");
  signs = signs_of(analysis_of("<a href=\"https://www.rnicrosoft.com/\">Office</a>"));
  EXPECT_EQ(signs["lookalike_brand"], "link rnicrosoft.com imitates microsoft.com");
  signs = signs_of(analysis_of("<a href=\"https://linkedln.com/\">x</a>"));
  EXPECT_EQ(signs["lookalike_brand"], "link linkedln.com imitates linkedin.com");
  signs = signs_of(analysis_of("<a href=\"https://dh1.com/track\">Parcel</a>"));
  EXPECT_EQ(signs["lookalike_brand"], "link dh1.com imitates dhl.com");
  signs = signs_of(analysis_of("<a href=\"http://paypal.com.account-verify.test/\">x</a>"));
  EXPECT_EQ(signs["lookalike_brand"], "link paypal.com.account-verify.test carries paypal.com");
}

TEST(Phishing, RealBrandLinksAndOrdinaryNeighboursAreNotLookalikes) {
  auto signs = signs_of(analysis_of(
      "<a href=\"https://www.paypal.com/signin\">www.paypal.com</a><a href=\"https://support.apple.com/\">Apple</a>"
      "<a href=\"https://ample.com/\">x</a><a href=\"https://apples.test/\">x</a><a href=\"https://dhl.de/\">x</a>"
      "<a href=\"https://paypal-community.com/\">x</a><a href=\"https://microsoft.co.uk/\">x</a>"));
  EXPECT_TRUE(signs.empty()) << signs.begin()->first << ": " << signs.begin()->second;
}

TEST(Phishing, ImitatedDomain) {
  EXPECT_EQ(imitated_domain("paypa1.com", brands), "paypal.com");
  EXPECT_EQ(imitated_domain("paypall.com", brands), "paypal.com");
  EXPECT_EQ(imitated_domain("pyapal.com", brands), "paypal.com");
  EXPECT_FALSE(imitated_domain("paypal.com", brands));
  EXPECT_FALSE(imitated_domain("paypal.net", brands));
  EXPECT_FALSE(imitated_domain("", brands));
  EXPECT_FALSE(imitated_domain("apple.test", brands));
}

}  // namespace
}  // namespace gatehouse::checks
