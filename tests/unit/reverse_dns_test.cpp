// The generic-name heuristics of the reverse-DNS check (checks/reverse_dns.hpp).
#include "checks/reverse_dns.hpp"

#include <gtest/gtest.h>

namespace gatehouse::checks {
namespace {

TEST(GenericName, AddressEmbeddedInAnyOrderAndForm) {
  EXPECT_TRUE(looks_like_generic_name("203-0-113-7.dsl.example.net", "203.0.113.7"));
  EXPECT_TRUE(looks_like_generic_name("7.113.0.203.static.example.net", "203.0.113.7"));
  EXPECT_TRUE(looks_like_generic_name("ip_203_0_113_7.example.net", "203.0.113.7"));
  EXPECT_TRUE(looks_like_generic_name("x20301137.example.net", "203.0.113.7"));
  EXPECT_TRUE(looks_like_generic_name("h203000113007.example.net", "203.0.113.7"));
  EXPECT_TRUE(looks_like_generic_name("cb007107.example.net", "203.0.113.7"));   // hexadecimal
  EXPECT_TRUE(looks_like_generic_name("127-0-0-24.dyn.isp.test", "::ffff:127.0.0.24"));
}

TEST(GenericName, OtherNumbersAreNotTheAddress) {
  EXPECT_FALSE(looks_like_generic_name("mail.example.net", "203.0.113.7"));
  EXPECT_FALSE(looks_like_generic_name("mx1.example.net", "203.0.113.7"));
  EXPECT_FALSE(looks_like_generic_name("203-0-113-8.example.net", "203.0.113.7"));
  EXPECT_FALSE(looks_like_generic_name("1203-0-113-7.example.net", "203.0.113.7"));
  EXPECT_FALSE(looks_like_generic_name("smtp2030.example.net", "203.0.113.7"));
}

TEST(GenericName, PoolWordsInTheHostPart) {
  EXPECT_TRUE(looks_like_generic_name("dynamic.customer.example.net", "192.0.2.1"));
  EXPECT_TRUE(looks_like_generic_name("dsl123.example.net", "192.0.2.1"));
  EXPECT_TRUE(looks_like_generic_name("abc.pool.example.net", "192.0.2.1"));
  EXPECT_TRUE(looks_like_generic_name("host-12.example.net", "192.0.2.1"));
  EXPECT_TRUE(looks_like_generic_name("ip123.example.net", "192.0.2.1"));
  EXPECT_TRUE(looks_like_generic_name("c-ppp.example.net", "192.0.2.1"));
}

TEST(GenericName, MailServerNamesAndProviderDomainsAreNot) {
  EXPECT_FALSE(looks_like_generic_name("mail.pool.example", "192.0.2.1"));        // "pool" is the provider
  EXPECT_FALSE(looks_like_generic_name("smtp.dsl.example", "192.0.2.1"));
  EXPECT_FALSE(looks_like_generic_name("mx.hostmaster.example.net", "192.0.2.1"));
  EXPECT_FALSE(looks_like_generic_name("userver.example.net", "192.0.2.1"));     // "user" followed by a letter
  EXPECT_FALSE(looks_like_generic_name("iphone-gw.example.net", "192.0.2.1"));   // "ip" not numbered
  EXPECT_FALSE(looks_like_generic_name("mail6.example.net", "2001:db8::25"));
}

}  // namespace
}  // namespace gatehouse::checks
