// Unit tests of the SPF implementation (src/checks/spf/, RFC 7208): record selection and syntax
// (§4.5, §4.6, §5, §6), macro syntax and expansion with the examples of §7.4, and check_host()
// (§4-§6) over an in-memory DNS defined here. The published RFC 7208 test suite runs against the
// real binary and a real DNS server in tests/e2e/test_spf_suite.py.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "checks/spf/spf.hpp"

namespace {

namespace asio = boost::asio;
using namespace gatehouse::checks::spf;
using gatehouse::dns::DnsAnswer;
using gatehouse::dns::DnsStatus;
using gatehouse::dns::MxRecord;

// --- record parsing ---------------------------------------------------------------------------------

TEST(SpfRecord, RecognisesVersionOneOnly) {
  EXPECT_TRUE(is_spf_record("v=spf1"));
  EXPECT_TRUE(is_spf_record("v=spf1 -all"));
  EXPECT_TRUE(is_spf_record("V=SpF1 ~all"));
  EXPECT_FALSE(is_spf_record("v=spf10"));
  EXPECT_FALSE(is_spf_record("v=spf1mx"));  // two strings joined without a space (§3.3)
  EXPECT_FALSE(is_spf_record("spf1 -all"));
  EXPECT_FALSE(is_spf_record(" v=spf1 -all"));
  EXPECT_FALSE(is_spf_record("v=spf2.0/pra -all"));
}

TEST(SpfRecord, ParsesEveryMechanism) {
  auto record = parse_record(
      "v=spf1 +all -include:_spf.example.com ~a ?a:mail.example.com/24//64 mx mx:%{d}/28 ptr "
      "ptr:example.org ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{ir}.bl.example.net");
  ASSERT_TRUE(record) << record.error().message;
  ASSERT_EQ(record->mechanisms.size(), 11u);
  const auto& m = record->mechanisms;
  EXPECT_EQ(m[0].kind, MechanismKind::all);
  EXPECT_EQ(m[0].qualifier, Qualifier::pass);
  EXPECT_EQ(m[1].kind, MechanismKind::include);
  EXPECT_EQ(m[1].qualifier, Qualifier::fail);
  EXPECT_EQ(m[1].domain_spec, "_spf.example.com");
  EXPECT_EQ(m[2].kind, MechanismKind::a);
  EXPECT_EQ(m[2].qualifier, Qualifier::softfail);
  EXPECT_EQ(m[2].domain_spec, "");
  EXPECT_EQ(m[3].qualifier, Qualifier::neutral);
  EXPECT_EQ(m[3].domain_spec, "mail.example.com");
  EXPECT_EQ(m[3].cidr4, 24);
  EXPECT_EQ(m[3].cidr6, 64);
  EXPECT_EQ(m[4].kind, MechanismKind::mx);
  EXPECT_EQ(m[4].cidr4, 32);
  EXPECT_EQ(m[4].cidr6, 128);
  EXPECT_EQ(m[5].domain_spec, "%{d}");
  EXPECT_EQ(m[5].cidr4, 28);
  EXPECT_EQ(m[6].kind, MechanismKind::ptr);
  EXPECT_EQ(m[7].domain_spec, "example.org");
  EXPECT_EQ(m[8].kind, MechanismKind::ip4);
  EXPECT_EQ(m[8].cidr4, 24);
  EXPECT_EQ(m[8].network, *parse_ip("192.0.2.0"));
  EXPECT_EQ(m[9].kind, MechanismKind::ip6);
  EXPECT_EQ(m[9].cidr6, 32);
  EXPECT_EQ(m[9].network, *parse_ip("2001:db8::"));
  EXPECT_EQ(m[10].kind, MechanismKind::exists);
  EXPECT_EQ(m[10].text, "exists:%{ir}.bl.example.net");
}

TEST(SpfRecord, ParsesModifiers) {
  auto record = parse_record("v=spf1 redirect=_spf.example.com exp=explain.%{d} moo.cow-far_out=man:dog/cat");
  ASSERT_TRUE(record) << record.error().message;
  EXPECT_TRUE(record->mechanisms.empty());
  EXPECT_EQ(record->redirect, "_spf.example.com");
  EXPECT_EQ(record->exp, "explain.%{d}");
  auto upper = parse_record("v=spf1 Redirect=example.com EXP=x.example.com");
  ASSERT_TRUE(upper);
  EXPECT_EQ(upper->redirect, "example.com");
}

TEST(SpfRecord, AcceptsSpacingAndCase) {
  EXPECT_TRUE(parse_record("v=spf1"));
  EXPECT_TRUE(parse_record("v=spf1 a  -all"));
  EXPECT_TRUE(parse_record("v=spf1 a -all "));
  auto record = parse_record("v=spf1 A:Example.COM MX/24 IP4:192.0.2.1 -ALL");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->mechanisms[0].kind, MechanismKind::a);
  EXPECT_EQ(record->mechanisms[1].kind, MechanismKind::mx);
  EXPECT_EQ(record->mechanisms[3].kind, MechanismKind::all);
  EXPECT_TRUE(parse_record("v=spf1 a:foo:bar/baz.example.com"));   // ':' and '/' inside a domain-spec
  EXPECT_TRUE(parse_record("v=spf1 a:foo.example.xn--zckzah -all"));  // dashes in the top label
  EXPECT_TRUE(parse_record("v=spf1 a:macro%%percent%_%_space%-url-space.example.com"));
  EXPECT_TRUE(parse_record("v=spf1 a//33 -all"));   // IPv6 length of 33 is fine
  EXPECT_TRUE(parse_record("v=spf1 ip6:::1.1.1.1/0"));
  EXPECT_TRUE(parse_record("v=spf1 default=+ foo="));  // unknown modifiers with valid macro-strings
}

