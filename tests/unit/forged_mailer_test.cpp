// Tests of the forged-mailer check (src/checks/forged_mailer.cpp): a message naming Outlook, Outlook
// Express or Eudora without that program's Message-ID, an HTML-only message naming a Microsoft
// program, and an Outlook-form Message-ID whose time stamp is far from the Date, are found; what
// those programs really send (also through Hotmail or a Lyris list, and from a Macintosh) is not.
#include <gtest/gtest.h>

#include "check_test_support.hpp"

namespace gatehouse::checks {
namespace {

using Findings = std::vector<std::string>;

// Outlook Express's Message-ID for the Date below: FILETIME 01c24df9'890bad87 is 2002-08-27 18:42:46 UTC.
constexpr const char* genuine_outlook_id = "<001501c24df9$890bad87$21aa9840@oemcomputer>";
constexpr const char* date = "Tue, 27 Aug 2002 14:42:46 -0400";
constexpr const char* plain_body = "Content-Type: text/plain; charset=us-ascii\r\n\r\nsee you at eight\r\n";
constexpr const char* html_body = "Content-Type: text/html; charset=us-ascii\r\n\r\n<html><body><p>Act now</p></body></html>\r\n";

// `priority`: the X-Priority and X-MSMail-Priority fields Outlook and Outlook Express write.
Findings forged_mailer(const std::string& mailer, const std::string& message_id, const std::string& body = plain_body,
                       const std::string& date_field = date, bool priority = true) {
  std::string message = "From: a@example.org\r\nTo: b@example.test\r\nSubject: hello\r\nDate: " + date_field + "\r\n";
  if (priority) message += "X-Priority: 3\r\nX-MSMail-Priority: Normal\r\n";
  if (!message_id.empty()) message += "Message-ID: " + message_id + "\r\n";
  if (!mailer.empty()) message += "X-Mailer: " + mailer + "\r\n";
  message += "MIME-Version: 1.0\r\n" + body;
  return findings_on_message(*make_forged_mailer_check(), message);
}

TEST(ForgedMailer, WhatTheProgramsReallySendIsLeftAlone) {
  EXPECT_EQ(forged_mailer("Microsoft Outlook Express 6.00.2600.0000", genuine_outlook_id), Findings{});
  EXPECT_EQ(forged_mailer("Microsoft Outlook, Build 10.0.2627", genuine_outlook_id), Findings{});
  EXPECT_EQ(forged_mailer("Microsoft Outlook 16.0", genuine_outlook_id), Findings{});
  EXPECT_EQ(forged_mailer("Microsoft Outlook Express 5.50.4133.2400", "<DAV28zq6xEfhzL1f6Yk00001676@hotmail.com>"),
            Findings{});
  EXPECT_EQ(forged_mailer("Microsoft Outlook IMO, Build 9.0.2416 (9.0.2911.0)", "<AMEPKEBLDJJCCDEJHAMIAEHLFGAA.ejw@cse.ucsc.edu>"),
            Findings{});
  EXPECT_EQ(forged_mailer("QUALCOMM Windows Eudora Version 5.1", "<5.1.0.14.2.20020820071019.03e2aec0@gpo.iol.ie>"), Findings{});
  EXPECT_EQ(forged_mailer("Windows Eudora Pro Version 3.0 (32)", "<3.0.32.20020723231125.03bc2cf0@techdirt.com>"), Findings{});
  EXPECT_EQ(forged_mailer("QUALCOMM Windows Eudora Version 5.1", "<LYRIS-2424157-1479308-2002.11.30-16.00.02--list@lyris.example>"),
            Findings{});
  EXPECT_EQ(forged_mailer("Internet Mail Service (5.5.2653.19)", "<5EC2AD6D2314D14FB64BDA287D25D9EF12B4F6@exchange1.example.local>"),
            Findings{});
  // The Macintosh edition leaves the Message-ID to the server.
  EXPECT_EQ(forged_mailer("Microsoft Outlook Express Macintosh Edition - 5.01 (1630)", "<E17hrT0-0004gj-00@rhenium.example.com>"),
            Findings{});
  // Programs the check knows nothing about, and HTML with its plain-text alternative.
  EXPECT_EQ(forged_mailer("Mutt/1.4i", "<20020827184246.GA1234@example.org>", html_body), Findings{});
  EXPECT_EQ(forged_mailer("Microsoft Outlook Express 6.00.2600.0000", genuine_outlook_id,
                          "Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
                          "Act now\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Act now</p>\r\n--b--\r\n"),
            Findings{});
}

TEST(ForgedMailer, AMessageIdTheNamedProgramDoesNotWriteIsFound) {
  // A sendmail relay's Message-ID: the message came without one, which Outlook Express never sends.
  EXPECT_EQ(forged_mailer("Microsoft Outlook Express 6.00.2600.0000", "<200207221033.g6MAXTj12080@relay1.example.net>"),
            Findings{"message_id"});
  EXPECT_EQ(forged_mailer("Microsoft Outlook Express 6.00.2600.0000", ""), Findings{"message_id"});
  // Outlook Express's form written for Outlook IMO or Eudora: a bulk mailer's one generator.
  EXPECT_EQ(forged_mailer("Microsoft Outlook IMO, Build 9.0.2416 (9.0.2910.0)", genuine_outlook_id), Findings{"message_id"});
  EXPECT_EQ(forged_mailer("QUALCOMM Windows Eudora Version 5.1", genuine_outlook_id), Findings{"message_id"});
  EXPECT_EQ(forged_mailer("QUALCOMM Windows Eudora Version 4.3.1", "<1038861027.6635@mail239.example.com>"), Findings{"message_id"});
  // A bulk mailer's Outlook-form Message-ID under Exchange's name, its time stamp random too.
  EXPECT_EQ(forged_mailer("Internet Mail Service (5.5.2650.21)", "<000b11a65aad$8587c2b3$3bb78ec3@ubrjup>"),
            (Findings{"message_id", "message_id_time"}));
  EXPECT_EQ(forged_mailer("Internet Mail Service", "<200209231919.g8NJJHC31600@relay.example.org>"), Findings{"message_id"});
  EXPECT_EQ(forged_mailer("OutLook Express 3.14159", "<E17np0M-0007R0-00@list.example.net>"), Findings{"message_id"});
}

TEST(ForgedMailer, HtmlWithoutItsPlainTextPartFromAMicrosoftProgramIsFound) {
  EXPECT_EQ(forged_mailer("Microsoft Outlook Express 6.00.2600.0000", genuine_outlook_id, html_body), Findings{"html_only"});
  EXPECT_EQ(forged_mailer("Microsoft Outlook IMO, Build 9.0.2416 (9.0.2910.0)", "<200208300010.BAA12161@relay.example.net>",
                          html_body),
            (Findings{"message_id", "html_only"}));
  // html_only judges the Microsoft programs only.
  EXPECT_EQ(forged_mailer("QUALCOMM Windows Eudora Version 5.1", "<5.1.0.14.2.20020820071019.03e2aec0@gpo.iol.ie>", html_body),
            Findings{});
}

TEST(ForgedMailer, OutlookWithoutItsPriorityFieldsIsFound) {
  EXPECT_EQ(forged_mailer("Microsoft Outlook Express 6.00.2600.0000", genuine_outlook_id, plain_body, date, false),
            Findings{"priority_fields"});
  EXPECT_EQ(forged_mailer("Microsoft Outlook, Build 10.0.2627", genuine_outlook_id, plain_body, date, false),
            Findings{"priority_fields"});
  // Later Outlooks ("Microsoft Outlook 16.0", no "Build") are not judged on these fields.
  EXPECT_EQ(forged_mailer("Microsoft Outlook 16.0", genuine_outlook_id, plain_body, date, false), Findings{});
  EXPECT_EQ(forged_mailer("Mutt/1.4i", "<20020827184246.GA1234@example.org>", plain_body, date, false), Findings{});
}

TEST(ForgedMailer, AnOutlookTimeStampFarFromTheDateIsFound) {
  // Written 2002-02-25 (01c1be4e'bf579880), dated six months later: a template sent again and again.
  EXPECT_EQ(forged_mailer("", "<006001c1be4e$bf579880$5bbcf80c@example.net>"), Findings{"message_id_time"});
  EXPECT_EQ(forged_mailer("", "<006001c1be4e$bf579880$5bbcf80c@example.net>", plain_body, "Mon, 25 Feb 2002 16:49:55 -0600"),
            Findings{});
  // Zero-padded random digits: high half 00001608 is the year 1601.
  EXPECT_EQ(forged_mailer("Microsoft Outlook, Build 10.0.3416", "<000016081046$0000613f$000078bf@>"),
            (Findings{"message_id", "message_id_time"}));
  EXPECT_EQ(forged_mailer("", "<00006df0147e$000041f2$000063fa@ >"), Findings{"message_id_time"});
  // Hours apart (a clock in the wrong zone) is not found.
  EXPECT_EQ(forged_mailer("Microsoft Outlook Express 6.00.2600.0000", genuine_outlook_id, plain_body,
                          "Tue, 27 Aug 2002 20:42:46 -0400"),
            Findings{});
}

}  // namespace
}  // namespace gatehouse::checks
