// PROXY protocol header parsing, versions 1 and 2 (HAProxy doc/proxy-protocol.txt §2.1, §2.2,
// §2.2.3 for the CRC32C TLV). See proxy_protocol.hpp for the policy.
#include "smtp/proxy_protocol.hpp"

#include <arpa/inet.h>

#include <optional>

namespace gatehouse::smtp {
namespace {

constexpr std::string_view kV1Magic = "PROXY";
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};

// v2 command (low nibble of byte 13).
constexpr unsigned kV2CommandLocal = 0x0;
constexpr unsigned kV2CommandProxy = 0x1;
// v2 TLV type whose value is the CRC32C of the whole header (§2.2.3).
constexpr unsigned char kTlvTypeCrc32c = 0x03;
constexpr std::size_t kTlvHeaderSize = 3;  // type, length (2 bytes, network order)

// The longest textual IPv6 address ("ffff:…:ffff:255.255.255.255"), without the NUL.
constexpr std::size_t kMaxAddressText = INET6_ADDRSTRLEN - 1;

ProxyParseResult need_more() { return {ProxyParseState::need_more, {}, 0, {}}; }

ProxyParseResult invalid(std::string reason) {
  return {ProxyParseState::invalid, {}, 0, std::move(reason)};
}

ProxyParseResult done(ProxyHeader header, std::size_t consumed) {
  return {ProxyParseState::done, std::move(header), consumed, {}};
}

// Bytes from the wire made safe for a log line: printable ASCII kept, the rest as \xNN, cut short.
std::string printable(std::string_view bytes, std::size_t limit = 40) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    auto byte = static_cast<unsigned char>(bytes[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\' && byte != '"') {
      out += static_cast<char>(byte);
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  if (bytes.size() > limit) out += "...";
  return out;
}

std::string quoted(std::string_view bytes) { return "\"" + printable(bytes) + "\""; }

std::string hex_byte(unsigned value) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[(value >> 4) & 0xf] + kHex[value & 0xf];
}

// Whether `text` is `expected` or the start of it.
bool is_start_of(std::string_view text, std::string_view expected) {
  return text.size() <= expected.size() && expected.substr(0, text.size()) == text;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// ---------------------------------------------------------------------------------------------
// Version 1

bool only_address_characters(std::string_view text) {
  for (char c : text) {
    bool hex = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex && c != ':' && c != '.') return false;
  }
  return true;
}

// An address of `family` as inet_pton accepts it (glibc refuses leading zeros in IPv4 parts, as
// §2.1 requires), returned in inet_ntop's form so one address always reads the same.
std::optional<std::string> parse_address(std::string_view text, int family) {
  // The character check also keeps NUL bytes away from the C string given to inet_pton.
  if (text.empty() || text.size() > kMaxAddressText || !only_address_characters(text)) return std::nullopt;
  const std::string c_text(text);
  unsigned char binary[16];
  if (inet_pton(family, c_text.c_str(), binary) != 1) return std::nullopt;
  char normalized[INET6_ADDRSTRLEN];
  if (inet_ntop(family, binary, normalized, sizeof normalized) == nullptr) return std::nullopt;
  return std::string(normalized);
}

// Whether the start of an address seen so far can still become a valid address of `family`.
// Every valid prefix has a valid completion among these (an IPv6 group, "::", the rest of an
// embedded or plain IPv4 address); the unit test checks this against every prefix of many addresses.
bool could_become_address(std::string_view text, int family) {
  static constexpr std::string_view kCompletions[] = {"",     "0",      ":",    "::",     ".0",
                                                      ".0.0", ".0.0.0", "0.0",  "0.0.0",  "0.0.0.0"};
  for (std::string_view completion : kCompletions) {
    std::string candidate(text);
    candidate += completion;
    if (parse_address(candidate, family)) return true;
  }
  return false;
}

constexpr std::size_t kMaxPortDigits = 5;  // "65535"

// A decimal port 0-65535: digits only (no sign), no leading zero (§2.1).
std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > kMaxPortDigits) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

bool could_become_port(std::string_view text) { return text.empty() || parse_port(text).has_value(); }