TEST(SpfRecord, RejectsSyntaxErrors) {
  const char* bad[] = {
      "v=spf1 ip4:1.2.3.4 -all moo",          // unknown mechanism anywhere (§4.6)
      "v=spf1 -all.",                          // all takes nothing
      "v=spf1 -all:foobar",
      "v=spf1 -all/8",
      "v=spf1 ptr/0 -all",                     // no CIDR on ptr
      "v=spf1 ptr:",                           // empty domain-spec
      "v=spf1 a:",
      "v=spf1 mx: -all",
      "v=spf1 include",                        // include needs a domain
      "v=spf1 include:",
      "v=spf1 include:ip5.example.com/24",     // no CIDR on include
      "v=spf1 exists",
      "v=spf1 exists:",
      "v=spf1 exists:mail.example.com/24",
      "v=spf1 a/33",                           // IPv4 length above 32
      "v=spf1 a//129",                         // IPv6 length above 128
      "v=spf1 a/24/64",                        // the IPv6 length needs "//"
      "v=spf1 mx/33",
      "v=spf1 ip4",
      "v=spf1 ip4:1.2.3.4/33",
      "v=spf1 ip4:1.2.3.4/032",                // leading zero
      "v=spf1 ip4:1.2.3.4//32",
      "v=spf1 ip4:1.2.3.4:8080",
      "v=spf1 ip4:1.2.3",
      "v=spf1 ip4:01.2.3.4",
      "v=spf1 ip4:192.0.2.5\n",                // only SP separates terms
      "v=spf1 -all ip6",
      "v=spf1 ip6:::1.1.1.1/129",
      "v=spf1 ip6:::1.1.1.1//33",
      "v=spf1 ip6::CAFE::BABE",
      "v=spf1 a:foo-bar -all",                 // no top label
      "v=spf1 a:museum",
      "v=spf1 a:museum.",
      "v=spf1 a:abc.123",                      // numeric top label
      "v=spf1 a:111.222.33.44",
      "v=spf1 a:example.-com",
      "v=spf1 a:example.com:8080",
      "v=spf1 a:ctrl.example.com\rptr -all",
      "v=spf1 a:\xEF\xBB\xBFgarbage.example.net -all",  // non-ASCII (§3.1)
      "v=spf1 \x80" "a:example.net -all",
      "v=spf1 a:example.net \x96" "all",
      "v=spf1 moo.cow/far_out=man:dog/cat ip4:1.2.3.4 -all",
      "v=spf1 moo.cow:far_out=man:dog/cat ip4:1.2.3.4 -all",
      "v=spf1 ip4:1.2.3.4 redirect:t2.example.com",  // redirect is a modifier
      "v=spf1 1up=foo",                        // modifier names begin with a letter
      "v=spf1 =all",
      "v=spf1 -all foo=%abc",                  // unknown modifiers need valid macros
      "v=spf1 exp= -all",
      "v=spf1 exp=-all",
      "v=spf1 redirect=-all ?all",
      "v=spf1 ?all redirect=",
      "v=spf1 exp=a.example.com -all exp=b.example.com",  // each at most once (§6)
      "v=spf1 redirect=a.example.com -all redirect=a.example.com",
      "v=spf1 -all exp=%{r}.example.com",      // c, r, t only in explanation text
      "v=spf1 -exists:%(ir).sbl.example.com ?all",
      "v=spf1 exists:foo%.sbl.example.com ?all",
      "v=spf1 a:%{a}.example.com -all",        // unknown macro letter
      "v=spf1 a:%{d0}.example.com",            // transformer digit 0
      "v=spf1 +",
  };
  for (const char* text : bad) EXPECT_FALSE(parse_record(text)) << "accepted: " << text;
  // A NUL byte cannot end a C string literal: build that record explicitly.
  EXPECT_FALSE(parse_record(std::string("v=spf1 a:foo.example.com\0", 25)));
  EXPECT_FALSE(parse_record("not spf"));
}

TEST(SpfRecord, ProblemNamesTheTerm) {
  auto record = parse_record("v=spf1 ip4:1.2.3.4 -all moo");
  ASSERT_FALSE(record);
  EXPECT_NE(record.error().message.find("moo"), std::string::npos) << record.error().message;
}

// Found by fuzz/spf_record_fuzz.cpp: inet_pton() stops at a NUL, so "ip6:::1\0garbage" was taken for
// ::1 and the bytes after the NUL were never checked.
TEST(SpfRecord, RejectsNulInsideAnIp6Network) {
  EXPECT_FALSE(parse_record(std::string("v=spf1 ip6:::1\0garbage -all", 27)));
  EXPECT_FALSE(parse_record(std::string("v=spf1 ip6:2001:db8::\0/32 -all", 30)));
  EXPECT_FALSE(parse_ip(std::string("::1\0x", 5)));
  EXPECT_TRUE(parse_record("v=spf1 ip6:::1 ip6:2001:db8::/32 -all"));
}

