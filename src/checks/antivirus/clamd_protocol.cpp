// The clamd INSTREAM protocol without I/O. See clamd_protocol.hpp and clamd(8).
#include "checks/antivirus/clamd_protocol.hpp"

#include <arpa/inet.h>
#include <sys/un.h>
#include <fmt/format.h>

#include <algorithm>

namespace gatehouse::clamd {
namespace {

bool is_ip_address(const std::string& text) {
  unsigned char bytes[16];
  return inet_pton(AF_INET, text.c_str(), bytes) == 1 || inet_pton(AF_INET6, text.c_str(), bytes) == 1;
}

std::optional<std::uint16_t> parse_port(std::string_view digits) {
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

Error address_error(std::string message) {
  Error error;
  error.message = std::move(message);
  return error;
}

constexpr std::string_view address_forms = "expected unix:/path, /path or tcp:IP:PORT";

std::string_view without_suffix(std::string_view text, std::string_view suffix) {
  return text.substr(0, text.size() - suffix.size());
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

Result<ScannerAddress> ScannerAddress::parse(std::string_view text) {
  ScannerAddress address;
  address.text = std::string(text);
  if (text.starts_with("tcp:")) {
    std::string_view rest = text.substr(4);
    std::string_view host, port;
    if (rest.starts_with("[")) {
      const auto close = rest.find(']');
      if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
        return address_error(fmt::format("{}: write IPv6 as tcp:[::1]:3310", address_forms));
      host = rest.substr(1, close - 1);
      port = rest.substr(close + 2);
    } else {
      const auto colon = rest.rfind(':');
      if (colon == std::string_view::npos) return address_error(fmt::format("{}: missing port", address_forms));
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (host.find(':') != std::string_view::npos)
        return address_error(fmt::format("{}: write IPv6 as tcp:[::1]:3310", address_forms));
    }
    address.kind = Kind::tcp;
    address.host = std::string(host);
    if (!is_ip_address(address.host))
      return address_error(fmt::format("{}: the host must be an IP address, got \"{}\"", address_forms, host));
    auto number = parse_port(port);
    if (!number) return address_error(fmt::format("{}: invalid port \"{}\"", address_forms, port));
    address.port = *number;
    return address;
  }
  std::string_view path = text.starts_with("unix:") ? text.substr(5) : text;
  if (path.empty() || path.front() != '/')
    return address_error(fmt::format("{}: a socket path must be absolute", address_forms));
  if (path.size() >= sizeof(sockaddr_un{}.sun_path))
    return address_error(fmt::format("socket path longer than {} bytes", sizeof(sockaddr_un{}.sun_path) - 1));
  address.kind = Kind::unix_socket;
  address.path = std::string(path);
  return address;
}

std::string chunk_length(std::uint32_t length) {
  std::string bytes(4, '\0');
  bytes[0] = static_cast<char>((length >> 24) & 0xff);
  bytes[1] = static_cast<char>((length >> 16) & 0xff);
  bytes[2] = static_cast<char>((length >> 8) & 0xff);
  bytes[3] = static_cast<char>(length & 0xff);
  return bytes;
}

InstreamEncoder::InstreamEncoder(std::string_view data, std::size_t chunk_size)
    : data_(data), chunk_size_(std::clamp<std::size_t>(chunk_size, 1, 0xffffffffu)) {}

InstreamEncoder::Piece InstreamEncoder::next() {
  header_.clear();
  if (!started_) {
    header_ = std::string(instream_command);
    started_ = true;
  }
  const std::size_t length = std::min(chunk_size_, data_.size() - offset_);
  header_ += chunk_length(static_cast<std::uint32_t>(length));
  Piece piece{header_, data_.substr(offset_, length)};
  offset_ += length;
  if (length == 0) finished_ = true;   // the terminator has been handed out
  return piece;
}

std::optional<std::string_view> complete_reply(std::string_view received, std::size_t limit) {
  const auto nul = received.find('\0');
  if (nul != std::string_view::npos) return received.substr(0, nul);
  if (received.size() >= limit) return received;
  return std::nullopt;
}

ScanReply parse_reply(std::string_view reply) {
  while (!reply.empty() && (reply.back() == '\0' || reply.back() == '\n' || reply.back() == '\r')) reply.remove_suffix(1);
  ScanReply result;
  // Replies to a session (IDSESSION) carry a request number first ("1: stream: OK"); INSTREAM on
  // its own connection does not, but a number is harmless to skip.
  if (const auto colon = reply.find(": "); colon != std::string_view::npos && colon > 0 &&
                                            std::all_of(reply.begin(), reply.begin() + colon, [](char c) { return c >= '0' && c <= '9'; })) {
    reply.remove_prefix(colon + 2);
  }
  constexpr std::string_view stream_prefix = "stream: ";
  if (reply == "stream: OK") {
    result.kind = ScanReply::Kind::clean;
    result.failure = ScanReply::Failure::none;
    return result;
  }
  constexpr std::string_view found_suffix = " FOUND";
  if (reply.size() > stream_prefix.size() + found_suffix.size() && reply.starts_with(stream_prefix) &&
      ends_with(reply, found_suffix)) {
    std::string_view name = without_suffix(reply, found_suffix).substr(stream_prefix.size());
    if (!name.empty()) {
      result.kind = ScanReply::Kind::infected;
      result.failure = ScanReply::Failure::none;
      result.text = printable(name);
      return result;
    }
  }
  result.kind = ScanReply::Kind::error;
  if (ends_with(reply, " ERROR")) {
    std::string_view text = without_suffix(reply, " ERROR");
    if (text.starts_with(stream_prefix)) text.remove_prefix(stream_prefix.size());
    result.text = printable(text);
    if (result.text.empty()) result.text = "clamd reported an error";
    return result;
  }
  result.text = reply.empty() ? "empty reply from clamd" : fmt::format("unexpected reply from clamd: \"{}\"", printable(reply));
  return result;
}

std::string printable(std::string_view text, std::size_t limit) {
  std::string result;
  for (char c : text.substr(0, std::min(text.size(), limit))) {
    const auto byte = static_cast<unsigned char>(c);
    result += (byte < 0x20 || byte >= 0x7f) ? '?' : c;
  }
  return result;
}

}  // namespace gatehouse::clamd