// Checks a v1 line without its CRLF and fills `header`. When `complete` is false, `line` is only
// the start of a line: its last field may still grow and further fields may follow. Returns the
// reason the line is (or can only become) invalid, or "" when it is fine so far.
std::string check_v1_line(std::string_view line, bool complete, ProxyHeader& header) {
  // "PROXY"
  std::size_t space = line.find(' ');
  const std::string_view magic = line.substr(0, space);
  if (space == std::string_view::npos) {
    if (!complete && is_start_of(magic, kV1Magic)) return {};
    if (magic == kV1Magic) return "PROXY v1: missing protocol";
    return "not a PROXY protocol header: " + quoted(line);
  }
  if (magic != kV1Magic) return "not a PROXY protocol header: " + quoted(line);

  // "TCP4", "TCP6" or "UNKNOWN"
  std::string_view rest = line.substr(space + 1);
  space = rest.find(' ');
  const std::string_view protocol = rest.substr(0, space);
  const bool protocol_is_last = space == std::string_view::npos;
  if (protocol_is_last && !complete) {
    if (is_start_of(protocol, "TCP4") || is_start_of(protocol, "TCP6") || is_start_of(protocol, "UNKNOWN"))
      return {};
    return "PROXY v1: unknown protocol " + quoted(protocol);
  }
  if (protocol == "UNKNOWN") {
    // §2.1: the receiver must ignore anything presented before the CRLF.
    header.local = true;
    return {};
  }
  int family = 0;
  if (protocol == "TCP4") family = AF_INET;
  else if (protocol == "TCP6") family = AF_INET6;
  else return "PROXY v1: unknown protocol " + quoted(protocol);
  if (protocol_is_last) return "PROXY v1: missing source address";
  rest = rest.substr(space + 1);

  // Source address, destination address, source port, destination port, one space apart.
  static constexpr const char* kFieldNames[] = {"source address", "destination address", "source port",
                                                "destination port"};
  constexpr std::size_t kFieldCount = 4;
  for (std::size_t index = 0; index < kFieldCount; ++index) {
    const std::string name = kFieldNames[index];
    const bool is_address = index < 2;
    space = rest.find(' ');
    const std::string_view field = rest.substr(0, space);
    const bool field_is_last = space == std::string_view::npos;

    if (field.empty() && (complete || !field_is_last))
      return "PROXY v1: empty " + name + " (fields are separated by exactly one space)";
    if (field_is_last && !complete) {
      bool possible = is_address ? could_become_address(field, family) : could_become_port(field);
      return possible ? std::string() : "PROXY v1: invalid " + name + " " + quoted(field);
    }

    if (is_address) {
      auto address = parse_address(field, family);
      if (!address)
        return "PROXY v1: invalid " + name + " " + quoted(field) + " for " + std::string(protocol);
      (index == 0 ? header.source_ip : header.destination_ip) = std::move(*address);
    } else {
      auto port = parse_port(field);
      if (!port) return "PROXY v1: invalid " + name + " " + quoted(field) + " (0-65535, no sign or leading zero)";
      (index == 2 ? header.source_port : header.destination_port) = *port;
    }

    const bool is_final_field = index + 1 == kFieldCount;
    if (is_final_field) {
      if (!field_is_last) return "PROXY v1: unexpected text after the destination port";
    } else if (field_is_last) {
      return "PROXY v1: missing " + std::string(kFieldNames[index + 1]);
    } else {
      rest = rest.substr(space + 1);
    }
  }
  return {};
}