bool printable_ascii(const std::string& text) {
  for (unsigned char c : text)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

// Found by fuzz/spf_record_fuzz.cpp: problems quoted the offending byte of a (hostile) TXT record as
// it was, control characters and 8-bit bytes included; they reach logs and replies.
TEST(SpfRecord, ProblemsShowUnprintableBytesEscaped) {
  auto not_a_macro = parse_record("v=spf1 a:%\x13.example.com -all");
  ASSERT_FALSE(not_a_macro);
  EXPECT_TRUE(printable_ascii(not_a_macro.error().message)) << not_a_macro.error().message;
  EXPECT_NE(not_a_macro.error().message.find("\\x13"), std::string::npos) << not_a_macro.error().message;

  auto letter = parse_record("v=spf1 exists:%{\xe0}.example.com -all");
  ASSERT_FALSE(letter);
  EXPECT_TRUE(printable_ascii(letter.error().message)) << letter.error().message;
  EXPECT_NE(letter.error().message.find("\\xe0"), std::string::npos) << letter.error().message;

  auto modifier = parse_record("v=spf1 -all foo=%\r");
  ASSERT_FALSE(modifier);
  EXPECT_TRUE(printable_ascii(modifier.error().message)) << modifier.error().message;

  auto checked = check_macro_string("%{\n}", MacroUse::explanation);
  ASSERT_FALSE(checked);
  EXPECT_TRUE(printable_ascii(checked.error().message)) << checked.error().message;
  EXPECT_EQ(check_macro_string("%{\\}", MacroUse::domain).error().message, "unknown macro letter \"\\x5c\"");
  EXPECT_EQ(check_macro_string("%{x}", MacroUse::domain).error().message, "unknown macro letter \"x\"");
}

TEST(SpfAddress, ParsesAndMatchesNetworks) {
  auto v4 = parse_ip("192.0.2.3");
  ASSERT_TRUE(v4);
  EXPECT_FALSE(v4->v6);
  auto mapped = parse_ip("::FFFF:192.0.2.3");  // §5: IPv4-mapped IPv6 is IPv4
  ASSERT_TRUE(mapped);
  EXPECT_EQ(*mapped, *v4);
  auto v6 = parse_ip("[2001:db8::cb01]");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->v6);
  EXPECT_FALSE(parse_ip("192.0.2"));
  EXPECT_FALSE(parse_ip("example.com"));
  EXPECT_FALSE(parse_ip(""));

  EXPECT_TRUE(in_network(*v4, *parse_ip("192.0.2.0"), 24));
  EXPECT_TRUE(in_network(*v4, *parse_ip("192.0.2.3"), 32));
  EXPECT_FALSE(in_network(*v4, *parse_ip("192.0.2.2"), 32));
  EXPECT_TRUE(in_network(*v4, *parse_ip("10.0.0.0"), 0));
  EXPECT_TRUE(in_network(*v4, *parse_ip("192.0.2.0"), 30));
  EXPECT_FALSE(in_network(*v4, *parse_ip("192.0.2.4"), 30));
  EXPECT_FALSE(in_network(*v4, *parse_ip("::"), 0));  // families never mix
  EXPECT_TRUE(in_network(*v6, *parse_ip("2001:db8::"), 32));
  EXPECT_TRUE(in_network(*v6, *parse_ip("2001:db8::cb00"), 120));
  EXPECT_FALSE(in_network(*v6, *parse_ip("2001:db9::"), 32));
  EXPECT_TRUE(in_network(*parse_ip("cafe:babe:8000::"), *parse_ip("cafe:babe:8000::"), 33));
  EXPECT_FALSE(in_network(*parse_ip("cafe:babe::"), *parse_ip("cafe:babe:8000::"), 33));
}

// --- macros ---------------------------------------------------------------------------------------

MacroValues example_values(const char* ip = "192.0.2.3") {
  // RFC 7208 §7.4: <sender> strong-bad@email.example.com, IPv4 192.0.2.3, IPv6 2001:db8::cb01.
  MacroValues values;
  values.sender = "strong-bad@email.example.com";
  values.local_part = "strong-bad";
  values.sender_domain = "email.example.com";
  values.domain = "email.example.com";
  values.ip = *parse_ip(ip);
  values.helo = "mx.example.org";
  values.receiver = "mx.example.net";
  values.timestamp = 1400000000;
  return values;
}

std::string expand(const char* text, const MacroValues& values, MacroUse use = MacroUse::domain) {
  auto expanded = expand_macros(text, values, use);
  if (!expanded) return "ERROR: " + expanded.error().message;
  return *expanded;
}

TEST(SpfMacro, Rfc7208Section74Examples) {
  const MacroValues values = example_values();
  EXPECT_EQ(expand("%{s}", values), "strong-bad@email.example.com");
  EXPECT_EQ(expand("%{o}", values), "email.example.com");
  EXPECT_EQ(expand("%{d}", values), "email.example.com");
  EXPECT_EQ(expand("%{d4}", values), "email.example.com");
  EXPECT_EQ(expand("%{d3}", values), "email.example.com");
  EXPECT_EQ(expand("%{d2}", values), "example.com");
  EXPECT_EQ(expand("%{d1}", values), "com");
  EXPECT_EQ(expand("%{dr}", values), "com.example.email");
  EXPECT_EQ(expand("%{d2r}", values), "example.email");
  EXPECT_EQ(expand("%{l}", values), "strong-bad");
  EXPECT_EQ(expand("%{l-}", values), "strong.bad");
  EXPECT_EQ(expand("%{lr}", values), "strong-bad");
  EXPECT_EQ(expand("%{lr-}", values), "bad.strong");
  EXPECT_EQ(expand("%{l1r-}", values), "strong");
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}", values), "3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp._spf.%{d2}", values), "bad.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", values), "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", values), "3.2.0.192.in-addr.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{d2}.trusted-domains.example.net", values), "example.com.trusted-domains.example.net");

  const MacroValues v6 = example_values("2001:db8::cb01");
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}", v6),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

TEST(SpfMacro, EscapesAndLiterals) {
  const MacroValues values = example_values();
  EXPECT_EQ(expand("macro%%percent%_%_space%-url-space.example.com", values), "macro%percent  space%20url-space.example.com");
  MacroValues odd = values;
  odd.local_part = "~jack&jill=up-a_b3.c";
  // §7.3: upper-case macros are URL-escaped; unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
  EXPECT_EQ(expand("http://example.com/why.html?l=%{L}", odd, MacroUse::explanation),
            "http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c");
  EXPECT_EQ(expand("%{D2}", values), "example.com");
  MacroValues spaced = values;
  spaced.helo = "JUMPIN' JUPITER";
  EXPECT_EQ(expand("%{H}", spaced), "JUMPIN%27%20JUPITER");
}

TEST(SpfMacro, DelimitersAndTransformers) {
  MacroValues values = example_values();
  values.local_part = "philip-gladstone-test";
  EXPECT_EQ(expand("%{l2r-}", values), "gladstone.philip");
  values.local_part = "foo-bar+zip+quux";
  EXPECT_EQ(expand("%{l2r+-}", values), "bar.foo");
  EXPECT_EQ(expand("%{l+}", values), "foo-bar.zip.quux");
  EXPECT_EQ(expand("%{d99}", values), "email.example.com");
  EXPECT_EQ(expand("%{dR}", values), "com.example.email");
}

