// Tests of the salutation check (src/checks/salutation.cpp): a greeting to nobody in particular is
// found, also disguised (capitals, l33t, HTML); a greeting by name, or "dear" in other senses, is not.
#include <gtest/gtest.h>

#include "check_test_support.hpp"

namespace gatehouse::checks {
namespace {

using Findings = std::vector<std::string>;

Findings salutation(const std::string& body, const std::string& type = "text/plain") {
  const std::string message = "From: a@example.org\r\nTo: b@example.test\r\nSubject: hello\r\nContent-Type: " + type +
                              "; charset=utf-8\r\nMIME-Version: 1.0\r\n\r\n" + body;
  return findings_on_message(*make_salutation_check(), message);
}

TEST(Salutation, AGreetingToNobodyInParticularIsFound) {
  EXPECT_EQ(salutation("Dear Friend,\r\n\r\nI am Barrister James...\r\n"), Findings{"generic"});
  EXPECT_EQ(salutation("DEAR SIR/MADAM,\r\nWe are pleased to inform you\r\n"), Findings{"generic"});
  EXPECT_EQ(salutation("Dear Valued Customer,\r\nYour account\r\n"), Findings{"generic"});
  EXPECT_EQ(salutation("Dear Business Owner: save on your rates\r\n"), Findings{"generic"});
  EXPECT_EQ(salutation("D3ar Fr1end, act now\r\n"), Findings{"generic"});   // l33t undone by the normaliser
  EXPECT_EQ(salutation("<html><body><p>Dear <b>Beneficiary</b>,</p></body></html>\r\n", "text/html"),
            Findings{"generic"});
}

TEST(Salutation, AGreetingByNameOrAnotherDearIsNot) {
  EXPECT_EQ(salutation("Dear Alice,\r\nthe minutes are attached.\r\n"), Findings{});
  EXPECT_EQ(salutation("Dear all, the build is green again.\r\n"), Findings{});
  EXPECT_EQ(salutation("Dear Reader, this week in our newsletter\r\n"), Findings{});
  EXPECT_EQ(salutation("Dear friends, the club meets on Friday\r\n"), Findings{});
  EXPECT_EQ(salutation("It cost us dear. Friendly regards, Bob\r\n"), Findings{});
  EXPECT_EQ(salutation("Oh dear, friendship is hard.\r\n"), Findings{});
  EXPECT_EQ(salutation("Dear Sirius team, thanks\r\n"), Findings{});
}

}  // namespace
}  // namespace gatehouse::checks