ProxyParseResult parse_v1(std::string_view received) {
  ProxyHeader header;
  const std::string_view window = received.substr(0, kProxyV1MaxLine);
  const std::size_t line_end = window.find_first_of("\r\n");
  const std::string too_long =
      "PROXY v1: no CRLF within the first " + std::to_string(kProxyV1MaxLine) + " bytes";

  if (line_end == std::string_view::npos) {
    // The CRLF has not arrived; it must still fit within the limit.
    if (window.size() + 2 > kProxyV1MaxLine) return invalid(too_long);
    std::string reason = check_v1_line(window, false, header);
    return reason.empty() ? need_more() : invalid(std::move(reason));
  }
  // §2.1: a single CR or LF must not be taken for the end of the line.
  if (window[line_end] == '\n') return invalid("PROXY v1: bare LF in the header line");
  if (line_end + 2 > kProxyV1MaxLine) return invalid(too_long);
  const std::string_view line = window.substr(0, line_end);
  if (line_end + 1 == received.size()) {
    // The CR has arrived, the LF not yet: the line itself must already be complete.
    std::string reason = check_v1_line(line, true, header);
    return reason.empty() ? need_more() : invalid(std::move(reason));
  }
  if (received[line_end + 1] != '\n') return invalid("PROXY v1: bare CR in the header line");
  std::string reason = check_v1_line(line, true, header);
  if (!reason.empty()) return invalid(std::move(reason));
  return done(std::move(header), line_end + 2);
}

// ---------------------------------------------------------------------------------------------
// Version 2

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as RFC 4960 Appendix B describes.
std::uint32_t crc32c(std::string_view bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

unsigned byte_at(std::string_view bytes, std::size_t index) { return static_cast<unsigned char>(bytes[index]); }

unsigned read_u16(std::string_view bytes, std::size_t index) {
  return (byte_at(bytes, index) << 8) | byte_at(bytes, index + 1);
}

std::uint32_t read_u32(std::string_view bytes, std::size_t index) {
  return (static_cast<std::uint32_t>(read_u16(bytes, index)) << 16) | read_u16(bytes, index + 2);
}

std::string address_text(int family, std::string_view binary) {
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(family, binary.data(), text, sizeof text) == nullptr) return {};
  return text;
}

// What a v2 family/protocol byte (byte 14) means for us, PROXY command only (§2.2).
struct V2Family {
  bool valid = false;
  bool carries_tcp_addresses = false;  // TCP over IPv4/IPv6: the addresses we use
  int address_family = 0;              // AF_INET / AF_INET6 when carries_tcp_addresses
  std::size_t address_size = 0;        // bytes of addresses and ports before the TLVs
};

V2Family v2_family(unsigned family_protocol) {
  switch (family_protocol) {
    case 0x00: return {true, false, 0, 0};            // UNSPEC: use the real peer address
    case 0x11: return {true, true, AF_INET, 12};      // TCP over IPv4
    case 0x21: return {true, true, AF_INET6, 36};     // TCP over IPv6
    // Valid combinations SMTP has no use for. §2.2: a receiver that does not implement them
    // "automatically falls back to the UNSPEC mode", i.e. keeps the real peer address.
    case 0x12: return {true, false, 0, 12};           // UDP over IPv4
    case 0x22: return {true, false, 0, 36};           // UDP over IPv6
    case 0x31:                                        // UNIX stream
    case 0x32: return {true, false, 0, 216};          // UNIX datagram
    default: return {};                               // "must be rejected as invalid by receivers"
  }
}

