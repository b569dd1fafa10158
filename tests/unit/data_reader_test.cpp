// Tests of the DATA body reader and transparency (src/smtp/data_reader.hpp): end of data only on
// <CRLF>.<CRLF>, dot-unstuffing, bare CR/LF normalisation, limits, and the dot_stuff() /
// DataReader round trip over random messages and random split points; normalize_line_endings()
// for BDAT with line breaks split across chunks.
#include "smtp/data_reader.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace gatehouse::smtp {
namespace {

using namespace std::string_literals;

bool has_bare_newline(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return true;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return true;
  }
  return false;
}

// Feeds `wire` to a reader in pieces cut at `cuts`; returns the bytes consumed in total.
std::size_t feed(DataReader& reader, std::string_view wire, const std::vector<std::size_t>& cuts) {
  std::size_t used = 0, start = 0;
  for (std::size_t cut : cuts) {
    if (cut < start || cut > wire.size()) continue;
    std::size_t n = reader.consume(wire.substr(start, cut - start));
    used += n;
    if (reader.finished()) return used;
    EXPECT_EQ(n, cut - start) << "an unfinished reader consumes everything";
    start = cut;
  }
  used += reader.consume(wire.substr(start));
  return used;
}

TEST(DataReader, StopsRightAfterTheTerminator) {
  DataReader reader(1000);
  std::string wire = "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n";
  std::size_t used = reader.consume(wire);
  EXPECT_TRUE(reader.finished());
  EXPECT_EQ(wire.substr(used), "QUIT\r\n");
  EXPECT_EQ(reader.message(), "Subject: x\r\n\r\nbody\r\n");
  EXPECT_EQ(reader.size(), reader.message().size());
  EXPECT_EQ(reader.bare_newlines(), 0u);
  // Once finished, nothing more is taken.
  EXPECT_EQ(reader.consume("more\r\n"), 0u);
  EXPECT_EQ(reader.message(), "Subject: x\r\n\r\nbody\r\n");
}

TEST(DataReader, EmptyMessageAndImmediateTerminator) {
  DataReader reader(1000);
  EXPECT_EQ(reader.consume(".\r\n"), 3u);
  EXPECT_TRUE(reader.finished());
  EXPECT_EQ(reader.message(), "");
  EXPECT_EQ(reader.size(), 0u);
}

TEST(DataReader, DotUnstuffing) {
  DataReader reader(1000);
  reader.consume("..\r\n...x\r\n.y\r\nz.\r\n .\r\n.\r\n");
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.message(), ".\r\n..x\r\ny\r\nz.\r\n .\r\n");
}

TEST(DataReader, OnlyCrLfDotCrLfTerminates) {
  for (const std::string& fake : {"a\n.\nb\r\n"s, "a\n.\r\nb\r\n"s, "a\r.\r\nb\r\n"s, "a\r\n.\rb\r\n"s,
                                  "a\r.\nb\r\n"s, "a\r.\rb\r\n"s, "a\r\n\0.\r\nb\r\n"s, "a\r\n.\r\r\nb\r\n"s,
                                  "a\r\n. \r\nb\r\n"s, "a\r\n.\n"s}) {
    DataReader reader(1000);
    std::size_t used = reader.consume(fake);
    EXPECT_FALSE(reader.finished()) << testing::PrintToString(fake);
    EXPECT_EQ(used, fake.size());
    EXPECT_FALSE(has_bare_newline(reader.message())) << testing::PrintToString(reader.message());
  }
}

TEST(DataReader, BareLineBreaksAreNormalisedAndCounted) {
  DataReader reader(1000);
  reader.consume("one\ntwo\rthree\r\n\n\r\r\n.\r\n");
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.message(), "one\r\ntwo\r\nthree\r\n\r\n\r\n\r\n");
  EXPECT_EQ(reader.bare_newlines(), 4u);
}

TEST(DataReader, OversizeKeepsCountingButStopsStoring) {
  DataReader reader(10);
  std::string line = "0123456789\r\n";
  reader.consume(line + line + line);
  EXPECT_FALSE(reader.finished());
  EXPECT_TRUE(reader.oversize());
  reader.consume(".\r\n");
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.size(), 36u);
  // An oversize message is refused whole: nothing of it is kept (and no half line ending).
  EXPECT_EQ(reader.message(), "");
}

TEST(DataReader, ExactlyTheMaximumIsNotOversize) {
  DataReader reader(12);
  reader.consume("0123456789\r\n.\r\n");
  ASSERT_TRUE(reader.finished());
  EXPECT_FALSE(reader.oversize());
  EXPECT_EQ(reader.message(), "0123456789\r\n");
}

TEST(DataReader, LongestLine) {
  DataReader reader(1000);
  reader.consume("ab\r\n" + std::string(77, 'x') + "\r\n..dot\r\n.\r\n");
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.longest_line(), 77u);
}

TEST(DataReader, LongLineWithoutBreaksIsCounted) {
  DataReader reader(100000);
  std::string line(5000, 'q');
  for (std::size_t i = 0; i < line.size(); i += 7) reader.consume(std::string_view(line).substr(i, 7));
  reader.consume("\r\n.\r\n");
  ASSERT_TRUE(reader.finished());
  EXPECT_EQ(reader.longest_line(), 5000u);
  EXPECT_EQ(reader.message(), line + "\r\n");
}