TEST(SpfMacro, ExplanationOnlyLetters) {
  const MacroValues values = example_values();
  EXPECT_EQ(expand("%{c} %{r} %{t}", values, MacroUse::explanation), "192.0.2.3 mx.example.net 1400000000");
  EXPECT_EQ(expand("%{c}", example_values("2001:db8::cb01"), MacroUse::explanation), "2001:db8::cb01");
  EXPECT_FALSE(expand_macros("%{c}", values, MacroUse::domain));
  EXPECT_FALSE(expand_macros("%{r}", values, MacroUse::domain));
  EXPECT_FALSE(expand_macros("%{t}", values, MacroUse::domain));
  MacroValues anonymous = values;
  anonymous.receiver.clear();
  EXPECT_EQ(expand("%{r}", anonymous, MacroUse::explanation), "unknown");  // §7.3
  EXPECT_EQ(expand("connect from %{p}", values, MacroUse::explanation), "connect from unknown");
  // Explanation text may hold spaces; a domain-spec may not.
  EXPECT_TRUE(check_macro_string("This is a test.", MacroUse::explanation));
  EXPECT_FALSE(check_macro_string("This is a test.", MacroUse::domain));
  EXPECT_FALSE(check_macro_string("The %{x}-files.", MacroUse::explanation));
  EXPECT_FALSE(check_macro_string("\xEF\xBB\xBF" "Explanation", MacroUse::explanation));
}

TEST(SpfMacro, IpMacrosAndValidatedDomain) {
  MacroValues values = example_values("192.168.218.40");
  EXPECT_EQ(expand("%{c} is queried as %{ir}.%{v}.arpa", values, MacroUse::explanation),
            "192.168.218.40 is queried as 40.218.168.192.in-addr.arpa");
  MacroValues upper = example_values("CAFE:BABE::1");
  upper.ip_upper_hex = true;
  EXPECT_EQ(expand("%{c} is queried as %{ir}.%{v}.arpa", upper, MacroUse::explanation),
            "cafe:babe::1 is queried as 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.E.B.A.B.E.F.A.C.ip6.arpa");
  values.validated_domain = "mx.example.com";
  EXPECT_EQ(expand("%{p}.should.example.com", values), "mx.example.com.should.example.com");
  EXPECT_TRUE(uses_validated_domain("%{p}.x.example.com"));
  EXPECT_TRUE(uses_validated_domain("connect from %{P}"));
  EXPECT_FALSE(uses_validated_domain("%{d}.x.example.com"));
}

TEST(SpfMacro, SyntaxErrors) {
  const MacroValues values = example_values();
  for (const char* bad : {"%(ir).sbl.example.com", "foo%.sbl.example.com", "%", "%{", "%{d", "%{d2r.", "%{a}", "%{d0}",
                          "%{ d}", "a b"}) {
    EXPECT_FALSE(expand_macros(bad, values, MacroUse::domain)) << bad;
  }
}

TEST(SpfMacro, DomainSpecEnd) {
  EXPECT_TRUE(check_domain_spec("example.com"));
  EXPECT_TRUE(check_domain_spec("example.com."));
  EXPECT_TRUE(check_domain_spec("%{d}"));
  EXPECT_TRUE(check_domain_spec("%{ir}.%{v}._spf.%{d2}"));
  EXPECT_TRUE(check_domain_spec("foo.example.xn--zckzah"));
  EXPECT_TRUE(check_domain_spec("foo.1-2"));
  EXPECT_TRUE(check_domain_spec("_spf.%-"));  // ends in a macro-expand
  EXPECT_FALSE(check_domain_spec(""));
  EXPECT_FALSE(check_domain_spec("museum"));
  EXPECT_FALSE(check_domain_spec("museum."));
  EXPECT_FALSE(check_domain_spec("abc.123"));
  EXPECT_FALSE(check_domain_spec("example.-com"));
  EXPECT_FALSE(check_domain_spec("example.com-"));
  EXPECT_FALSE(check_domain_spec("%{d}com"));
  EXPECT_FALSE(check_domain_spec("example.com:8080"));
}

TEST(SpfMacro, DomainSpecExpansionTruncatesAndDropsTrailingDot) {
  MacroValues values = example_values();
  auto name = expand_domain_spec("%{d}.d.spf.example.com.", values);
  ASSERT_TRUE(name);
  EXPECT_EQ(*name, "email.example.com.d.spf.example.com");
  values.sender_domain = "somewhat.long.exp.example.com";
  auto truncated = expand_domain_spec("foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com", values);
  ASSERT_TRUE(truncated);
  EXPECT_LE(truncated->size(), 253u);
  EXPECT_EQ(truncated->rfind("somewhat.long.exp.example.com.", 0), 0u) << *truncated;

  EXPECT_TRUE(queryable_name("mail.example.com"));
  EXPECT_TRUE(queryable_name("mail.example.com."));
  EXPECT_TRUE(queryable_name("foo:bar/baz.example.com"));
  EXPECT_FALSE(queryable_name("mail.example...com"));
  EXPECT_FALSE(queryable_name(""));
  EXPECT_FALSE(queryable_name(std::string("a\0b.example.com", 15)));
  EXPECT_FALSE(queryable_name(std::string(64, 'a') + ".example.com"));
  EXPECT_TRUE(queryable_name(std::string(63, 'a') + ".example.com"));
}

// Found by fuzz/spf_record_fuzz.cpp: a HELO name may hold a bare CR (the session splits lines at LF
// and removes only the CR before it), which %{h} copies into the target name; only NUL was refused,
// so "bad\rhelo.example._spf.example.com" went to the resolver.
TEST(SpfMacro, ControlCharactersNeverMakeAQueryableName) {
  MacroValues values = example_values();
  values.helo = "bad\rhelo.example";
  auto name = expand_domain_spec("%{h}._spf.example.com", values);
  ASSERT_TRUE(name);
  EXPECT_EQ(*name, "bad\rhelo.example._spf.example.com");
  EXPECT_FALSE(queryable_name(*name));
  for (const char* bad : {"a\nb.example.com", "a\tb.example.com", "a\x1b.example.com", "a\x7f.example.com", "example.com\r"})
    EXPECT_FALSE(queryable_name(bad)) << bad;
  EXPECT_TRUE(queryable_name("a b.example.com"));  // odd but harmless: a quoted local part may hold a space
  EXPECT_TRUE(queryable_name("_spf.example.com."));
}

