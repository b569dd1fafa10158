// Tests of the SMTP command-line parser (src/smtp/command.hpp): verbs, MAIL/RCPT paths (RFC 5321
// §4.1.2: null path, quoted local parts, source routes, address literals, domains), the UTF-8 rules
// of RFC 6531, the MAIL parameters (SIZE, BODY, SMTPUTF8) and Mailbox::text().
#include "smtp/command.hpp"

#include <gtest/gtest.h>

namespace gatehouse::smtp {
namespace {

// ---------------------------------------------------------------------------------------------
// parse_command

TEST(CommandVerb, CaseInsensitive) {
  for (const char* line : {"mail FROM:<a@b.test>", "MAIL FROM:<a@b.test>", "MaIl FROM:<a@b.test>"}) {
    Command cmd = parse_command(line);
    EXPECT_EQ(cmd.verb, Verb::mail) << line;
    EXPECT_EQ(cmd.verb_text, "MAIL");
    EXPECT_EQ(cmd.argument, "FROM:<a@b.test>");
  }
  EXPECT_EQ(parse_command("ehlo x").verb, Verb::ehlo);
  EXPECT_EQ(parse_command("helo x").verb, Verb::helo);
  EXPECT_EQ(parse_command("rcpt TO:<a@b>").verb, Verb::rcpt);
  EXPECT_EQ(parse_command("data").verb, Verb::data);
  EXPECT_EQ(parse_command("bdat 10 last").verb, Verb::bdat);
  EXPECT_EQ(parse_command("rset").verb, Verb::rset);
  EXPECT_EQ(parse_command("noop").verb, Verb::noop);
  EXPECT_EQ(parse_command("quit").verb, Verb::quit);
  EXPECT_EQ(parse_command("vrfy a").verb, Verb::vrfy);
  EXPECT_EQ(parse_command("expn a").verb, Verb::expn);
  EXPECT_EQ(parse_command("help").verb, Verb::help);
  EXPECT_EQ(parse_command("StartTLS").verb, Verb::starttls);
  EXPECT_EQ(parse_command("auth plain").verb, Verb::auth);
  EXPECT_EQ(parse_command("lhlo x").verb, Verb::lhlo);
}

TEST(CommandVerb, ArgumentIsTrimmed) {
  Command cmd = parse_command("EHLO   client.test  ");
  EXPECT_EQ(cmd.verb, Verb::ehlo);
  EXPECT_EQ(cmd.argument, "client.test");
  EXPECT_EQ(parse_command("DATA").argument, "");
  EXPECT_EQ(parse_command("DATA ").argument, "");
}

TEST(CommandVerb, UnknownVerbs) {
  EXPECT_EQ(parse_command("XYZZY").verb, Verb::unknown);
  EXPECT_EQ(parse_command("MAILFROM:<a@b.test>").verb, Verb::unknown);
  EXPECT_EQ(parse_command("DAT").verb, Verb::unknown);
  EXPECT_EQ(parse_command("DATAX").verb, Verb::unknown);
  EXPECT_EQ(parse_command("").verb, Verb::unknown);
  EXPECT_EQ(parse_command("GET / HTTP/1.1").verb, Verb::unknown);
}

// ---------------------------------------------------------------------------------------------
// MAIL FROM

MailArgument mail_ok(std::string_view arg, bool utf8 = false) {
  auto r = parse_mail_argument(arg, utf8);
  EXPECT_TRUE(r.ok()) << arg << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : MailArgument{};
}

Error mail_error(std::string_view arg, bool utf8 = false) {
  auto r = parse_mail_argument(arg, utf8);
  EXPECT_FALSE(r.ok()) << "accepted: " << arg;
  return r.ok() ? Error{} : r.error();
}

RcptArgument rcpt_ok(std::string_view arg, bool utf8 = false) {
  auto r = parse_rcpt_argument(arg, utf8);
  EXPECT_TRUE(r.ok()) << arg << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : RcptArgument{};
}

Error rcpt_error(std::string_view arg, bool utf8 = false) {
  auto r = parse_rcpt_argument(arg, utf8);
  EXPECT_FALSE(r.ok()) << "accepted: " << arg;
  return r.ok() ? Error{} : r.error();
}

TEST(CommandMail, NullReversePath) {
  auto m = mail_ok("FROM:<>");
  EXPECT_TRUE(m.sender.empty());
  EXPECT_TRUE(mail_ok("FROM:<> SIZE=5").sender.empty());
  EXPECT_EQ(mail_ok("FROM:<> SIZE=5").params.size, 5u);
}

TEST(CommandMail, PlainAddressLowerCasesOnlyTheDomain) {
  auto m = mail_ok("from:<John.Doe@Example.COM>");
  EXPECT_EQ(m.sender.local, "John.Doe");
  EXPECT_EQ(m.sender.domain, "example.com");
  EXPECT_FALSE(m.sender.quoted);
  EXPECT_FALSE(m.sender.utf8);
  EXPECT_FALSE(m.sender.had_source_route);
  EXPECT_EQ(m.sender.text(), "John.Doe@example.com");
}

TEST(CommandMail, SpacesAfterColonAndMissingBrackets) {
  EXPECT_EQ(mail_ok("FROM: <a@b.test>").sender.text(), "a@b.test");
  EXPECT_EQ(mail_ok("FROM:   <a@b.test>  ").sender.text(), "a@b.test");
  auto m = mail_ok("FROM:a@b.test SIZE=42");
  EXPECT_EQ(m.sender.text(), "a@b.test");
  EXPECT_EQ(m.params.size, 42u);
  EXPECT_EQ(mail_ok("FROM: a@b.test").sender.text(), "a@b.test");
}

TEST(CommandMail, SyntaxErrors) {
  EXPECT_EQ(mail_error("TO:<a@b.test>").code, 501);
  EXPECT_EQ(mail_error("FROM").code, 501);
  EXPECT_EQ(mail_error("FROM:").code, 501);
  EXPECT_EQ(mail_error("FROM:<a@b.test").code, 501);
  EXPECT_EQ(mail_error("FROM:<a b@b.test>").code, 501);
  // A sender needs a domain; its errors carry the sender enhanced code.
  auto e = mail_error("FROM:<postmaster>");
  EXPECT_EQ(e.code, 501);
  EXPECT_EQ(e.enhanced, "5.1.7");
  EXPECT_EQ(mail_error("FROM:<a@@b.test>").enhanced, "5.1.7");
}

TEST(CommandMail, QuotedLocalParts) {
  auto m = mail_ok(R"(FROM:<"john \"jr\" doe"@example.com>)");
  EXPECT_EQ(m.sender.local, R"(john "jr" doe)");
  EXPECT_TRUE(m.sender.quoted);
  EXPECT_EQ(m.sender.domain, "example.com");
  EXPECT_EQ(m.sender.text(), R"("john \"jr\" doe"@example.com)");
  // '>' and '@' inside quotes do not end the path or split the address.
  auto q = mail_ok(R"(FROM:<"a>b@c"@example.com> SIZE=1)");
  EXPECT_EQ(q.sender.local, "a>b@c");
  EXPECT_EQ(q.sender.domain, "example.com");
  EXPECT_EQ(q.params.size, 1u);
  auto bs = mail_ok(R"(FROM:<"back\\slash"@example.com>)");
  EXPECT_EQ(bs.sender.local, R"(back\slash)");
  EXPECT_EQ(bs.sender.text(), R"("back\\slash"@example.com)");
  // Unterminated quotes and control characters are refused.
  EXPECT_EQ(mail_error(R"(FROM:<"abc@example.com>)").code, 501);
  EXPECT_EQ(mail_error("FROM:<\"a\x01\"@example.com>").code, 501);
}

TEST(CommandMail, Parameters) {
  auto m = mail_ok("FROM:<a@b.test> SIZE=1000 BODY=8BITMIME");
  EXPECT_EQ(m.params.size, 1000u);
  EXPECT_EQ(m.params.body, "8BITMIME");
  EXPECT_FALSE(m.params.smtputf8);
  EXPECT_EQ(mail_ok("FROM:<a@b.test> size=7 body=7bit").params.body, "7BIT");
  EXPECT_FALSE(mail_ok("FROM:<a@b.test>").params.size.has_value());
  EXPECT_TRUE(mail_ok("FROM:<a@b.test> SMTPUTF8", true).params.smtputf8);
  EXPECT_TRUE(mail_ok("FROM:<a@b.test>  SMTPUTF8  BODY=8BITMIME", true).params.smtputf8);
}

TEST(CommandMail, BadParameters) {
  for (const char* bad : {"SIZE=", "SIZE=abc", "SIZE=12x", "SIZE=-1", "SIZE=99999999999999999999999", "SIZE"}) {
    auto e = mail_error(std::string("FROM:<a@b.test> ") + bad);
    EXPECT_EQ(e.code, 501) << bad;
  }
  auto unknown = mail_error("FROM:<a@b.test> XFORWARD=1");
  EXPECT_EQ(unknown.code, 555);
  EXPECT_EQ(unknown.enhanced, "5.5.4");
  EXPECT_EQ(mail_error("FROM:<a@b.test> BODY=BINARYMIME").code, 555);
  EXPECT_EQ(mail_error("FROM:<a@b.test> BODY=").code, 555);
  EXPECT_EQ(mail_error("FROM:<a@b.test> SMTPUTF8=yes", true).code, 555);
  // SMTPUTF8 only when the server offered it (EHLO).
  EXPECT_EQ(mail_error("FROM:<a@b.test> SMTPUTF8", false).code, 555);
}

TEST(CommandMail, Utf8NeedsTheSmtputf8Parameter) {
  auto e = mail_error("FROM:<j\xc3\xb6rg@example.com>", true);
  EXPECT_EQ(e.code, 553);
  EXPECT_EQ(e.enhanced, "5.6.7");
  EXPECT_EQ(mail_error("FROM:<user@b\xc3\xbc" "cher.example>", true).code, 553);
  auto m = mail_ok("FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> SMTPUTF8", true);
  EXPECT_TRUE(m.sender.utf8);
  EXPECT_EQ(m.sender.local, "j\xc3\xb6rg");
  EXPECT_EQ(m.sender.domain, "b\xc3\xbc" "cher.example");
  EXPECT_TRUE(mail_ok("FROM:<user@b\xc3\xbc" "cher.example> SMTPUTF8", true).sender.utf8);
  EXPECT_FALSE(mail_ok("FROM:<user@example.com> SMTPUTF8", true).sender.utf8);
}

// ---------------------------------------------------------------------------------------------
// RCPT TO and mailboxes

TEST(CommandRcpt, Basic) {
  auto r = rcpt_ok("TO:<Bob@Example.Test>");
  EXPECT_EQ(r.recipient.local, "Bob");
  EXPECT_EQ(r.recipient.domain, "example.test");
  EXPECT_EQ(rcpt_ok("to: <bob@example.test>").recipient.text(), "bob@example.test");
  EXPECT_EQ(rcpt_ok("TO:bob@example.test").recipient.text(), "bob@example.test");
  EXPECT_EQ(rcpt_error("FROM:<bob@example.test>").code, 501);
  EXPECT_EQ(rcpt_error("TO:<>").code, 501);
  EXPECT_EQ(rcpt_error("TO:").code, 501);
}

TEST(CommandRcpt, PostmasterWithoutDomain) {
  auto r = rcpt_ok("TO:<Postmaster>");
  EXPECT_EQ(r.recipient.local, "Postmaster");
  EXPECT_TRUE(r.recipient.domain.empty());
  EXPECT_FALSE(r.recipient.empty());
}

TEST(CommandRcpt, ParametersAreRefused) {
  auto e = rcpt_error("TO:<bob@example.test> NOTIFY=NEVER");
  EXPECT_EQ(e.code, 555);
  EXPECT_EQ(rcpt_error("TO:<bob@example.test> XFOO").code, 555);
}

TEST(CommandRcpt, SourceRouteIsIgnored) {
  auto r = rcpt_ok("TO:<@relay.test,@hop.test:user@example.test>");
  EXPECT_TRUE(r.recipient.had_source_route);
  EXPECT_EQ(r.recipient.local, "user");
  EXPECT_EQ(r.recipient.domain, "example.test");
  EXPECT_EQ(r.recipient.text(), "user@example.test");
  EXPECT_TRUE(mail_ok("FROM:<@relay.test:a@b.test>").sender.had_source_route);
  EXPECT_EQ(rcpt_error("TO:<@relay.test>").code, 501);
}

TEST(CommandRcpt, AddressLiterals) {
  auto v4 = rcpt_ok("TO:<postmaster@[192.0.2.1]>");
  EXPECT_EQ(v4.recipient.domain, "[192.0.2.1]");
  EXPECT_EQ(address_literal_ip(v4.recipient.domain), "192.0.2.1");
  auto v6 = rcpt_ok("TO:<user@[IPv6:2001:db8::1]>");
  EXPECT_EQ(v6.recipient.domain, "[IPv6:2001:db8::1]");
  EXPECT_EQ(address_literal_ip(v6.recipient.domain), "2001:db8::1");
  EXPECT_EQ(address_literal_ip("[ipv6:::1]"), "::1");
  for (const char* bad : {"TO:<u@[999.0.0.1]>", "TO:<u@[192.0.2]>", "TO:<u@[IPv6:zz::1]>", "TO:<u@[2001:db8::1]>",
                          "TO:<u@[]>", "TO:<u@[192.0.2.1>"}) {
    EXPECT_EQ(rcpt_error(bad).code, 501) << bad;
  }
  EXPECT_EQ(address_literal_ip("example.com"), std::nullopt);
}

TEST(CommandRcpt, InvalidDomains) {
  for (const char* bad : {"TO:<u@>", "TO:<u@-a.test>", "TO:<u@a-.test>", "TO:<u@a..test>", "TO:<u@.a.test>",
                          "TO:<u@a.test..>", "TO:<u@a b.test>", "TO:<u@a!b.test>", "TO:<u@a@b.test>",
                          "TO:<u@b@c@d.test>", "TO:<@>", "TO:<u@.>"}) {
    EXPECT_EQ(rcpt_error(bad).code, 501) << bad;
  }
  std::string long_label(64, 'a');
  EXPECT_EQ(rcpt_error("TO:<u@" + long_label + ".test>").code, 501);
  EXPECT_TRUE(rcpt_ok("TO:<u@" + std::string(63, 'a') + ".test>").recipient.domain.size() == 68);
  // Underscores appear in real host names; digits-only labels are fine.
  EXPECT_EQ(rcpt_ok("TO:<u@mail_1.example.test>").recipient.domain, "mail_1.example.test");
  EXPECT_EQ(rcpt_ok("TO:<u@123.example>").recipient.domain, "123.example");
}

TEST(CommandRcpt, TrailingDotOfTheDomainIsDropped) {
  EXPECT_EQ(rcpt_ok("TO:<u@Example.Test.>").recipient.domain, "example.test");
}

TEST(CommandRcpt, BadLocalParts) {
  EXPECT_EQ(rcpt_error("TO:<@example.test>").code, 501);
  EXPECT_EQ(rcpt_error("TO:<a(b)@example.test>").code, 501);
  EXPECT_EQ(rcpt_error("TO:<a,b@example.test>").code, 501);
  EXPECT_EQ(rcpt_error("TO:<" + std::string(300, 'a') + "@example.test>").code, 501);
}

TEST(CommandRcpt, Utf8) {
  auto e = rcpt_error("TO:<\xe7\x94\xa8\xe6\x88\xb7@example.test>", false);
  EXPECT_EQ(e.code, 553);
  EXPECT_EQ(e.enhanced, "5.6.7");
  auto r = rcpt_ok("TO:<\xe7\x94\xa8\xe6\x88\xb7@example.test>", true);
  EXPECT_TRUE(r.recipient.utf8);
  EXPECT_EQ(r.recipient.text(), "\xe7\x94\xa8\xe6\x88\xb7@example.test");
  EXPECT_EQ(rcpt_error("TO:<\"\xc3\xa9\"@example.test>", false).code, 553);
  EXPECT_TRUE(rcpt_ok("TO:<\"\xc3\xa9\"@example.test>", true).recipient.utf8);
}

// ---------------------------------------------------------------------------------------------
// Mailbox::text

TEST(CommandMailbox, TextQuotesOnlyWhenNeeded) {
  Mailbox plain;
  plain.local = "first.last+tag";
  plain.domain = "example.test";
  EXPECT_EQ(plain.text(), "first.last+tag@example.test");

  Mailbox spaced;
  spaced.local = "john doe";
  spaced.domain = "example.test";
  EXPECT_EQ(spaced.text(), "\"john doe\"@example.test");

  Mailbox special;
  special.local = "a\"b\\c";
  special.domain = "example.test";
  EXPECT_EQ(special.text(), R"("a\"b\\c"@example.test)");

  Mailbox bare;
  bare.local = "postmaster";
  EXPECT_EQ(bare.text(), "postmaster");
}

TEST(CommandMailbox, TextRoundTrips) {
  for (const char* address : {"alice@example.test", "\"john doe\"@example.test", R"("x\"y"@example.test)",
                              "a.b-c_d+e@sub.example.test", "\"a@b\"@example.test", "u@[192.0.2.7]",
                              "\"\"@example.test", "o'brien@example.test"}) {
    auto first = parse_mailbox(address, false);
    ASSERT_TRUE(first.ok()) << address << ": " << first.error().message;
    auto second = parse_mailbox(first->text(), false);
    ASSERT_TRUE(second.ok()) << first->text();
    EXPECT_EQ(second->local, first->local) << address;
    EXPECT_EQ(second->domain, first->domain) << address;
    EXPECT_EQ(second->text(), first->text()) << address;
  }
}

TEST(CommandDomain, ValidDomain) {
  EXPECT_TRUE(valid_domain("example.test", false));
  EXPECT_TRUE(valid_domain("a", false));
  EXPECT_TRUE(valid_domain("[192.0.2.1]", false));
  EXPECT_FALSE(valid_domain("", false));
  EXPECT_FALSE(valid_domain("b\xc3\xbc" "cher.example", false));
  EXPECT_TRUE(valid_domain("b\xc3\xbc" "cher.example", true));
  const std::string label(63, 'a');
  EXPECT_TRUE(valid_domain(label + "." + label + "." + label + ".test", false));
  EXPECT_FALSE(valid_domain(label + "." + label + "." + label + "." + label + ".test", false));  // > 255
}

TEST(CommandLower, ToLowerAscii) {
  EXPECT_EQ(to_lower_ascii("MiXeD.Case-123"), "mixed.case-123");
  EXPECT_EQ(to_lower_ascii("\xc3\x84"), "\xc3\x84");
}

}  // namespace
}  // namespace gatehouse::smtp
