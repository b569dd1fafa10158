// Tests of the PROXY protocol header parser (HAProxy doc/proxy-protocol.txt, v1 §2.1, v2 §2.2):
// valid v1/v2 headers, byte-by-byte feeding, trailing SMTP data left alone, and invalid inputs
// refused with a reason as soon as they are recognisably wrong.
#include "smtp/proxy_protocol.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace gatehouse::smtp {
namespace {

const std::string kSignature("\r\n\r\n\0\r\nQUIT\n", 12);

std::string u16(unsigned value) {
  return {static_cast<char>((value >> 8) & 0xff), static_cast<char>(value & 0xff)};
}

std::string tlv(unsigned char type, const std::string& value) {
  return std::string(1, static_cast<char>(type)) + u16(static_cast<unsigned>(value.size())) + value;
}

// A v2 header: signature, version 2 + command, family/protocol, length, then the address block.
std::string v2(unsigned command, unsigned family_protocol, const std::string& block) {
  return kSignature + static_cast<char>(0x20 | command) + static_cast<char>(family_protocol) +
         u16(static_cast<unsigned>(block.size())) + block;
}

std::string bytes(std::initializer_list<unsigned> values) {
  std::string out;
  for (unsigned value : values) out += static_cast<char>(value);
  return out;
}

const std::string kIpv4Block = bytes({192, 0, 2, 1, 198, 51, 100, 7}) + u16(56324) + u16(25);
const std::string kIpv6Block =
    bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
           0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}) +
    u16(65535) + u16(0);

