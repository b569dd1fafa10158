// Tests of the SMTP reply parser used when talking to back-ends (src/smtp/reply_parser.hpp):
// single and multi-line replies (RFC 5321 §4.2.1), enhanced status codes (RFC 2034/3463) split off
// only when their class matches the reply code, malformed lines, partial input, overlong replies.
#include "smtp/reply_parser.hpp"

#include <gtest/gtest.h>

namespace gatehouse::smtp {
namespace {

Reply next_ok(ReplyParser& parser) {
  auto reply = parser.next();
  EXPECT_TRUE(reply.has_value());
  return reply.value_or(Reply{-1, "", "no reply"});
}

TEST(ReplyParser, SingleLine) {
  ReplyParser parser;
  parser.feed("250 2.1.0 Sender ok\r\n");
  Reply r = next_ok(parser);
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.enhanced, "2.1.0");
  EXPECT_EQ(r.text, "Sender ok");
  EXPECT_FALSE(parser.next().has_value());
  EXPECT_TRUE(parser.empty());
}

TEST(ReplyParser, WithoutEnhancedCode) {
  ReplyParser parser;
  parser.feed("220 mx.example.test ESMTP Postfix\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  Reply a = next_ok(parser);
  EXPECT_EQ(a.code, 220);
  EXPECT_EQ(a.enhanced, "");
  EXPECT_EQ(a.text, "mx.example.test ESMTP Postfix");
  Reply b = next_ok(parser);
  EXPECT_EQ(b.code, 354);
  EXPECT_EQ(b.text, "End data with <CR><LF>.<CR><LF>");
}

TEST(ReplyParser, CodeOnlyAndBareLf) {
  ReplyParser parser;
  parser.feed("250\r\n221 bye\n");
  Reply a = next_ok(parser);
  EXPECT_EQ(a.code, 250);
  EXPECT_EQ(a.text, "");
  Reply b = next_ok(parser);
  EXPECT_EQ(b.code, 221);
  EXPECT_EQ(b.text, "bye");
}

TEST(ReplyParser, MultiLine) {
  ReplyParser parser;
  parser.feed("250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n");
  Reply r = next_ok(parser);
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.enhanced, "");
  EXPECT_EQ(r.text, "mx.example.test\nPIPELINING\nSIZE 10240000\nCHUNKING");
  EXPECT_TRUE(parser.empty());
}

TEST(ReplyParser, MultiLineWithEnhancedCodeOnEveryLine) {
  ReplyParser parser;
  parser.feed("550-5.7.1 Message rejected\r\n550-5.7.1 See https://example.test/why\r\n550 5.7.1 Sorry\r\n");
  Reply r = next_ok(parser);
  EXPECT_EQ(r.code, 550);
  EXPECT_EQ(r.enhanced, "5.7.1");
  EXPECT_EQ(r.text, "Message rejected\nSee https://example.test/why\nSorry");
  // Formatting it again gives the same wire text.
  EXPECT_EQ(r.wire(), "550-5.7.1 Message rejected\r\n550-5.7.1 See https://example.test/why\r\n550 5.7.1 Sorry\r\n");
}

TEST(ReplyParser, EnhancedCodeOnlyWhenTheClassMatches) {
  ReplyParser parser;
  parser.feed("550 4.1.1 odd server\r\n250 5.0.0 also odd\r\n451 4.3.0 try later\r\n");
  Reply a = next_ok(parser);
  EXPECT_EQ(a.code, 550);
  EXPECT_EQ(a.enhanced, "");
  EXPECT_EQ(a.text, "4.1.1 odd server");
  Reply b = next_ok(parser);
  EXPECT_EQ(b.enhanced, "");
  EXPECT_EQ(b.text, "5.0.0 also odd");
  Reply c = next_ok(parser);
  EXPECT_EQ(c.code, 451);
  EXPECT_EQ(c.enhanced, "4.3.0");
  EXPECT_EQ(c.text, "try later");
}

TEST(ReplyParser, ThingsThatLookAlmostLikeEnhancedCodes) {
  ReplyParser parser;
  parser.feed("250 2.0 Ok\r\n250 2.0.0. Ok\r\n250 2.x.0 Ok\r\n250 3.0.0 Ok\r\n250 2.1.5\r\n250 2.10.100 long\r\n");
  EXPECT_EQ(next_ok(parser).text, "2.0 Ok");
  EXPECT_EQ(next_ok(parser).text, "2.0.0. Ok");
  EXPECT_EQ(next_ok(parser).text, "2.x.0 Ok");
  EXPECT_EQ(next_ok(parser).text, "3.0.0 Ok");
  Reply code_only = next_ok(parser);
  EXPECT_EQ(code_only.enhanced, "2.1.5");
  EXPECT_EQ(code_only.text, "");
  Reply long_code = next_ok(parser);
  EXPECT_EQ(long_code.enhanced, "2.10.100");
  EXPECT_EQ(long_code.text, "long");
}

TEST(ReplyParser, MalformedLinesGiveCodeZero) {
  for (const char* bad : {"hello\r\n", "25\r\n", "250x Ok\r\n", "2a0 Ok\r\n", "\r\n", " 250 Ok\r\n"}) {
    ReplyParser parser;
    parser.feed(bad);
    parser.feed("250 Ok\r\n");
    Reply r = next_ok(parser);
    EXPECT_EQ(r.code, 0) << bad;
    // The parser carries on with the next line.
    Reply after = next_ok(parser);
    EXPECT_EQ(after.code, 250) << bad;
  }
}

TEST(ReplyParser, MalformedContinuationLine) {
  ReplyParser parser;
  parser.feed("250-first\r\ngarbage\r\n");
  EXPECT_EQ(next_ok(parser).code, 0);
}

TEST(ReplyParser, RepliesSplitAcrossFeeds) {
  ReplyParser parser;
  const std::string wire = "250-mx.example.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n";
  for (std::size_t i = 0; i < wire.size(); ++i) {
    EXPECT_FALSE(parser.next().has_value()) << "reply before its last line, at byte " << i;
    parser.feed(wire.substr(i, 1));
  }
  Reply r = next_ok(parser);
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.text, "mx.example.test\n8BITMIME\nSMTPUTF8");
}

