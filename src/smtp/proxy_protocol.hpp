// The HAProxy PROXY protocol header that a load balancer puts in front of the SMTP stream to tell us
// the real client address: version 1 (one text line) and version 2 (binary), as specified in
// HAProxy's doc/proxy-protocol.txt (§2.1, §2.2). Sans-I/O: the listener feeds the bytes received so
// far and gets need_more / done / invalid, so tests and fuzzers drive it without sockets.
//
// Policy (all from the specification unless noted):
// - v1 "PROXY TCP4|TCP6 src dst sport dport\r\n" is validated strictly: single spaces, addresses
//   accepted by inet_pton of the announced family, decimal ports 0-65535 without sign or leading
//   zero, CRLF within the first 107 bytes, no bare CR or LF. "PROXY UNKNOWN…\r\n" → local.
// - v2: the 12-byte signature, version 2, command LOCAL (→ local, the block is skipped) or PROXY.
//   TCP over IPv4/IPv6 gives the addresses; AF_UNSPEC and the valid families we do not use (UDP,
//   UNIX) fall back to local, as §2.2 requires; any other family/protocol byte is invalid. TLVs
//   are skipped but must fit the address block exactly; a PP2_TYPE_CRC32C TLV is verified.
//   The address block may be at most kProxyV2MaxAddressBlock bytes (our limit, not the spec's).
// - need_more is returned only while the bytes so far can still become a valid header, so an
//   invalid header is refused as soon as it is recognisably wrong (§2.1: "abort as soon as possible").
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gatehouse::smtp {

struct ProxyHeader {
  bool local = false;            // v2 LOCAL command / v1 "UNKNOWN": keep the real peer address
  std::string source_ip, destination_ip;  // textual (inet_ntop)
  std::uint16_t source_port = 0, destination_port = 0;

  friend bool operator==(const ProxyHeader&, const ProxyHeader&) = default;
};

enum class ProxyParseState { need_more, done, invalid };

struct ProxyParseResult {
  ProxyParseState state;
  ProxyHeader header;            // valid when done
  std::size_t consumed = 0;      // bytes of the header (the rest of the buffer is SMTP data)
  std::string error;             // when invalid: a clear reason for the log
};

// The longest v1 line, CRLF included (§2.1).
inline constexpr std::size_t kProxyV1MaxLine = 107;
// The fixed part of a v2 header: signature, version/command, family/protocol, length (§2.2).
inline constexpr std::size_t kProxyV2FixedSize = 16;
// Our bound on the v2 address block (addresses + TLVs); the length field would allow 65535.
inline constexpr std::size_t kProxyV2MaxAddressBlock = 2048;

// Parses the start of the bytes received on a connection. Call again with more bytes while need_more.
ProxyParseResult parse_proxy_header(std::string_view received);

}  // namespace gatehouse::smtp
