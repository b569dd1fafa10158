// Tests of the priority check (src/checks/priority.cpp): a message marking itself urgent in any of
// the four fields mail programs use is found; normal and low priority, and fields that only look
// alike, are not.
#include <gtest/gtest.h>

#include "check_test_support.hpp"

namespace gatehouse::checks {
namespace {

using Findings = std::vector<std::string>;

Findings priority(const std::string& fields) {
  const std::string message = "From: a@example.org\r\nTo: b@example.test\r\nSubject: hello\r\n" + fields +
                              "Content-Type: text/plain\r\n\r\nhello\r\n";
  return findings_on_message(*make_priority_check(), message);
}

TEST(Priority, AMessageMarkedUrgentIsFound) {
  EXPECT_EQ(priority("X-Priority: 1\r\n"), Findings{"high"});
  EXPECT_EQ(priority("X-Priority: 1 (Highest)\r\n"), Findings{"high"});
  EXPECT_EQ(priority("X-Priority: 2 (High)\r\n"), Findings{"high"});
  EXPECT_EQ(priority("X-MSMail-Priority: High\r\n"), Findings{"high"});
  EXPECT_EQ(priority("Importance: high\r\n"), Findings{"high"});
  EXPECT_EQ(priority("Priority: Urgent\r\n"), Findings{"high"});
}

TEST(Priority, NormalOrLowPriorityIsLeftAlone) {
  EXPECT_EQ(priority(""), Findings{});
  EXPECT_EQ(priority("X-Priority: 3 (Normal)\r\nX-MSMail-Priority: Normal\r\n"), Findings{});
  EXPECT_EQ(priority("X-Priority: 5 (Lowest)\r\nImportance: low\r\n"), Findings{});
  EXPECT_EQ(priority("X-Priority: 10\r\n"), Findings{});   // not 1
  EXPECT_EQ(priority("Priority: normal\r\nImportance: Normal\r\n"), Findings{});
}

}  // namespace
}  // namespace gatehouse::checks