// Reference CRC-32C for the checksum TLV, written independently of the parser's (byte table).
std::uint32_t reference_crc32c(const std::string& data) {
  static const auto table = [] {
    std::vector<std::uint32_t> t(256);
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = ~0u;
  for (unsigned char byte : data) crc = table[(crc ^ byte) & 0xff] ^ (crc >> 8);
  return ~crc;
}

// Fills in the CRC32C TLV whose value starts at `offset` (zeroed in `header`).
std::string with_crc(std::string header, std::size_t offset) {
  std::uint32_t crc = reference_crc32c(header);
  header[offset] = static_cast<char>(crc >> 24);
  header[offset + 1] = static_cast<char>(crc >> 16);
  header[offset + 2] = static_cast<char>(crc >> 8);
  header[offset + 3] = static_cast<char>(crc);
  return header;
}

ProxyHeader parse_done(const std::string& input, std::size_t expected_consumed) {
  auto result = parse_proxy_header(input);
  EXPECT_EQ(result.state, ProxyParseState::done) << result.error;
  EXPECT_EQ(result.consumed, expected_consumed);
  EXPECT_TRUE(result.error.empty());
  return result.header;
}

std::string parse_invalid(const std::string& input) {
  auto result = parse_proxy_header(input);
  EXPECT_EQ(result.state, ProxyParseState::invalid) << "input: " << testing::PrintToString(input);
  EXPECT_FALSE(result.error.empty());
  EXPECT_EQ(result.consumed, 0u);
  return result.error;
}

// Feeds `input` one byte more at a time, as a listener reading byte by byte would, and returns the
// first result that is not need_more (or the last need_more). Checks that once invalid or done,
// longer inputs give the same answer.
ProxyParseResult parse_growing(const std::string& input) {
  std::optional<ProxyParseResult> first_final;
  ProxyParseResult last{ProxyParseState::need_more, {}, 0, {}};
  for (std::size_t length = 0; length <= input.size(); ++length) {
    last = parse_proxy_header(std::string_view(input).substr(0, length));
    if (first_final) {
      EXPECT_EQ(last.state, first_final->state) << "at length " << length;
      EXPECT_EQ(last.header, first_final->header);
      EXPECT_EQ(last.consumed, first_final->consumed);
    } else if (last.state != ProxyParseState::need_more) {
      first_final = last;
      if (last.state == ProxyParseState::done) {
        EXPECT_EQ(last.consumed, length);
      }
    }
  }
  return first_final ? *first_final : last;
}

// ---------------------------------------------------------------------------------------------
// Version 1

TEST(ProxyProtocolV1, Tcp4) {
  auto header = parse_done("PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\n", 44);
  EXPECT_FALSE(header.local);
  EXPECT_EQ(header.source_ip, "192.0.2.1");
  EXPECT_EQ(header.destination_ip, "198.51.100.7");
  EXPECT_EQ(header.source_port, 56324);
  EXPECT_EQ(header.destination_port, 25);
}

TEST(ProxyProtocolV1, Tcp4Extremes) {
  auto header = parse_done("PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n", 44);
  EXPECT_EQ(header.source_ip, "255.255.255.255");
  EXPECT_EQ(header.destination_ip, "0.0.0.0");
  EXPECT_EQ(header.source_port, 65535);
  EXPECT_EQ(header.destination_port, 0);
}

TEST(ProxyProtocolV1, Tcp6IsNormalised) {
  const std::string line = "PROXY TCP6 2001:DB8:0:0:0:0:0:1 2001:db8::2 1234 587\r\n";
  auto header = parse_done(line, line.size());
  EXPECT_FALSE(header.local);
  EXPECT_EQ(header.source_ip, "2001:db8::1");
  EXPECT_EQ(header.destination_ip, "2001:db8::2");
  EXPECT_EQ(header.source_port, 1234);
  EXPECT_EQ(header.destination_port, 587);
}

TEST(ProxyProtocolV1, Tcp6LongestLine) {
  const std::string full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const std::string line = "PROXY TCP6 " + full + " " + full + " 65535 65535\r\n";
  ASSERT_EQ(line.size(), 104u);  // §2.1
  auto header = parse_done(line, line.size());
  EXPECT_EQ(header.source_ip, full);
}

TEST(ProxyProtocolV1, Tcp6WithEmbeddedIpv4) {
  const std::string line = "PROXY TCP6 ::ffff:192.0.2.1 ::1 25 25\r\n";
  auto header = parse_done(line, line.size());
  EXPECT_EQ(header.source_ip, "::ffff:192.0.2.1");
  EXPECT_EQ(header.destination_ip, "::1");
}

TEST(ProxyProtocolV1, UnknownShortForm) {
  auto header = parse_done("PROXY UNKNOWN\r\n", 15);
  EXPECT_TRUE(header.local);
  EXPECT_TRUE(header.source_ip.empty());
  EXPECT_EQ(header.source_port, 0);
}

TEST(ProxyProtocolV1, UnknownIgnoresTheRestOfTheLine) {
  const std::string full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const std::string line = "PROXY UNKNOWN " + full + " " + full + " 65535 65535\r\n";
  ASSERT_EQ(line.size(), 107u);  // the worst case of §2.1
  EXPECT_TRUE(parse_done(line, line.size()).local);
  EXPECT_TRUE(parse_done("PROXY UNKNOWN whatever the proxy says\r\n", 39).local);
}

TEST(ProxyProtocolV1, TrailingSmtpDataIsNotConsumed) {
  const std::string line = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\n";
  auto result = parse_proxy_header(line + "EHLO client.example\r\nMAIL FROM:<a@b.example>\r\n");
  ASSERT_EQ(result.state, ProxyParseState::done);
  EXPECT_EQ(result.consumed, line.size());
  // A second PROXY line right after the first is SMTP data, not a header.
  result = parse_proxy_header(line + line);
  ASSERT_EQ(result.state, ProxyParseState::done);
  EXPECT_EQ(result.consumed, line.size());
}

// ---------------------------------------------------------------------------------------------
// Version 2

TEST(ProxyProtocolV2, Tcp4) {
  auto header = parse_done(v2(1, 0x11, kIpv4Block), 28);
  EXPECT_FALSE(header.local);
  EXPECT_EQ(header.source_ip, "192.0.2.1");
  EXPECT_EQ(header.destination_ip, "198.51.100.7");
  EXPECT_EQ(header.source_port, 56324);
  EXPECT_EQ(header.destination_port, 25);
}

TEST(ProxyProtocolV2, Tcp6) {
  auto header = parse_done(v2(1, 0x21, kIpv6Block), 52);
  EXPECT_FALSE(header.local);
  EXPECT_EQ(header.source_ip, "2001:db8::1");
  EXPECT_EQ(header.destination_ip, "2001:db8::2");
  EXPECT_EQ(header.source_port, 65535);
  EXPECT_EQ(header.destination_port, 0);
}

TEST(ProxyProtocolV2, LocalIgnoresFamilyAndAddresses) {
  EXPECT_TRUE(parse_done(v2(0, 0x00, ""), 16).local);
  // §2.2: the receiver must not assume zero length for LOCAL, and ignores the family.
  auto header = parse_done(v2(0, 0x11, kIpv4Block), 28);
  EXPECT_TRUE(header.local);
  EXPECT_TRUE(header.source_ip.empty());
  EXPECT_TRUE(parse_done(v2(0, 0xff, "\x01\x02\x03"), 19).local);
}

TEST(ProxyProtocolV2, UnspecAndUnusedFamiliesFallBackToLocal) {
  EXPECT_TRUE(parse_done(v2(1, 0x00, ""), 16).local);
  EXPECT_TRUE(parse_done(v2(1, 0x00, "some ignored bytes"), 34).local);
  EXPECT_TRUE(parse_done(v2(1, 0x12, kIpv4Block), 28).local);                 // UDP over IPv4
  EXPECT_TRUE(parse_done(v2(1, 0x22, kIpv6Block), 52).local);                 // UDP over IPv6
  EXPECT_TRUE(parse_done(v2(1, 0x31, std::string(216, 'u')), 232).local);     // UNIX stream
}

TEST(ProxyProtocolV2, TlvsAreSkipped) {
  const std::string block = kIpv4Block + tlv(0x01, "smtp") + tlv(0x04, "") + tlv(0x05, std::string(128, 'i')) +
                            tlv(0x20, std::string("\x01\0\0\0\0", 5) + tlv(0x21, "TLSv1.3"));
  auto header = parse_done(v2(1, 0x11, block), 16 + block.size());
  EXPECT_EQ(header.source_ip, "192.0.2.1");
  EXPECT_EQ(header.destination_port, 25);
}

TEST(ProxyProtocolV2, Crc32cIsVerified) {
  ASSERT_EQ(reference_crc32c("123456789"), 0xE3069283u);  // the published check value
  const std::string unsigned_header = v2(1, 0x21, kIpv6Block + tlv(0x03, std::string(4, '\0')) + tlv(0x02, "mx"));
  const std::size_t crc_offset = 16 + 36 + 3;
  const std::string good = with_crc(unsigned_header, crc_offset);
  EXPECT_EQ(parse_done(good, good.size()).source_ip, "2001:db8::1");

  std::string corrupted = good;
  corrupted[16] ^= 0x01;  // one bit of the source address
  EXPECT_NE(parse_invalid(corrupted).find("CRC32C"), std::string::npos);
  std::string wrong_crc = good;
  wrong_crc[crc_offset + 3] ^= 0x01;
  EXPECT_NE(parse_invalid(wrong_crc).find("CRC32C"), std::string::npos);
}

TEST(ProxyProtocolV2, TrailingSmtpDataIsNotConsumed) {
  const std::string header = v2(1, 0x11, kIpv4Block + tlv(0x04, "pad"));
  auto result = parse_proxy_header(header + "EHLO client.example\r\n");
  ASSERT_EQ(result.state, ProxyParseState::done);
  EXPECT_EQ(result.consumed, header.size());
}

TEST(ProxyProtocolV2, LargestAllowedBlock) {
  const std::string block = kIpv4Block + tlv(0x04, std::string(kProxyV2MaxAddressBlock - 12 - 3, 'p'));
  ASSERT_EQ(block.size(), kProxyV2MaxAddressBlock);
  EXPECT_EQ(parse_done(v2(1, 0x11, block), 16 + kProxyV2MaxAddressBlock).source_ip, "192.0.2.1");
}

// ---------------------------------------------------------------------------------------------
// Incremental parsing

std::vector<std::string> valid_headers() {
  const std::string full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  return {
      "PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\n",
      "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
      "PROXY TCP6 2001:db8::1 2001:db8::2 1234 587\r\n",
      "PROXY TCP6 " + full + " " + full + " 65535 65535\r\n",
      "PROXY TCP6 ::ffff:192.0.2.1 :: 25 25\r\n",
      "PROXY UNKNOWN\r\n",
      "PROXY UNKNOWN " + full + " " + full + " 65535 65535\r\n",
      v2(1, 0x11, kIpv4Block),
      v2(1, 0x21, kIpv6Block),
      v2(0, 0x00, ""),
      v2(0, 0x11, kIpv4Block),
      v2(1, 0x00, "ignored"),
      v2(1, 0x11, kIpv4Block + tlv(0x01, "smtp") + tlv(0x04, "")),
      with_crc(v2(1, 0x11, kIpv4Block + tlv(0x03, std::string(4, '\0'))), 16 + 12 + 3),
  };
}

TEST(ProxyProtocolIncremental, ByteByByteGivesTheSameResult) {
  for (const std::string& header : valid_headers()) {
    SCOPED_TRACE(testing::PrintToString(header));
    const std::string input = header + "EHLO x\r\n";
    auto at_once = parse_proxy_header(input);
    ASSERT_EQ(at_once.state, ProxyParseState::done) << at_once.error;
    EXPECT_EQ(at_once.consumed, header.size());
    // Every proper prefix of the header asks for more; the header itself is done.
    for (std::size_t length = 0; length < header.size(); ++length) {
      auto partial = parse_proxy_header(std::string_view(header).substr(0, length));
      EXPECT_EQ(partial.state, ProxyParseState::need_more) << "length " << length << ": " << partial.error;
    }
    auto growing = parse_growing(input);
    EXPECT_EQ(growing.state, ProxyParseState::done);
    EXPECT_EQ(growing.header, at_once.header);
    EXPECT_EQ(growing.consumed, at_once.consumed);
  }
}

// The prefix check for addresses must never refuse the start of a valid address: try every prefix
// of many textual forms, including random IPv6 addresses in compressed, full and mixed notation.
TEST(ProxyProtocolIncremental, EveryPrefixOfAValidAddressIsAccepted) {
  std::vector<std::string> v6 = {"::",          "::1",         "1::",         "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
                                 "1:2:3:4:5:6:7:8", "1::8",     "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4",
                                 "::1.2.3.4",   "ABCD:EF01::", "0:0:0:0:0:0:0:0", "1:2:3:4:5::255.255.255.255",
                                 "fe80::1:2:3:4:5", "1:2:3::6:7:8"};
  std::mt19937 random(12345);
  for (int i = 0; i < 300; ++i) {
    std::string text;
    int groups = 8;
    bool embed_ipv4 = random() % 4 == 0;
    if (embed_ipv4) groups = 6;
    int zero_run_start = static_cast<int>(random() % (groups + 1));
    int zero_run = random() % 2 ? static_cast<int>(random() % (groups - zero_run_start + 1)) : 0;
    std::vector<std::string> parts;
    for (int g = 0; g < groups; ++g) {
      char buffer[8];
      snprintf(buffer, sizeof buffer, random() % 2 ? "%x" : "%04x", static_cast<unsigned>(random() % 65536));
      parts.push_back(buffer);
    }
    for (int g = 0; g < groups; ++g) {
      if (zero_run > 0 && g == zero_run_start) {
        text += "::";
        g += zero_run - 1;
        continue;
      }
      if (!text.empty() && text.back() != ':') text += ':';
      text += parts[g];
    }
    if (embed_ipv4) {
      if (!text.empty() && text.back() != ':') text += ':';
      text += std::to_string(random() % 256) + "." + std::to_string(random() % 256) + "." +
              std::to_string(random() % 256) + "." + std::to_string(random() % 256);
    }
    v6.push_back(text);
  }
  for (const std::string& address : v6) {
    const std::string line = "PROXY TCP6 " + address + " ::1 25 25\r\n";
    auto at_once = parse_proxy_header(line);
    if (at_once.state != ProxyParseState::done) continue;  // a generated form inet_pton refuses
    for (std::size_t length = 0; length < line.size(); ++length) {
      auto partial = parse_proxy_header(std::string_view(line).substr(0, length));
      ASSERT_EQ(partial.state, ProxyParseState::need_more) << line << " at " << length << ": " << partial.error;
    }
  }
  for (const std::string address : {"1.2.3.4", "0.0.0.0", "255.255.255.255", "10.200.30.4", "100.1.0.99"}) {
    const std::string line = "PROXY TCP4 " + address + " " + address + " 1 2\r\n";
    for (std::size_t length = 0; length < line.size(); ++length)
      ASSERT_EQ(parse_proxy_header(std::string_view(line).substr(0, length)).state, ProxyParseState::need_more)
          << line << " at " << length;
  }
}

// ---------------------------------------------------------------------------------------------
// Invalid inputs

struct InvalidCase {
  const char* name;
  std::string input;
  const char* reason_contains;
};

std::vector<InvalidCase> invalid_cases() {
  const std::string full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  std::string bad_signature = v2(1, 0x11, kIpv4Block);
  bad_signature[11] = 'X';
  std::string wrong_version = v2(1, 0x11, kIpv4Block);
  wrong_version[12] = 0x11;
  return {
      {"plain SMTP", "EHLO client.example\r\n", "not a PROXY"},
      {"lower-case magic", "proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n", "not a PROXY"},
      {"magic without space", "PROXYTCP4 1.2.3.4 1.2.3.4 1 2\r\n", "not a PROXY"},
      {"bad v2 signature", bad_signature, "not a PROXY"},
      {"v1 too long", "PROXY UNKNOWN " + std::string(100, 'x') + "\r\n", "107"},
      {"v1 CRLF just past 107", "PROXY UNKNOWN " + full + " " + full + " 65535 655355\r\n", "107"},
      {"v1 no CRLF in 107", "PROXY UNKNOWN " + std::string(200, 'x'), "107"},
      {"unknown protocol", "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n", "protocol"},
      {"protocol only", "PROXY TCP4\r\n", "missing source"},
      {"no protocol", "PROXY\r\n", "missing protocol"},
      {"UNKNOWN glued", "PROXY UNKNOWNX\r\n", "protocol"},
      {"bad IPv4", "PROXY TCP4 1.2.3.256 198.51.100.7 1 2\r\n", "source address"},
      {"IPv4 leading zero", "PROXY TCP4 192.0.2.01 198.51.100.7 1 2\r\n", "source address"},
      {"short IPv4", "PROXY TCP4 192.0.2 198.51.100.7 1 2\r\n", "source address"},
      {"IPv6 for TCP4", "PROXY TCP4 ::1 198.51.100.7 1 2\r\n", "source address"},
      {"IPv4 for TCP6", "PROXY TCP6 ::1 198.51.100.7 1 2\r\n", "destination address"},
      {"IPv6 zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "source address"},
      {"hostname", "PROXY TCP4 localhost 198.51.100.7 1 2\r\n", "source address"},
      {"NUL in address", std::string("PROXY TCP4 1.2.3.4\0 1.2.3.4 1 2\r\n", 33), "source address"},
      {"port 70000", "PROXY TCP4 192.0.2.1 198.51.100.7 70000 25\r\n", "source port"},
      {"port 65536", "PROXY TCP4 192.0.2.1 198.51.100.7 25 65536\r\n", "destination port"},
      {"port with +", "PROXY TCP4 192.0.2.1 198.51.100.7 +25 25\r\n", "source port"},
      {"port with -", "PROXY TCP4 192.0.2.1 198.51.100.7 25 -1\r\n", "destination port"},
      {"port leading zero", "PROXY TCP4 192.0.2.1 198.51.100.7 025 25\r\n", "source port"},
      {"port 6 digits", "PROXY TCP4 192.0.2.1 198.51.100.7 000025 25\r\n", "source port"},
      {"double space", "PROXY TCP4 192.0.2.1  198.51.100.7 1 2\r\n", "exactly one space"},
      {"trailing space", "PROXY TCP4 192.0.2.1 198.51.100.7 1 2 \r\n", "after the destination port"},
      {"tab", "PROXY TCP4 192.0.2.1\t198.51.100.7 1 2\r\n", "source address"},
      {"extra field", "PROXY TCP4 192.0.2.1 198.51.100.7 1 2 3\r\n", "after the destination port"},
      {"missing port", "PROXY TCP4 192.0.2.1 198.51.100.7 1\r\n", "missing destination port"},
      {"truncated v1 line", "PROXY TCP4 192.0.2.1\r\n", "missing destination address"},
      {"bare LF", "PROXY TCP4 192.0.2.1 198.51.100.7 1 2\n", "bare LF"},
      {"bare CR", "PROXY TCP4 192.0.2.1 198.51.100.7 1 2\rX", "bare CR"},
      {"bare CR in UNKNOWN", "PROXY UNKNOWN a\rb\r\n", "bare CR"},
      {"v2 wrong version", wrong_version, "version 1"},
      {"v2 unknown command", v2(2, 0x11, kIpv4Block), "command 2"},
      {"v2 unknown family", v2(1, 0x41, kIpv4Block), "family"},
      {"v2 unknown transport", v2(1, 0x13, kIpv4Block), "family"},
      {"v2 block too short for IPv4", v2(1, 0x11, kIpv4Block.substr(0, 11)), "too short"},
      {"v2 block too short for IPv6", v2(1, 0x21, kIpv4Block), "too short"},
      {"v2 block too large", v2(1, 0x11, kIpv4Block + tlv(0x04, std::string(kProxyV2MaxAddressBlock - 12 - 2, 'p'))),
       "limit"},
      {"v2 length 65535", kSignature + "\x21\x11\xff\xff", "limit"},
      {"v2 TLV overrun", v2(1, 0x11, kIpv4Block + tlv(0x01, "smtp").substr(0, 5)), "overruns"},
      {"v2 stray bytes after TLVs", v2(1, 0x11, kIpv4Block + tlv(0x01, "smtp") + "xy"), "stray"},
      {"v2 CRC32C of wrong size", v2(1, 0x11, kIpv4Block + tlv(0x03, "abc")), "must be 4"},
  };
}

TEST(ProxyProtocolInvalid, RefusedWithAReason) {
  for (const auto& test : invalid_cases()) {
    SCOPED_TRACE(test.name);
    std::string reason = parse_invalid(test.input);
    EXPECT_NE(reason.find(test.reason_contains), std::string::npos) << reason;
  }
}

TEST(ProxyProtocolInvalid, RefusedTheSameWayByteByByte) {
  for (const auto& test : invalid_cases()) {
    SCOPED_TRACE(test.name);
    auto result = parse_growing(test.input);
    EXPECT_EQ(result.state, ProxyParseState::invalid);
  }
}

TEST(ProxyProtocolInvalid, RefusedAsSoonAsRecognisablyWrong) {
  EXPECT_EQ(parse_proxy_header("E").state, ProxyParseState::invalid);
  EXPECT_EQ(parse_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 70").state, ProxyParseState::need_more);
  EXPECT_EQ(parse_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 700").state, ProxyParseState::need_more);
  EXPECT_EQ(parse_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 7000").state, ProxyParseState::need_more);
  EXPECT_EQ(parse_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 70000").state, ProxyParseState::invalid);
  EXPECT_EQ(parse_proxy_header("PROXY TCP4 1.2.3.256").state, ProxyParseState::invalid);
  EXPECT_EQ(parse_proxy_header("PROXY TCP5").state, ProxyParseState::invalid);
  EXPECT_EQ(parse_proxy_header(kSignature + "\x31").state, ProxyParseState::invalid);
  // The header announces 2 TLV bytes that can never hold a TLV: no need to wait for them.
  EXPECT_EQ(parse_proxy_header(kSignature + "\x21\x11" + u16(14)).state, ProxyParseState::invalid);
  // A TLV that overruns the block is refused before the rest of the block arrives.
  EXPECT_EQ(parse_proxy_header(kSignature + "\x21\x11" + u16(20) + kIpv4Block + std::string("\x01\x00\x09", 3)).state,
            ProxyParseState::invalid);
}

TEST(ProxyProtocolInvalid, TruncatedHeadersWaitForMore) {
  // The parser cannot know that the connection ended: the listener's timeout or EOF refuses these.
  for (const std::string& header : valid_headers()) {
    for (std::size_t cut : {std::size_t{1}, header.size() / 2, header.size() - 1})
      EXPECT_EQ(parse_proxy_header(std::string_view(header).substr(0, cut)).state, ProxyParseState::need_more);
  }
}

TEST(ProxyProtocolInvalid, ErrorTextIsSafeToLog) {
  std::string reason = parse_invalid(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));  // TLS
  for (char c : reason) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << reason;
  reason = parse_invalid("PROXY TCP4 " + std::string(40, '\x7f') + " 1.2.3.4 1 2\r\n");
  for (char c : reason) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << reason;
}

}  // namespace
}  // namespace gatehouse::smtp