ProxyParseResult parse_v2(std::string_view received) {
  const std::string_view signature_so_far = received.substr(0, kV2Signature.size());
  if (signature_so_far != kV2Signature.substr(0, signature_so_far.size()))
    return invalid("not a PROXY protocol header: " + quoted(received.substr(0, kV2Signature.size())));

  // Byte 13: version (high nibble, must be 2) and command (low nibble).
  constexpr std::size_t kVersionCommandIndex = 12;
  if (received.size() <= kVersionCommandIndex) return need_more();
  const unsigned version = byte_at(received, kVersionCommandIndex) >> 4;
  const unsigned command = byte_at(received, kVersionCommandIndex) & 0x0f;
  if (version != 2) return invalid("PROXY v2: unsupported version " + std::to_string(version));
  if (command != kV2CommandLocal && command != kV2CommandProxy)
    return invalid("PROXY v2: unknown command " + std::to_string(command));

  // Byte 14: family and protocol. LOCAL ignores it and the whole address block (§2.2).
  constexpr std::size_t kFamilyIndex = 13;
  if (received.size() <= kFamilyIndex) return need_more();
  V2Family family;
  if (command == kV2CommandProxy) {
    family = v2_family(byte_at(received, kFamilyIndex));
    if (!family.valid)
      return invalid("PROXY v2: invalid address family/protocol " + hex_byte(byte_at(received, kFamilyIndex)));
  }
  // TLVs are checked when we know where the addresses end.
  const bool check_tlvs = command == kV2CommandProxy && family.address_size > 0;

  // Bytes 15-16: the length of the address block that follows.
  constexpr std::size_t kLengthIndex = 14;
  if (received.size() < kProxyV2FixedSize) return need_more();
  const std::size_t block_size = read_u16(received, kLengthIndex);
  if (block_size > kProxyV2MaxAddressBlock)
    return invalid("PROXY v2: address block of " + std::to_string(block_size) + " bytes exceeds our limit of " +
                   std::to_string(kProxyV2MaxAddressBlock));
  if (block_size < family.address_size)
    return invalid("PROXY v2: address block of " + std::to_string(block_size) + " bytes is too short for family " +
                   hex_byte(byte_at(received, kFamilyIndex)) + " (needs " + std::to_string(family.address_size) + ")");
  const std::size_t total_size = kProxyV2FixedSize + block_size;
  const std::string_view header_so_far = received.substr(0, total_size);

  // TLVs after the addresses: each must fit, and together they must fill the block exactly.
  // Checked as far as the bytes have arrived, so an overrun is refused early.
  std::optional<std::size_t> crc_value_offset;
  if (check_tlvs) {
    std::size_t position = kProxyV2FixedSize + family.address_size;
    while (position < total_size) {
      if (total_size - position < kTlvHeaderSize)
        return invalid("PROXY v2: " + std::to_string(total_size - position) +
                       " stray bytes after the TLVs (too short for a TLV)");
      if (header_so_far.size() < position + kTlvHeaderSize) return need_more();
      const unsigned type = byte_at(header_so_far, position);
      const std::size_t length = read_u16(header_so_far, position + 1);
      if (length > total_size - position - kTlvHeaderSize)
        return invalid("PROXY v2: TLV " + hex_byte(type) + " of " + std::to_string(length) +
                       " bytes overruns the address block");
      if (type == kTlvTypeCrc32c) {
        if (length != 4) return invalid("PROXY v2: CRC32C TLV of " + std::to_string(length) + " bytes (must be 4)");
        if (crc_value_offset) return invalid("PROXY v2: more than one CRC32C TLV");
        crc_value_offset = position + kTlvHeaderSize;
      }
      position += kTlvHeaderSize + length;
    }
  }
  if (received.size() < total_size) return need_more();

  if (crc_value_offset) {
    // §2.2.3: the checksum covers the whole header with the checksum field set to zero.
    const std::uint32_t announced = read_u32(header_so_far, *crc_value_offset);
    std::string zeroed(header_so_far);
    zeroed.replace(*crc_value_offset, 4, 4, '\0');
    if (crc32c(zeroed) != announced) return invalid("PROXY v2: CRC32C checksum mismatch");
  }

  ProxyHeader header;
  if (!family.carries_tcp_addresses) {
    header.local = true;
    return done(std::move(header), total_size);
  }
  const std::size_t address_bytes = family.address_family == AF_INET ? 4 : 16;
  const std::string_view addresses = header_so_far.substr(kProxyV2FixedSize, family.address_size);
  header.source_ip = address_text(family.address_family, addresses.substr(0, address_bytes));
  header.destination_ip = address_text(family.address_family, addresses.substr(address_bytes, address_bytes));
  header.source_port = static_cast<std::uint16_t>(read_u16(addresses, 2 * address_bytes));
  header.destination_port = static_cast<std::uint16_t>(read_u16(addresses, 2 * address_bytes + 2));
  return done(std::move(header), total_size);
}

}  // namespace

ProxyParseResult parse_proxy_header(std::string_view received) {
  if (received.empty()) return need_more();
  if (received.front() == kV2Signature.front()) return parse_v2(received);
  if (received.front() == kV1Magic.front()) return parse_v1(received);
  return invalid("not a PROXY protocol header: " + quoted(received));
}

}  // namespace gatehouse::smtp