// --- check_host() over an in-memory DNS -----------------------------------------------------------

// Zone data in memory. Names are matched without regard to case; a name with any record "exists"
// (NODATA for other types), others are NXDOMAIN; names in `failing` answer SERVFAIL for every type.
class MemoryDns final : public SpfDns {
 public:
  std::map<std::string, std::vector<std::string>> txt_records, a_records, aaaa_records, ptr_records;
  std::map<std::string, std::vector<MxRecord>> mx_records;
  std::set<std::string> failing;
  std::vector<std::string> queries;  // "TYPE name", in order

  asio::awaitable<DnsAnswer<std::string>> txt(std::string name) override { co_return lookup(txt_records, "TXT", name); }
  asio::awaitable<DnsAnswer<std::string>> a(std::string name) override { co_return lookup(a_records, "A", name); }
  asio::awaitable<DnsAnswer<std::string>> aaaa(std::string name) override { co_return lookup(aaaa_records, "AAAA", name); }
  asio::awaitable<DnsAnswer<std::string>> ptr(std::string ip) override { co_return lookup(ptr_records, "PTR", ip); }
  asio::awaitable<DnsAnswer<MxRecord>> mx(std::string name) override { co_return lookup(mx_records, "MX", name); }

  int count(const std::string& type) const {
    int n = 0;
    for (const auto& query : queries) n += query.rfind(type + " ", 0) == 0;
    return n;
  }

 private:
  static std::string lower(std::string name) {
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!name.empty() && name.back() == '.') name.pop_back();
    return name;
  }

  bool exists(const std::string& name) const {
    return txt_records.count(name) || a_records.count(name) || aaaa_records.count(name) || mx_records.count(name) ||
           ptr_records.count(name);
  }

  template <class T>
  DnsAnswer<T> lookup(const std::map<std::string, std::vector<T>>& table, const char* type, const std::string& raw) {
    const std::string name = lower(raw);
    queries.push_back(std::string(type) + " " + name);
    DnsAnswer<T> answer;
    if (failing.count(name)) {
      answer.status = DnsStatus::servfail;
      answer.error = name + " " + type + ": server failure";
      return answer;
    }
    if (auto it = table.find(name); it != table.end() && !it->second.empty()) {
      answer.status = DnsStatus::ok;
      answer.records = it->second;
      return answer;
    }
    answer.status = exists(name) ? DnsStatus::nodata : DnsStatus::nxdomain;
    answer.error = name + " " + type + ": no records";
    return answer;
  }
};

SpfOutcome run(MemoryDns& dns, const std::string& ip, const std::string& sender, const std::string& helo = "mail.example.org",
               bool helo_identity = false) {
  SpfRequest request;
  request.ip = ip;
  request.sender = sender;
  request.helo = helo;
  request.receiver_hostname = "mx.gatehouse.test";
  request.default_explanation = "DEFAULT";
  asio::io_context io;
  auto future = helo_identity ? asio::co_spawn(io, check_helo(dns, request), asio::use_future)
                              : asio::co_spawn(io, check_host(dns, request), asio::use_future);
  io.run();
  return future.get();
}

TEST(SpfEval, PassFailSoftfailNeutral) {
  MemoryDns dns;
  dns.txt_records["example.com"] = {"some other text", "v=spf1 ip4:192.0.2.0/24 ~ip4:198.51.100.1 ?ip6:2001:db8::/32 -all"};
  EXPECT_EQ(run(dns, "192.0.2.10", "alice@example.com").result, SpfResult::pass);
  EXPECT_EQ(run(dns, "198.51.100.1", "alice@example.com").result, SpfResult::softfail);
  EXPECT_EQ(run(dns, "2001:db8::5", "alice@example.com").result, SpfResult::neutral);
  auto failed = run(dns, "203.0.113.9", "alice@example.com");
  EXPECT_EQ(failed.result, SpfResult::fail);
  EXPECT_EQ(failed.problem, "-all");
  EXPECT_EQ(failed.domain, "example.com");
  EXPECT_EQ(failed.identity, "mailfrom");
  EXPECT_EQ(failed.explanation, "DEFAULT");
  EXPECT_EQ(run(dns, "::ffff:192.0.2.10", "alice@EXAMPLE.COM").result, SpfResult::pass);  // §5: mapped = IPv4
}

TEST(SpfEval, NoneForMissingOrInvalidDomains) {
  MemoryDns dns;
  dns.a_records["nospf.example.com"] = {"192.0.2.1"};
  EXPECT_EQ(run(dns, "192.0.2.1", "a@nospf.example.com").result, SpfResult::none);       // NODATA
  EXPECT_EQ(run(dns, "192.0.2.1", "a@nowhere.example.com").result, SpfResult::none);     // NXDOMAIN
  const auto queries_before = dns.queries.size();
  EXPECT_EQ(run(dns, "192.0.2.1", "a@" + std::string(64, 'a') + ".example.com").result, SpfResult::none);
  EXPECT_EQ(run(dns, "192.0.2.1", "a@A...example.com").result, SpfResult::none);
  EXPECT_EQ(run(dns, "192.0.2.1", "foo@[192.0.2.1]").result, SpfResult::none);
  EXPECT_EQ(run(dns, "192.0.2.1", "", "A2345678").result, SpfResult::none);  // single-label HELO
  EXPECT_EQ(run(dns, "192.0.2.1", "", "[192.0.2.1]").result, SpfResult::none);
  EXPECT_EQ(dns.queries.size(), queries_before) << "invalid domains must not be looked up";
}

