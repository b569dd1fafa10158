// Tests of the header checks' findings on whole messages (src/checks/message_date.cpp,
// header_structure.cpp, header_addresses.cpp, subject.cpp, mime_structure.cpp's html_without_tags):
// what a mass mailer writes gets its
// finding, what mail programs write (RFC 5322 dates with real zones, Outlook's own Message-IDs,
// "undisclosed-recipients:;", ordinary subjects with prices in the text) gets none.
#include <gtest/gtest.h>

#include <algorithm>

#include "check_test_support.hpp"

namespace gatehouse::checks {
namespace {

using Findings = std::vector<std::string>;

// The findings of `check` on `message`, by name (check_test_support.hpp).
Findings findings_of(std::unique_ptr<Check> check, const std::string& message) {
  return findings_on_message(*check, message);
}

// A plain message with the given header fields (each "Name: value\r\n") in front of a short body.
std::string message_with(const std::string& fields, const std::string& body = "Hello.\r\n") {
  return "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n" + fields + "\r\n" + body;
}

bool has(const Findings& findings, std::string_view name) {
  return std::find(findings.begin(), findings.end(), name) != findings.end();
}

TEST(MessageDate, AZoneNoPlaceHasOrNoZoneAtAllIsFound) {
  auto date = [](const std::string& value) {
    return findings_of(make_message_date_check(), message_with("Subject: hi\r\nDate: " + value + "\r\n"));
  };
  EXPECT_TRUE(has(date("Mon, 26 Aug 2002 16:26:01 -1700"), "bad_zone"));
  EXPECT_TRUE(has(date("Wed, 11 Sep 2002 09:41:51 +1900"), "bad_zone"));
  EXPECT_TRUE(has(date("Wed, 11 Sep 2002 09:41:51 +0137"), "bad_zone"));
  EXPECT_TRUE(has(date("Sat, 27 Jul 2002 15:10:34"), "no_zone"));
  EXPECT_TRUE(has(date("Sat, 27 Jul 2002 15:10:34 (PDT)"), "no_zone"));
}

TEST(MessageDate, RealZonesAndTheObsoleteNamesAreFine) {
  for (const std::string value : {"Fri, 27 Sep 2002 21:15:36 -0700", "Fri, 27 Sep 2002 21:15:36 +1400",
                                  "Fri, 27 Sep 2002 21:15:36 +0545 (NPT)", "Fri, 27 Sep 2002 21:15:36 -0930",
                                  "Fri, 27 Sep 2002 21:15:36 GMT", "Fri, 27 Sep 2002 21:15:36 EDT",
                                  "Fri, 27 Sep 2002 21:15:36 -0400 (EDT)", "27 Sep 2002 21:15 UT"}) {
    const Findings found = findings_of(make_message_date_check(), message_with("Subject: hi\r\nDate: " + value + "\r\n"));
    EXPECT_FALSE(has(found, "bad_zone") || has(found, "no_zone")) << value;
  }
}

TEST(HeaderStructure, ZeroPaddedOutlookLookalikeIdIsFoundOutlooksOwnIsNot) {
  const std::string date = "Date: Fri, 27 Sep 2002 21:15:36 -0700\r\n";
  EXPECT_TRUE(has(findings_of(make_header_structure_check(),
                              message_with(date + "Message-ID: <00007e610327$00000908$00007049@mx02.example.test>\r\n")),
                  "ratware_message_id"));
  // Outlook's: a counter and the FILETIME, then random fields; modern Outlook adds a "$" before "@".
  for (const std::string id : {"<000001c266a5$b5ba5600$6401a8c0@MAX>", "<000801c24d47$d0afbcb0$0200a8c0@host>",
                               "<000001d9a2b3$4c5d6e70$e5184b50$@example.test>"})
    EXPECT_EQ(findings_of(make_header_structure_check(), message_with(date + "Message-ID: " + id + "\r\n")), Findings{})
        << id;
}

TEST(HeaderStructure, MimeFieldsWithoutWhatTheyNeedAreFound) {
  const std::string fields = "Date: Fri, 27 Sep 2002 21:15:36 -0700\r\nMessage-ID: <1@example.test>\r\n";
  EXPECT_EQ(findings_of(make_header_structure_check(),
                        message_with(fields + "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n",
                                     "<HTML><BODY>OWN YOUR VERY OWN CASINO</BODY></HTML>\r\n")),
            Findings{"encoding_without_type"});
  EXPECT_EQ(findings_of(make_header_structure_check(),
                        message_with(fields + "Content-Type: text/html; charset=us-ascii\r\n", "<p>Offer</p>\r\n")),
            Findings{"no_mime_version"});
  // A plain-text message needs neither (RFC 2045 §5.2: text/plain is the default).
  EXPECT_EQ(findings_of(make_header_structure_check(), message_with(fields)), Findings{});
  EXPECT_EQ(findings_of(make_header_structure_check(),
                        message_with(fields + "Content-Type: text/plain; charset=us-ascii\r\n")),
            Findings{});
  EXPECT_EQ(findings_of(make_header_structure_check(),
                        message_with(fields + "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n",
                                     "--b\r\nContent-Type: text/plain\r\n\r\nHi\r\n--b--\r\n")),
            Findings{});
}

TEST(HeaderStructure, OutlooksPriorityWithoutItsMimeOleIsFound) {
  const std::string fields = "Date: Fri, 27 Sep 2002 21:15:36 -0700\r\nMessage-ID: <1@example.test>\r\n";
  EXPECT_EQ(findings_of(make_header_structure_check(),
                        message_with(fields + "X-Priority: 3\r\nX-MSMail-Priority: Normal\r\n")),
            Findings{"msmail_without_mimeole"});
  // What Outlook Express and Outlook 2003 write: both fields.
  EXPECT_EQ(findings_of(make_header_structure_check(),
                        message_with(fields + "X-Priority: 3\r\nX-MSMail-Priority: Normal\r\n"
                                              "X-MimeOLE: Produced By Microsoft MimeOLE V6.00.2800.1106\r\n")),
            Findings{});
}

TEST(MimeStructure, HtmlWithoutAnyMarkupIsFoundRealHtmlIsNot) {
  const std::string fields = "Subject: hi\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=iso-8859-1\r\n";
  EXPECT_EQ(findings_of(make_mime_structure_check(),
                        message_with(fields, "GET PAID for it !\r\nLOOKING FOR AMBITIOUS LEADERS IN YOUR AREA\r\n")),
            Findings{"html_without_tags"});
  EXPECT_EQ(findings_of(make_mime_structure_check(),
                        message_with(fields, "<html><body><p>Minutes of the meeting</p></body></html>\r\n")),
            Findings{});
  // Plain text is not expected to hold markup.
  EXPECT_EQ(findings_of(make_mime_structure_check(),
                        message_with("Subject: hi\r\nContent-Type: text/plain\r\n", "No tags here.\r\n")),
            Findings{});
}

TEST(HeaderAddresses, AMadeUpUndisclosedMailboxIsFoundTheEmptyGroupIsNot) {
  auto to = [](const std::string& value) {
    return findings_of(make_header_addresses_check(),
                       "From: alice@example.test\r\nTo: " + value + "\r\nSubject: hi\r\n\r\nHello.\r\n");
  };
  EXPECT_TRUE(has(to("<Undisclosed.Recipients@example.test>"), "fake_undisclosed"));
  EXPECT_TRUE(has(to("bob@example.test, undisclosed-list@example.test"), "fake_undisclosed"));
  EXPECT_FALSE(has(to("undisclosed-recipients:;"), "fake_undisclosed"));
  EXPECT_TRUE(has(to("undisclosed-recipients:;"), "undisclosed_recipients"));
  EXPECT_FALSE(has(to("Bob <bob@example.test>"), "fake_undisclosed"));
}

TEST(Subject, CapitalsAndSumsOfMoneyAreFound) {
  auto subject = [](const std::string& value) {
    return findings_of(make_subject_check(), message_with("Subject: " + value + "\r\n"));
  };
  EXPECT_EQ(subject("LOOK TEN YRS YOUNGER and get paid"), Findings{});
  EXPECT_EQ(subject("LOOK TEN YEARS YOUNGER TODAY!"), Findings{"all_capitals"});
  EXPECT_EQ(subject("Estimated Jackpot $100 Million"), Findings{"money"});
  EXPECT_EQ(subject("=?UTF-8?B?VmVyZGllbmVuIFNpZSDigqwgNTAwMCBpbSBNb25hdA==?="), Findings{"money"});   // € 5000
  EXPECT_EQ(subject("EARN $5,000 A WEEK FROM HOME"), (Findings{"all_capitals", "money"}));
  EXPECT_EQ(subject("ADV: Put your resume back to work"), Findings{"advertisement"});
  EXPECT_EQ(subject("[adv] lower rates"), Findings{"advertisement"});
}

TEST(Subject, OrdinarySubjectsAreNot) {
  auto subject = [](const std::string& value) {
    return findings_of(make_subject_check(), message_with("Subject: " + value + "\r\n"));
  };
  for (const std::string value : {"Re: FW: NASA", "Meeting at 10am about the Q3 budget", "Price in $ or EUR?",
                                  "Advice on the ADVENT calendar", "adversarial examples, [advanced] topics",
                                  "Re: [ILUG] SUSE 8 disks", "ОТЧЁТ ЗА МЕСЯЦ ГОТОВ", "Your invoice INV-2024-05"})
    EXPECT_EQ(subject(value), Findings{}) << value;
}

}  // namespace
}  // namespace gatehouse::checks