TEST(ReplyParser, CrAndLfInDifferentFeeds) {
  ReplyParser parser;
  parser.feed("354 go ahead\r");
  EXPECT_FALSE(parser.next().has_value());
  parser.feed("\n");
  Reply r = next_ok(parser);
  EXPECT_EQ(r.code, 354);
  EXPECT_EQ(r.text, "go ahead");
}

TEST(ReplyParser, OverlongLine) {
  ReplyParser parser;
  parser.feed("250 " + std::string(ReplyParser::kMaxReplySize, 'x'));
  Reply r = next_ok(parser);
  EXPECT_EQ(r.code, 0);
  // After the bad reply, the parser works again.
  parser.feed("\r\n");  // the end of the overlong line is junk now
  EXPECT_EQ(next_ok(parser).code, 0);
  parser.feed("221 bye\r\n");
  EXPECT_EQ(next_ok(parser).code, 221);
}

TEST(ReplyParser, OverlongMultiLineReply) {
  ReplyParser parser;
  std::string wire;
  while (wire.size() <= ReplyParser::kMaxReplySize) wire += "250-" + std::string(70, 'y') + "\r\n";
  parser.feed(wire);
  auto r = parser.next();
  ASSERT_TRUE(r.has_value()) << "an endless multi-line reply must not be buffered forever";
  EXPECT_EQ(r->code, 0);
}

TEST(ReplyParser, LongButAllowedReply) {
  ReplyParser parser;
  std::string wire;
  for (int i = 0; i < 100; ++i) wire += "250-" + std::string(100, 'z') + "\r\n";
  wire += "250 end\r\n";
  parser.feed(wire);
  Reply r = next_ok(parser);
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.text.size(), 100u * 101u + 3u);
}

}  // namespace
}  // namespace gatehouse::smtp