TEST(SpfEval, NullSenderUsesPostmasterAtHelo) {
  MemoryDns dns;
  dns.txt_records["mail.example.org"] = {"v=spf1 -all exp=why.example.org"};
  dns.txt_records["why.example.org"] = {"%{s} via %{h} is not allowed for %{d}"};
  auto outcome = run(dns, "192.0.2.1", "", "mail.example.org");
  EXPECT_EQ(outcome.result, SpfResult::fail);
  EXPECT_EQ(outcome.domain, "mail.example.org");
  EXPECT_EQ(outcome.explanation, "postmaster@mail.example.org via mail.example.org is not allowed for mail.example.org");
  auto helo = run(dns, "192.0.2.1", "someone@elsewhere.example", "mail.example.org", true);
  EXPECT_EQ(helo.result, SpfResult::fail);
  EXPECT_EQ(helo.identity, "helo");
  // An empty local-part is postmaster too (§4.3).
  dns.txt_records["example.net"] = {"v=spf1 -all exp=exp.example.net"};
  dns.txt_records["exp.example.net"] = {"%{l}"};
  EXPECT_EQ(run(dns, "192.0.2.1", "@example.net").explanation, "postmaster");
}

TEST(SpfEval, RecordSelection) {
  MemoryDns dns;
  dns.txt_records["two.example.com"] = {"v=spf1 -all", "V=SPF1 +all"};
  EXPECT_EQ(run(dns, "192.0.2.1", "x@two.example.com").result, SpfResult::permerror);  // §4.5
  dns.txt_records["joined.example.com"] = {"v=spf1mx"};
  EXPECT_EQ(run(dns, "192.0.2.1", "x@joined.example.com").result, SpfResult::none);
  dns.txt_records["case.example.com"] = {"v=SpF1 ~all"};
  EXPECT_EQ(run(dns, "192.0.2.1", "x@case.example.com").result, SpfResult::softfail);
  dns.txt_records["bad.example.com"] = {"v=spf1 ip4:192.0.2.1 -all moo"};
  auto bad = run(dns, "192.0.2.1", "x@bad.example.com");
  EXPECT_EQ(bad.result, SpfResult::permerror);  // errors anywhere, even after a match (§4.6)
  EXPECT_NE(bad.problem.find("moo"), std::string::npos) << bad.problem;
  dns.failing.insert("down.example.com");
  EXPECT_EQ(run(dns, "192.0.2.1", "x@down.example.com").result, SpfResult::temperror);
}

TEST(SpfEval, AAndMxMechanisms) {
  MemoryDns dns;
  dns.txt_records["example.com"] = {"v=spf1 a/24//64 mx:mx.example.com -all"};
  dns.a_records["example.com"] = {"192.0.2.5"};
  dns.aaaa_records["example.com"] = {"2001:db8:1234::dead:beef"};
  dns.mx_records["mx.example.com"] = {{10, "mx1.example.com"}, {20, "mx2.example.com"}};
  dns.a_records["mx2.example.com"] = {"198.51.100.7"};
  EXPECT_EQ(run(dns, "192.0.2.77", "x@example.com").result, SpfResult::pass);
  EXPECT_EQ(run(dns, "2001:db8:1234::cafe", "x@example.com").result, SpfResult::pass);
  EXPECT_EQ(run(dns, "198.51.100.7", "x@example.com").result, SpfResult::pass);
  EXPECT_EQ(run(dns, "198.51.100.8", "x@example.com").result, SpfResult::fail);
  // mx does not fall back to the A record of a name without MX (§5.4).
  dns.txt_records["nomx.example.com"] = {"v=spf1 mx"};
  dns.a_records["nomx.example.com"] = {"192.0.2.9"};
  EXPECT_EQ(run(dns, "192.0.2.9", "x@nomx.example.com").result, SpfResult::neutral);
  // A null MX names no host.
  dns.txt_records["null.example.com"] = {"v=spf1 mx"};
  dns.mx_records["null.example.com"] = {{0, ""}};
  EXPECT_EQ(run(dns, "192.0.2.9", "x@null.example.com").result, SpfResult::neutral);
  // An address lookup that fails is a temperror (§5).
  dns.txt_records["flaky.example.com"] = {"v=spf1 a:down.example.com -all"};
  dns.failing.insert("down.example.com");
  EXPECT_EQ(run(dns, "192.0.2.9", "x@flaky.example.com").result, SpfResult::temperror);
}

TEST(SpfEval, MoreThanTenMxRecordsIsPermerror) {
  MemoryDns dns;
  dns.txt_records["example.com"] = {"v=spf1 mx"};
  for (int i = 0; i < 11; ++i) dns.mx_records["example.com"].push_back({i, "mail.example.com"});
  dns.a_records["mail.example.com"] = {"192.0.2.1"};
  EXPECT_EQ(run(dns, "192.0.2.1", "x@example.com").result, SpfResult::permerror);
}

TEST(SpfEval, PtrMechanismAndValidatedDomainMacro) {
  MemoryDns dns;
  dns.txt_records["example.com"] = {"v=spf1 ptr -all exp=why.example.com"};
  dns.txt_records["why.example.com"] = {"connect from %{p}"};
  dns.ptr_records["192.0.2.4"] = {"mail.example.com", "other.example.net"};
  dns.a_records["mail.example.com"] = {"192.0.2.4"};
  dns.ptr_records["192.0.2.5"] = {"fake.example.com", "host.example.net"};  // fake.example.com has no A
  dns.a_records["host.example.net"] = {"192.0.2.5"};
  EXPECT_EQ(run(dns, "192.0.2.4", "x@example.com").result, SpfResult::pass);
  auto failed = run(dns, "192.0.2.5", "x@example.com");
  EXPECT_EQ(failed.result, SpfResult::fail);
  EXPECT_EQ(failed.explanation, "connect from host.example.net");
  auto unknown = run(dns, "192.0.2.6", "x@example.com");
  EXPECT_EQ(unknown.explanation, "connect from unknown");
  // A failing PTR lookup is no match, not a temperror (§5.5).
  dns.failing.insert("192.0.2.7");
  EXPECT_EQ(run(dns, "192.0.2.7", "x@example.com").result, SpfResult::fail);
  // Only the first 10 PTR names count.
  dns.txt_records["many.example.com"] = {"v=spf1 ptr"};
  for (int i = 0; i < 10; ++i) dns.ptr_records["192.0.2.8"].push_back("h" + std::to_string(i) + ".example.org");
  dns.ptr_records["192.0.2.8"].push_back("mail.many.example.com");
  dns.a_records["mail.many.example.com"] = {"192.0.2.8"};
  EXPECT_EQ(run(dns, "192.0.2.8", "x@many.example.com").result, SpfResult::neutral);
}