TEST(DotStuff, Basics) {
  EXPECT_EQ(dot_stuff(""), ".\r\n");
  EXPECT_EQ(dot_stuff("a\r\n"), "a\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a"), "a\r\n.\r\n");
  EXPECT_EQ(dot_stuff(".\r\n"), "..\r\n.\r\n");
  EXPECT_EQ(dot_stuff("x\r\n.y\r\nz.\r\n..\r\n"), "x\r\n..y\r\nz.\r\n...\r\n.\r\n");
}

// Random messages: dot_stuff() then DataReader gives the original back, wherever the input is cut.
TEST(DotStuff, RandomRoundTripAnySplit) {
  std::mt19937 rng(20240611);
  const std::string alphabet = ".. .a\tZ\x80\xff-";
  auto random_message = [&] {
    std::string m;
    std::size_t lines = rng() % 12;
    for (std::size_t l = 0; l < lines; ++l) {
      std::size_t len = rng() % 6;
      if (rng() % 5 == 0) len = rng() % 300;
      for (std::size_t i = 0; i < len; ++i) m += alphabet[rng() % alphabet.size()];
      m += "\r\n";
    }
    return m;
  };
  for (int round = 0; round < 3000; ++round) {
    std::string message = random_message();
    std::string wire = dot_stuff(message);
    ASSERT_GE(wire.size(), 3u);
    ASSERT_EQ(wire.substr(wire.size() - 3), ".\r\n");
    std::vector<std::size_t> cuts;
    std::size_t ncuts = rng() % 5;
    for (std::size_t i = 0; i < ncuts; ++i) cuts.push_back(rng() % (wire.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    DataReader reader(1 << 20);
    std::size_t used = feed(reader, wire + "NEXT\r\n", cuts);
    ASSERT_TRUE(reader.finished()) << testing::PrintToString(wire);
    EXPECT_EQ(used, wire.size());
    ASSERT_EQ(reader.message(), message) << testing::PrintToString(wire);
    EXPECT_EQ(reader.bare_newlines(), 0u);
    EXPECT_EQ(reader.size(), message.size());
  }
}

// Every split of one tricky input gives the same message.
TEST(DataReader, EverySplitGivesTheSameResult) {
  const std::string wire = "..a\r\n.\r\rb\n.\nc\r.\r\n\r\n.\r\r\n.x\r\n.\r\nTAIL";
  DataReader whole(1000);
  std::size_t whole_used = whole.consume(wire);
  ASSERT_TRUE(whole.finished());
  ASSERT_EQ(wire.substr(whole_used), "TAIL");
  for (std::size_t i = 0; i <= wire.size(); ++i) {
    for (std::size_t j = i; j <= wire.size(); j += 3) {
      DataReader reader(1000);
      std::size_t used = feed(reader, wire, {i, j});
      ASSERT_TRUE(reader.finished()) << i << "," << j;
      EXPECT_EQ(used, whole_used) << i << "," << j;
      EXPECT_EQ(reader.message(), whole.message()) << i << "," << j;
      EXPECT_EQ(reader.bare_newlines(), whole.bare_newlines()) << i << "," << j;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// normalize_line_endings (BDAT)

TEST(NormalizeLineEndings, CrLfSplitAcrossChunksIsOneBreak) {
  std::string out;
  bool pending = false;
  EXPECT_EQ(normalize_line_endings("abc\r", out, pending, false), 0u);
  EXPECT_TRUE(pending);
  EXPECT_EQ(normalize_line_endings("\ndef", out, pending, false), 0u);
  EXPECT_EQ(normalize_line_endings("", out, pending, true), 0u);
  EXPECT_EQ(out, "abc\r\ndef");
}

TEST(NormalizeLineEndings, CrAtEndFollowedByOtherTextIsBare) {
  std::string out;
  bool pending = false;
  normalize_line_endings("abc\r", out, pending, false);
  EXPECT_EQ(normalize_line_endings("def", out, pending, false), 1u);
  EXPECT_EQ(out, "abc\r\ndef");
}

TEST(NormalizeLineEndings, CrAtTheEndOfTheLastChunk) {
  std::string out;
  bool pending = false;
  EXPECT_EQ(normalize_line_endings("abc\r", out, pending, true), 1u);
  EXPECT_FALSE(pending);
  EXPECT_EQ(out, "abc\r\n");
}

TEST(NormalizeLineEndings, BareBreaksAreFixedAndCounted) {
  std::string out;
  bool pending = false;
  EXPECT_EQ(normalize_line_endings("a\nb\rc\r\r\nd\n\n", out, pending, true), 5u);
  EXPECT_EQ(out, "a\r\nb\r\nc\r\n\r\nd\r\n\r\n");
  EXPECT_FALSE(has_bare_newline(out));
}

TEST(NormalizeLineEndings, AnyChunkingGivesTheSameResult) {
  const std::string content = "x\r\n\r\ry\n\rz\r\n.\r\n\r";
  std::string want;
  bool pending = false;
  auto want_fixed = normalize_line_endings(content, want, pending, true);
  for (std::size_t i = 0; i <= content.size(); ++i) {
    for (std::size_t j = i; j <= content.size(); ++j) {
      std::string out;
      bool p = false;
      std::uint64_t fixed = normalize_line_endings(std::string_view(content).substr(0, i), out, p, false);
      fixed += normalize_line_endings(std::string_view(content).substr(i, j - i), out, p, false);
      fixed += normalize_line_endings(std::string_view(content).substr(j), out, p, true);
      EXPECT_EQ(out, want) << i << "," << j;
      EXPECT_EQ(fixed, want_fixed) << i << "," << j;
    }
  }
  EXPECT_FALSE(has_bare_newline(want));
}

}  // namespace
}  // namespace gatehouse::smtp
