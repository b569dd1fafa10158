// Tests of the Received-chain check (src/checks/received_chain.cpp) and of what the Received-field
// reader (src/content/received.cpp) takes from a field for it: the HELO name, the client's address
// and the writer's queue id. A Message-ID that a relay wrote for a client with a made-up HELO name
// is found; one a relay wrote for a client whose name was confirmed, an internal client's, or the
// author's own is not. A hop naming our host, dates running backwards and a long chain are found.
#include <gtest/gtest.h>

#include "check_test_support.hpp"
#include "content/received.hpp"

namespace gatehouse::checks {
namespace {

using Findings = std::vector<std::string>;

const std::string gateway_config =
    "[server]\nhostname = \"gw.example.test\"\nlisten = [\"127.0.0.1:2525\"]\n";

Findings received_chain(const std::string& received, const std::string& message_id) {
  const std::string message = received + "From: sales@shop.example\r\nTo: bob@example.test\r\nSubject: offer\r\n" +
                              (message_id.empty() ? "" : "Message-ID: " + message_id + "\r\n") +
                              "Date: Fri, 23 Aug 2002 10:24:21 +0100\r\n\r\nBuy now.\r\n";
  return findings_on_message(*make_received_chain_check(), message, nullptr, gateway_config);
}

std::string received(const std::string& from_clause, const std::string& writer) {
  return "Received: " + from_clause + "\r\n\tby " + writer + "; Fri, 23 Aug 2002 10:14:42 +0100\r\n";
}

TEST(ReceivedNames, TheHeloNameTheClientsAddressAndTheQueueId) {
  struct Case {
    const char* field;
    const char* helo;
    const char* client_name;
    const char* client_ip;
    const char* id;   // case kept
  };
  const Case cases[] = {
      {"from totalise.co.uk (m114-mp1.cvx1-c.bri.dial.ntli.net [62.255.12.114]) by relay.example.net (Postfix) "
       "with SMTP id 0BC3770047 for <ilug@linux.ie>; Fri, 23 Aug 2002 10:14:42 +0100 (IST)",
       "totalise.co.uk", "m114-mp1.cvx1-c.bri.dial.ntli.net", "62.255.12.114", "0BC3770047"},
      {"from outsrc-em.com ([166.70.149.104]) by dogma.example (8.11.6) with SMTP id g5KJ8WI08701 for <jm@example.org>",
       "outsrc-em.com", "", "166.70.149.104", "g5KJ8WI08701"},
      {"from [159.134.228.21] (helo=there) by bubble.example.net with smtp (Exim 3.33 #3) id 17auB1-00037o-00",
       "there", "", "159.134.228.21", "17auB1-00037o-00"},
      // exim writes helo= only when it differs from the looked-up name.
      {"from host217-36-23-185.in-addr.btopenworld.com ([217.36.23.185]) by carbon with esmtp (Exim 3.22 #8) "
       "id 17huko-0000JF-00",
       "host217-36-23-185.in-addr.btopenworld.com", "host217-36-23-185.in-addr.btopenworld.com", "217.36.23.185",
       "17huko-0000JF-00"},
      {"from unknown (HELO friend) (8.8.4.4) by mail.example with SMTP", "friend", "", "8.8.4.4", ""},
      {"from mccrary-8bnedo4 ([24.98.25.152]) by sccrmhc01.attbi.com (InterMail vM.4.01) with SMTP id "
       "<20020909172053.OAZA9751.sccrmhc01.attbi.com@mccrary-8bnedo4>; Mon, 9 Sep 2002 17:20:53 +0000",
       "mccrary-8bnedo4", "", "24.98.25.152", "20020909172053.OAZA9751.sccrmhc01.attbi.com@mccrary-8bnedo4"},
      {"from mx.example.org (mx.example.org [IPv6:2001:db8::25]) by mx.example.test", "mx.example.org",
       "mx.example.org", "2001:db8::25", ""},
  };
  for (const auto& c : cases) {
    const auto names = content::read_received_names(c.field);
    EXPECT_EQ(names.helo, c.helo) << c.field;
    EXPECT_EQ(names.client_name, c.client_name) << c.field;
    EXPECT_EQ(names.client_ip, c.client_ip) << c.field;
    EXPECT_EQ(names.id, c.id) << c.field;
  }
}

TEST(InternalAddress, LoopbackPrivateSharedAndLinkLocalButNotPublicOrText) {
  for (const char* inside : {"127.0.0.1", "10.2.181.14", "172.17.132.188", "192.168.1.20", "100.64.0.1",
                             "169.254.1.1", "::1", "fd00::1", "fe80::1", "::ffff:192.168.1.1"})
    EXPECT_TRUE(content::is_internal_address(inside)) << inside;
  for (const char* outside : {"62.255.12.114", "172.32.0.1", "2001:db8::25", "::ffff:8.8.8.8", "", "unknown", "1.2.3"})
    EXPECT_FALSE(content::is_internal_address(outside)) << outside;
}

TEST(ReceivedChain, AMessageIdARelayWroteForAClientWithAMadeUpHeloIsFound) {
  const std::string dial_up = received(
      "from totalise.co.uk (m114-mp1.cvx1-c.bri.dial.ntli.net [62.255.12.114])",
      "relay.example.net (Postfix) with SMTP id 0BC3770047 for <ilug@linux.ie>");
  EXPECT_EQ(received_chain(dial_up, "<20020823091443.0BC3770047@relay.example.net>"), Findings{"relay_message_id"});
  // No reverse DNS at all confirms nothing either.
  EXPECT_EQ(received_chain(received("from mailpound.com (unknown [151.204.51.95])",
                                    "xent.example (Postfix) with SMTP id 3106C2940BB"),
                           "<20020808165237.3106C2940BB@xent.example>"),
            Findings{"relay_message_id"});
  // The id written in Message-ID form, and the hop below a list server's own.
  EXPECT_EQ(received_chain(received("from lists.example.org (lists.example.org [192.0.2.7])",
                                    "mx.example.test (Postfix) with ESMTP id 8A1B2C3D4E") +
                               received("from mccrary-8bnedo4 ([24.98.25.152])",
                                        "mx.isp.example (InterMail) with SMTP id <20020909172053.OAZA9751.mx.isp.example@x>"),
                           "<20020909172053.OAZA9751.mx.isp.example@mccrary-8bnedo4>"),
            Findings{"relay_message_id"});
}

TEST(ReceivedChain, AMessageIdTheAuthorOrARelayForAKnownOrInternalClientWroteIsNot) {
  const std::string dial_up = received(
      "from totalise.co.uk (m114-mp1.cvx1-c.bri.dial.ntli.net [62.255.12.114])",
      "relay.example.net (Postfix) with SMTP id 0BC3770047 for <ilug@linux.ie>");
  // The author's program wrote it (the queue id is not in it), or there is none (header_structure's).
  EXPECT_EQ(received_chain(dial_up, "<3D65FB9B.5060803@totalise.co.uk>"), Findings{});
  EXPECT_EQ(received_chain(dial_up, ""), Findings{});
  // The relay confirmed the client's name: a provider's web mail or a server sending for itself.
  EXPECT_EQ(received_chain(received("from mail05.isp.example (mail05.isp.example [159.134.118.21])",
                                    "lugh.example.org (8.9.3/8.9.3) with SMTP id WAA03958 for <ilug@linux.ie>"),
                           "<200207202147.WAA03958@lugh.example.org>"),
            Findings{});
  EXPECT_EQ(received_chain(received("from host217-36-23-185.in-addr.btopenworld.com ([217.36.23.185])",
                                    "carbon with esmtp (Exim 3.22 #8) id 17huko-0000JF-00"),
                           "<E17huko-0000JF-00@carbon>"),
            Findings{});
  // A local submission: the machine's own user, or a client inside the network.
  EXPECT_EQ(received_chain(received("from laptop (localhost [127.0.0.1])",
                                    "mx.example.org (Postfix) with ESMTP id D7039C44E"),
                           "<20020822205834.D7039C44E@mx.example.org>"),
            Findings{});
  EXPECT_EQ(received_chain(received("from desk7 (desk7.office [10.2.181.14])", "mx.example.org (Postfix) with SMTP id D7039C44E"),
                           "<20020822205834.D7039C44E@mx.example.org>"),
            Findings{});
  // Ids too short to tell a queue id from chance.
  EXPECT_EQ(received_chain(received("from made.up (unknown [151.204.51.95])", "mx.example.org with SMTP id ab12"),
                           "<ab12cd34@mx.example.org>"),
            Findings{});
}

TEST(ReceivedChain, AHopNamingOurHostDatesRunningBackwardsAndALongChainAreFound) {
  EXPECT_EQ(received_chain(received("from laptop (dsl.example.net [192.0.2.9])", "gw.example.test (Postfix) id 1A2B3C4D"), ""),
            Findings{"claims_our_host"});
  const std::string older_later =
      "Received: from a.example (a.example [192.0.2.1]) by b.example; Fri, 23 Aug 2002 10:00:00 +0000\r\n"
      "Received: from c.example (c.example [192.0.2.2]) by a.example; Sun, 25 Aug 2002 10:00:00 +0000\r\n";
  EXPECT_EQ(received_chain(older_later, ""), Findings{"disordered_dates"});
  const std::string in_order =
      "Received: from a.example (a.example [192.0.2.1]) by b.example; Fri, 23 Aug 2002 10:00:00 +0000\r\n"
      "Received: from c.example (c.example [192.0.2.2]) by a.example; Fri, 23 Aug 2002 09:59:00 +0000\r\n";
  EXPECT_EQ(received_chain(in_order, ""), Findings{});
  auto chain_of = [](int hops) {
    std::string chain;
    for (int hop = 0; hop < hops; ++hop)
      chain += "Received: from h" + std::to_string(hop) + ".example by h" + std::to_string(hop + 1) +
               ".example; Fri, 23 Aug 2002 10:00:00 +0000\r\n";
    return chain;
  };
  EXPECT_EQ(received_chain(chain_of(31), ""), Findings{"many_hops"});
  EXPECT_EQ(received_chain(chain_of(30), ""), Findings{});
}

}  // namespace
}  // namespace gatehouse::checks