TEST(SpfEval, IncludeResultMapping) {
  MemoryDns dns;
  dns.txt_records["pass.example.com"] = {"v=spf1 +all"};
  dns.txt_records["fail.example.com"] = {"v=spf1 -all exp=inner.example.com"};
  dns.txt_records["inner.example.com"] = {"inner explanation"};
  dns.txt_records["perm.example.com"] = {"v=spf1 moo"};
  dns.txt_records["nospf.example.com"] = {"hello"};
  dns.failing.insert("temp.example.com");
  auto with = [&](const std::string& target, const std::string& rest) {
    dns.txt_records["example.com"] = {"v=spf1 include:" + target + " " + rest};
    return run(dns, "192.0.2.1", "x@example.com");
  };
  EXPECT_EQ(with("pass.example.com", "-all").result, SpfResult::pass);
  dns.txt_records["outer.example.com"] = {"outer explanation"};
  auto failed = with("fail.example.com", "-all exp=outer.example.com");
  EXPECT_EQ(failed.result, SpfResult::fail);
  EXPECT_EQ(failed.explanation, "outer explanation");  // include's exp= is not used (§6.2)
  EXPECT_EQ(with("fail.example.com", "?all").result, SpfResult::neutral);
  EXPECT_EQ(with("temp.example.com", "-all").result, SpfResult::temperror);
  EXPECT_EQ(with("perm.example.com", "-all").result, SpfResult::permerror);
  EXPECT_EQ(with("nospf.example.com", "-all").result, SpfResult::permerror);    // none → permerror
  EXPECT_EQ(with("nowhere.example.com", "-all").result, SpfResult::permerror);  // NXDOMAIN → none → permerror
}

TEST(SpfEval, RedirectReplacesRecordAndExplanation) {
  MemoryDns dns;
  dns.txt_records["e1.example.com"] = {"v=spf1 exp=exp1.example.com redirect=e2.example.com"};
  dns.txt_records["e2.example.com"] = {"v=spf1 -all"};
  dns.txt_records["e3.example.com"] = {"v=spf1 exp=exp1.example.com redirect=e4.example.com"};
  dns.txt_records["e4.example.com"] = {"v=spf1 -all exp=exp2.example.com"};
  dns.txt_records["exp1.example.com"] = {"No-see-um"};
  dns.txt_records["exp2.example.com"] = {"See me."};
  dns.txt_records["e10.example.com"] = {"v=spf1 redirect=erehwon.example.com"};
  dns.txt_records["e24.example.com"] = {"v=spf1 redirect=testimplicit.example.com"};
  dns.a_records["e24.example.com"] = {"192.0.2.1"};
  dns.txt_records["testimplicit.example.com"] = {"v=spf1 a -all"};
  dns.a_records["testimplicit.example.com"] = {"192.0.2.2"};
  EXPECT_EQ(run(dns, "1.2.3.4", "x@e1.example.com").explanation, "DEFAULT");
  auto redirected = run(dns, "1.2.3.4", "x@e3.example.com");
  EXPECT_EQ(redirected.explanation, "See me.");
  EXPECT_EQ(redirected.domain, "e3.example.com");  // the identity's domain
  EXPECT_EQ(redirected.problem, "-all (in the policy of e4.example.com)");
  EXPECT_EQ(run(dns, "1.2.3.4", "x@e10.example.com").result, SpfResult::permerror);
  EXPECT_EQ(run(dns, "192.0.2.2", "x@e24.example.com").result, SpfResult::pass);  // a uses the new <domain>
  // redirect applies only when no mechanism matched.
  dns.txt_records["e5.example.com"] = {"v=spf1 redirect=e5.example.com ~all"};
  EXPECT_EQ(run(dns, "1.2.3.4", "x@e5.example.com").result, SpfResult::softfail);
}

TEST(SpfEval, ExplanationProblemsAreIgnored) {
  MemoryDns dns;
  auto explanation_for = [&](const std::string& exp_target) {
    dns.txt_records["example.com"] = {"v=spf1 -all exp=" + exp_target};
    auto outcome = run(dns, "192.0.2.1", "x@example.com");
    EXPECT_EQ(outcome.result, SpfResult::fail);
    return outcome.explanation;
  };
  dns.txt_records["two.example.com"] = {"one", "two"};
  dns.txt_records["bad.example.com"] = {"The %{x}-files."};
  dns.txt_records["utf8.example.com"] = {"\xEF\xBB\xBF" "Explanation"};
  dns.a_records["noexp.example.com"] = {"192.0.2.1"};
  dns.failing.insert("down.example.com");
  dns.txt_records["good.example.com"] = {"%{c} is not one of %{d}'s senders (checked by %{r})."};
  EXPECT_EQ(explanation_for("two.example.com"), "DEFAULT");
  EXPECT_EQ(explanation_for("bad.example.com"), "DEFAULT");
  EXPECT_EQ(explanation_for("utf8.example.com"), "DEFAULT");
  EXPECT_EQ(explanation_for("noexp.example.com"), "DEFAULT");
  EXPECT_EQ(explanation_for("down.example.com"), "DEFAULT");
  EXPECT_EQ(explanation_for("nowhere.example.com"), "DEFAULT");
  EXPECT_EQ(explanation_for("good.example.com"), "192.0.2.1 is not one of example.com's senders (checked by mx.gatehouse.test).");
  // Explanations only come with "fail".
  dns.txt_records["soft.example.com"] = {"v=spf1 ~all exp=good.example.com"};
  EXPECT_EQ(run(dns, "192.0.2.1", "x@soft.example.com").explanation, "");
}

