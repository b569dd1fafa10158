// Tests of the free-mail check (src/checks/free_mail.cpp) and of the Received-field reader it uses
// (src/content/received.cpp): a From at a free-mail provider on mail that never passed through the
// provider's servers is found; mail that did (a Received field the provider's server wrote, or the
// provider's server as the client), a mailing list's message and other domains are not.
#include <gtest/gtest.h>

#include "check_test_support.hpp"
#include "common/text.hpp"
#include "content/received.hpp"

namespace gatehouse::checks {
namespace {

using Findings = std::vector<std::string>;

std::string message_from(const std::string& from, const std::string& received, const std::string& more = "") {
  return received + "From: " + from + "\r\nTo: bob@example.test\r\nSubject: hello\r\n" + more +
         "Date: Fri, 23 Aug 2002 21:24:39 -0400\r\n\r\nHello.\r\n";
}

Findings free_mail(const std::string& message, ConnectionState* connection = nullptr) {
  return findings_on_message(*make_free_mail_check(), message, connection);
}

const std::string dial_up =
    "Received: from mydomain.com (213-96-189-190.uc.nombres.ttd.es [213.96.189.190])\r\n"
    "\tby mx.example.test (8.11.6/8.11.6) with SMTP id g7O1OWZ18858; Sat, 24 Aug 2002 02:24:32 +0100\r\n";

TEST(ReceivedNames, TheWritingHostAndTheClientsLookedUpName) {
  auto sendmail = content::read_received_names(
      "from mydomain.com (213-96-189-190.uc.nombres.ttd.es [213.96.189.190]) by MX.Example.TEST. (8.11.6); "
      "Sat, 24 Aug 2002 02:24:32 +0100");
  EXPECT_EQ(sendmail.by, "mx.example.test");
  EXPECT_EQ(sendmail.client_name, "213-96-189-190.uc.nombres.ttd.es");   // the name, not the HELO
  auto exim = content::read_received_names("from mx.sender.example ([193.172.5.4] helo=laptop) by mail.example with esmtp");
  EXPECT_EQ(exim.client_name, "mx.sender.example");
  auto qmail = content::read_received_names("from unknown (HELO friend) (8.8.4.4) by mail.example with SMTP");
  EXPECT_EQ(qmail.by, "mail.example");
  EXPECT_EQ(qmail.client_name, "");   // "unknown": no name
  auto nameless = content::read_received_names("from relay.example (unknown [66.35.250.150]) by mx.example (Postfix)");
  EXPECT_EQ(nameless.client_name, "");
  auto user = content::read_received_names("from waste.minder.net (daemon@waste.minder.net [66.92.53.73]) by locust.minder.net");
  EXPECT_EQ(user.client_name, "waste.minder.net");
  auto local = content::read_received_names("(qmail 8770 invoked by uid 500); 6 Sep 2002 07:04:43 -0000");
  EXPECT_EQ(local.client_name, "");
}

TEST(WithinDomain, TheDomainAndItsSubdomainsIgnoringCaseAndTheFinalDot) {
  EXPECT_TRUE(within_domain("mx1.Example.ORG.", "example.org"));
  EXPECT_TRUE(within_domain("example.org", "example.org."));
  EXPECT_FALSE(within_domain("badexample.org", "example.org"));
  EXPECT_FALSE(within_domain("example.org", "mx1.example.org"));
  EXPECT_FALSE(within_domain("", "example.org"));
  EXPECT_FALSE(within_domain("example.org", ""));
}

TEST(FreeMail, AFreeMailFromThatNeverPassedThroughTheProviderIsFound) {
  EXPECT_EQ(free_mail(message_from("Jane <jane_doe77@hotmail.com>", dial_up)), Findings{"forged"});
  EXPECT_EQ(free_mail(message_from("jane@Yahoo.co.uk", dial_up)), Findings{"forged"});
  EXPECT_EQ(free_mail(message_from("<winner@gmail.com>", "")), Findings{"forged"});
  // A HELO that claims the provider proves nothing: the client chose it.
  EXPECT_EQ(free_mail(message_from("jane@hotmail.com",
                                   "Received: from hotmail.com (dsl-203-0-113-7.pool.example [203.0.113.7])\r\n"
                                   "\tby mx.example.test; Sat, 24 Aug 2002 02:24:32 +0100\r\n")),
            Findings{"forged"});
}

TEST(FreeMail, MailThatCameThroughTheProviderAListOrAnotherDomainIsNot) {
  const std::string through_hotmail =
      "Received: from mail pickup service by hotmail.com with Microsoft SMTPSVC;\r\n"
      "\t Sat, 24 Aug 2002 02:20:01 -0700\r\n";
  EXPECT_EQ(free_mail(message_from("jane@hotmail.com", dial_up + through_hotmail)), Findings{});
  const std::string from_outlook_server =
      "Received: from EUR05-VI1-obe.outbound.protection.outlook.com (mail-vi1eur05on2101.outbound.protection.outlook.com"
      " [40.107.21.101]) by mx.example.test (Postfix) with ESMTPS id 4B5; Mon, 23 Nov 2026 10:00:00 +0000\r\n";
  EXPECT_EQ(free_mail(message_from("jane@outlook.com", from_outlook_server)), Findings{});
  // Gmail's own Received fields name no host; the client the gateway talks to is Google's server.
  ConnectionState google;
  google.ptr = "mail-sor-f41.google.com";
  EXPECT_EQ(free_mail(message_from("jane@gmail.com", "Received: by 2002:a05:6402:1e8b with SMTP id x; "
                                                      "Mon, 23 Nov 2026 10:00:00 -0800\r\n"), &google),
            Findings{});
  // Google's server whose reverse name could not be looked up (a DNS timeout): its HELO names it.
  ConnectionState unresolved;
  unresolved.ptr_error = "timeout";
  unresolved.helo_names = {"mail-sor-f41.google.com"};
  const std::string gmail_own = "Received: by 2002:a05:6402:1e8b with SMTP id x; Mon, 23 Nov 2026 10:00:00 -0800\r\n";
  EXPECT_EQ(free_mail(message_from("jane@gmail.com", gmail_own), &unresolved), Findings{});
  // ... but not the bare domain a bulk mailer claims, nor any HELO when the name was looked up.
  unresolved.helo_names = {"google.com"};
  EXPECT_EQ(free_mail(message_from("jane@gmail.com", gmail_own), &unresolved), Findings{"forged"});
  ConnectionState dsl;
  dsl.ptr = "203-0-113-7.dsl.example.net";
  dsl.helo_names = {"mail-sor-f41.google.com"};
  EXPECT_EQ(free_mail(message_from("jane@gmail.com", gmail_own), &dsl), Findings{"forged"});
  EXPECT_EQ(free_mail(message_from("jane@hotmail.com", dial_up, "List-Id: <users.lists.example.org>\r\n")), Findings{});
  EXPECT_EQ(free_mail(message_from("jane@example.org", dial_up)), Findings{});
  EXPECT_EQ(free_mail(message_from("jane@yahoo.example.org", dial_up)), Findings{});   // not Yahoo's
  EXPECT_EQ(free_mail(message_from("jane@livejournal.com", dial_up)), Findings{});
}

}  // namespace
}  // namespace gatehouse::checks
