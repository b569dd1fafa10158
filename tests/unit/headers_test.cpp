// Tests of the header-section reader (src/content/headers.hpp): unfolding (RFC 5322 §2.2.3), the
// body offset with CRLF and LF line endings, malformed lines, case-insensitive lookup, mbox
// "From " lines, and RFC 2047 encoded-word decoding for display.
#include "content/headers.hpp"

#include <gtest/gtest.h>

namespace gatehouse::content {
namespace {

TEST(Headers, FieldsAndBodyOffsetWithCrLf) {
  const std::string message = "From: a@example.test\r\nTo: b@example.test\r\nSubject: hello\r\n\r\nbody line\r\n";
  auto h = parse_headers(message);
  ASSERT_EQ(h.fields.size(), 3u);
  EXPECT_EQ(h.fields[0].name, "From");
  EXPECT_EQ(h.fields[0].value, "a@example.test");
  EXPECT_EQ(h.fields[2].name, "Subject");
  EXPECT_EQ(h.fields[2].value, "hello");
  EXPECT_EQ(message.substr(h.body_offset), "body line\r\n");
  EXPECT_FALSE(h.malformed);
}

TEST(Headers, BodyOffsetWithLf) {
  const std::string message = "Subject: x\nX-A: 1\n\nbody\n";
  auto h = parse_headers(message);
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(message.substr(h.body_offset), "body\n");
}

TEST(Headers, NoBody) {
  const std::string message = "Subject: x\r\nX-A: 1\r\n";
  auto h = parse_headers(message);
  EXPECT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(h.body_offset, message.size());
  auto empty = parse_headers("");
  EXPECT_TRUE(empty.fields.empty());
  EXPECT_EQ(empty.body_offset, 0u);
}

TEST(Headers, EmptyHeaderSection) {
  const std::string message = "\r\njust a body\r\n";
  auto h = parse_headers(message);
  EXPECT_TRUE(h.fields.empty());
  EXPECT_EQ(message.substr(h.body_offset), "just a body\r\n");
}

TEST(Headers, FoldedFieldsAreUnfolded) {
  const std::string message =
      "Subject: a very\r\n long\r\n\tsubject\r\nReceived: from x\r\n  by y\r\n\r\nbody";
  auto h = parse_headers(message);
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(h.first("subject"), "a very long\tsubject");
  EXPECT_EQ(h.first("Received"), "from x  by y");
  EXPECT_EQ(message.substr(h.body_offset), "body");
}

TEST(Headers, ValueWhitespaceAndEmptyValues) {
  auto h = parse_headers("Subject:   spaced\r\nX-Empty:\r\nName-Space : v\r\n\r\n");
  EXPECT_EQ(h.first("Subject"), "spaced");
  EXPECT_EQ(h.first("X-Empty"), "");
  EXPECT_EQ(h.first("Name-Space"), "v");
  EXPECT_EQ(h.first("Missing"), std::nullopt);
}

TEST(Headers, MalformedLines) {
  auto no_colon = parse_headers("Subject: ok\r\nthis line has no colon\r\nTo: b@x.test\r\n\r\nbody");
  EXPECT_TRUE(no_colon.malformed);
  EXPECT_EQ(no_colon.count("To"), 1u);
  EXPECT_EQ(no_colon.fields.size(), 2u);

  EXPECT_TRUE(parse_headers(": no name\r\n\r\n").malformed);
  // A continuation line before any field.
  auto leading = parse_headers(" continued\r\nSubject: x\r\n\r\n");
  EXPECT_TRUE(leading.malformed);
  EXPECT_EQ(leading.first("Subject"), "x");
}

TEST(Headers, LookupIsCaseInsensitive) {
  auto h = parse_headers("Received: a\r\nRECEIVED: b\r\nreceived: c\r\nSubject: s\r\n\r\n");
  EXPECT_EQ(h.count("Received"), 3u);
  EXPECT_EQ(h.count("rEcEiVeD"), 3u);
  EXPECT_EQ(h.count("Receive"), 0u);
  EXPECT_EQ(h.first("RECEIVED"), "a");
  EXPECT_EQ(h.first("SUBJECT"), "s");
}

TEST(Headers, MaxFields) {
  std::string message;
  for (int i = 0; i < 50; ++i) message += "X-N: " + std::to_string(i) + "\r\n";
  message += "\r\nbody";
  auto h = parse_headers(message, 10);
  EXPECT_EQ(h.fields.size(), 10u);
  EXPECT_EQ(message.substr(h.body_offset), "body");
}

TEST(Headers, StripMboxFromLine) {
  EXPECT_EQ(strip_mbox_from_line("From sender@example.test Mon Jan  1 00:00:00 2024\nSubject: x\n\n"), "Subject: x\n\n");
  EXPECT_EQ(strip_mbox_from_line("From: a@example.test\r\n"), "From: a@example.test\r\n");
  EXPECT_EQ(strip_mbox_from_line("Subject: From here\r\n"), "Subject: From here\r\n");
  EXPECT_EQ(strip_mbox_from_line("From nobody"), "");
}

// ---------------------------------------------------------------------------------------------
// RFC 2047

TEST(EncodedWords, PlainTextUnchanged) {
  EXPECT_EQ(decode_encoded_words("Hello world"), "Hello world");
  EXPECT_EQ(decode_encoded_words(""), "");
  EXPECT_EQ(decode_encoded_words("a =? b"), "a =? b");
}

TEST(EncodedWords, Base64Utf8) {
  // "Grüße" in UTF-8.
  EXPECT_EQ(decode_encoded_words("=?UTF-8?B?R3LDvMOfZQ==?="), "Gr\xc3\xbc\xc3\x9f" "e");
  EXPECT_EQ(decode_encoded_words("=?utf-8?b?R3LDvMOfZQ==?="), "Gr\xc3\xbc\xc3\x9f" "e");
}

TEST(EncodedWords, QuotedPrintableUtf8) {
  EXPECT_EQ(decode_encoded_words("=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Bern?="), "Gr\xc3\xbc\xc3\x9f" "e aus Bern");
  EXPECT_EQ(decode_encoded_words("=?utf-8?q?a=3Db?="), "a=b");
}

TEST(EncodedWords, Latin1IsConvertedToUtf8) {
  EXPECT_EQ(decode_encoded_words("=?ISO-8859-1?Q?Gr=FC=DFe?="), "Gr\xc3\xbc\xc3\x9f" "e");
  // "Grüße" in ISO-8859-1, base64.
  EXPECT_EQ(decode_encoded_words("=?iso-8859-1?B?R3L83w==?="), "Gr\xc3\xbc\xc3\x9f");
}

TEST(EncodedWords, MixedWithText) {
  EXPECT_EQ(decode_encoded_words("Re: =?UTF-8?Q?caf=C3=A9?= tomorrow"), "Re: caf\xc3\xa9 tomorrow");
}

TEST(EncodedWords, AdjacentWordsAreJoinedWithoutTheSpace) {
  EXPECT_EQ(decode_encoded_words("=?UTF-8?Q?Hello?= =?UTF-8?Q?World?="), "HelloWorld");
  EXPECT_EQ(decode_encoded_words("=?UTF-8?Q?a?=  \t =?UTF-8?B?Yg==?="), "ab");
  // Text between them is kept.
  EXPECT_EQ(decode_encoded_words("=?UTF-8?Q?a?= and =?UTF-8?Q?b?="), "a and b");
  // A space encoded inside a word stays.
  EXPECT_EQ(decode_encoded_words("=?UTF-8?Q?a_?= =?UTF-8?Q?b?="), "a b");
}

TEST(EncodedWords, UnknownEncodingAndUnterminatedWordsAreLeftAlone) {
  EXPECT_EQ(decode_encoded_words("=?UTF-8?X?abc?="), "=?UTF-8?X?abc?=");
  EXPECT_EQ(decode_encoded_words("=?UTF-8?Q?abc"), "=?UTF-8?Q?abc");
}

TEST(EncodedWords, OtherCharsetsAreLeftAsTheyAre) {
  // The header promises that only UTF-8/ASCII/Latin-1 are decoded; decoding KOI8-R bytes into
  // the output would produce invalid UTF-8 in logs and JSON.
  EXPECT_EQ(decode_encoded_words("=?KOI8-R?B?8NLJ18XU?="), "=?KOI8-R?B?8NLJ18XU?=");
  EXPECT_EQ(decode_encoded_words("Subject: =?Shift_JIS?Q?=82=A0?= x"), "Subject: =?Shift_JIS?Q?=82=A0?= x");
  EXPECT_EQ(decode_encoded_words("=?us-ascii?Q?plain_text?="), "plain text");
}

}  // namespace
}  // namespace gatehouse::content