TEST(SpfEval, DnsTermLimit) {
  MemoryDns dns;
  dns.txt_records["loop.example.com"] = {"v=spf1 ip4:1.1.1.1 redirect=loop.example.com"};
  EXPECT_EQ(run(dns, "1.2.3.4", "x@loop.example.com").result, SpfResult::permerror);
  dns.txt_records["i1.example.com"] = {"v=spf1 include:i2.example.com"};
  dns.txt_records["i2.example.com"] = {"v=spf1 include:i1.example.com"};
  EXPECT_EQ(run(dns, "1.2.3.4", "x@i1.example.com").result, SpfResult::permerror);
  // Exactly 10 terms that query DNS is fine; the 11th is a permerror. Terms are counted when they
  // are evaluated, so terms after a match never count.
  dns.a_records["e.example.com"] = {"1.2.3.8"};
  dns.mx_records["e.example.com"] = {{10, "e.example.com"}};
  dns.txt_records["e.example.com"] = {"v=spf1 a mx a mx a mx a mx a ptr ip4:1.2.3.4 -all"};
  EXPECT_EQ(run(dns, "1.2.3.4", "x@e.example.com").result, SpfResult::pass);
  dns.txt_records["e.example.com"] = {"v=spf1 a mx a mx a mx a mx a ptr a ip4:1.2.3.4 -all"};
  EXPECT_EQ(run(dns, "1.2.3.4", "x@e.example.com").result, SpfResult::permerror);
  dns.txt_records["inc.example.com"] = {"v=spf1 a a a a a a a a"};
  dns.a_records["inc.example.com"] = {"1.2.3.10"};
  dns.txt_records["e.example.com"] = {"v=spf1 a include:inc.example.com ip4:1.2.3.4 mx -all"};
  EXPECT_EQ(run(dns, "1.2.3.4", "x@e.example.com").result, SpfResult::pass);
  dns.txt_records["e.example.com"] = {"v=spf1 a include:inc.example.com a ip4:1.2.3.4 -all"};
  EXPECT_EQ(run(dns, "1.2.3.4", "x@e.example.com").result, SpfResult::permerror);
}

TEST(SpfEval, VoidLookupLimit) {
  MemoryDns dns;
  dns.txt_records["two.example.com"] = {"v=spf1 a:err.example.com a:err1.example.com ?all"};
  dns.txt_records["three.example.com"] = {"v=spf1 a:err.example.com a:err1.example.com a:err2.example.com ?all"};
  EXPECT_EQ(run(dns, "1.2.3.4", "x@two.example.com").result, SpfResult::neutral);
  EXPECT_EQ(run(dns, "1.2.3.4", "x@three.example.com").result, SpfResult::permerror);
  // The exp= lookup is not a term and never counts (§4.6.4).
  dns.txt_records["exp.example.com"] = {"v=spf1 a:err.example.com a:err1.example.com exp=nxdomain.example.com -all"};
  EXPECT_EQ(run(dns, "1.2.3.4", "x@exp.example.com").result, SpfResult::fail);
}

TEST(SpfEval, ExistsAlwaysAsksForA) {
  MemoryDns dns;
  dns.txt_records["e4.example.com"] = {"v=spf1 exists:mail.example.com"};
  dns.txt_records["e5.example.com"] = {"v=spf1 exists:mail6.example.com -all"};
  dns.a_records["mail.example.com"] = {"1.2.3.4"};
  dns.aaaa_records["mail6.example.com"] = {"cafe:babe::4"};
  EXPECT_EQ(run(dns, "CAFE:BABE::3", "x@e4.example.com").result, SpfResult::pass);
  EXPECT_EQ(run(dns, "CAFE:BABE::3", "x@e5.example.com").result, SpfResult::fail);
  dns.txt_records["e11.example.com"] = {"v=spf1 exists:%{i}.%{l2r-}.user.%{d2}"};
  dns.a_records["1.2.3.4.gladstone.philip.user.example.com"] = {"127.0.0.2"};
  EXPECT_EQ(run(dns, "1.2.3.4", "philip-gladstone-test@e11.example.com").result, SpfResult::pass);
}

TEST(SpfEval, InvalidTargetNamesDoNotMatch) {
  MemoryDns dns;
  dns.txt_records["t10.example.com"] = {"v=spf1 a:mail.example...com -all"};
  dns.txt_records["t12.example.com"] = {"v=spf1 a:%{H}.bar -all"};
  EXPECT_EQ(run(dns, "1.2.3.4", "x@t10.example.com").result, SpfResult::fail);
  EXPECT_EQ(run(dns, "1.2.3.4", "x@t12.example.com", std::string(22, '%')).result, SpfResult::fail);
}

TEST(SpfEval, HeloWithBareCrIsNeverQueried) {
  MemoryDns dns;
  dns.txt_records["h.example.com"] = {"v=spf1 exists:%{h}._spf.example.com a:%{h} -all"};
  EXPECT_EQ(run(dns, "1.2.3.4", "x@h.example.com", "bad\rhelo.example").result, SpfResult::fail);
  for (const std::string& query : dns.queries) EXPECT_EQ(query.find('\r'), std::string::npos) << query;
  EXPECT_EQ(dns.count("A"), 0);
}

TEST(SpfEval, BadClientAddress) {
  MemoryDns dns;
  dns.txt_records["example.com"] = {"v=spf1 -all"};
  auto outcome = run(dns, "not-an-ip", "x@example.com");
  EXPECT_EQ(outcome.result, SpfResult::permerror);
  EXPECT_NE(outcome.problem.find("not an IP address"), std::string::npos);
}

TEST(SpfEval, ResultNames) {
  EXPECT_EQ(to_string(SpfResult::none), "none");
  EXPECT_EQ(to_string(SpfResult::neutral), "neutral");
  EXPECT_EQ(to_string(SpfResult::pass), "pass");
  EXPECT_EQ(to_string(SpfResult::fail), "fail");
  EXPECT_EQ(to_string(SpfResult::softfail), "softfail");
  EXPECT_EQ(to_string(SpfResult::temperror), "temperror");
  EXPECT_EQ(to_string(SpfResult::permerror), "permerror");
}

}  // namespace
