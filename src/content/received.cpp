// Reading the names in a Received trace field (RFC 5321 §4.4); see received.hpp.
#include "content/received.hpp"

#include <boost/asio/ip/address.hpp>

#include <cctype>

#include "common/text.hpp"

namespace gatehouse::content {
namespace {

bool space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Where the keyword (" by ", "from ") starts as a word in `text`, or npos.
std::size_t find_word(const std::string& text, std::string_view word, std::size_t from = 0) {
  for (auto at = text.find(word, from); at != std::string::npos; at = text.find(word, at + 1))
    if (at == 0 || space(text[at - 1])) return at;
  return std::string::npos;
}

// The host name that starts at `start` (up to white space, ';', '(' or ')'), without a final dot.
std::string host_at(const std::string& text, std::size_t start) {
  while (start < text.size() && space(text[start])) ++start;
  auto end = start;
  while (end < text.size() && !space(text[end]) && text[end] != ';' && text[end] != '(' && text[end] != ')') ++end;
  std::string host = text.substr(start, end - start);
  while (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

bool plausible_name(std::string_view name) {
  return name.find('.') != std::string_view::npos && name != "unknown" && name.front() != '[' &&
         name.find_first_not_of("0123456789.") != std::string_view::npos;
}

// The address inside the first "[…]" of the from clause ("[192.0.2.1]", "[IPv6:2001:db8::1]"), else
// qmail's "(192.0.2.1)"; "" when there is none.
std::string client_address(const std::string& clause) {
  if (auto open = clause.find('['); open != std::string::npos) {
    auto close = clause.find(']', open);
    if (close == std::string::npos) return {};
    std::string inside = clause.substr(open + 1, close - open - 1);
    if (inside.starts_with("ipv6:")) inside.erase(0, 5);
    return inside;
  }
  for (auto open = clause.find('('); open != std::string::npos; open = clause.find('(', open + 1)) {
    auto close = clause.find(')', open);
    if (close == std::string::npos) break;
    std::string inside = clause.substr(open + 1, close - open - 1);
    if (!inside.empty() && inside.find_first_not_of("0123456789.") == std::string::npos) return inside;
  }
  return {};
}

// The word after "helo=" (exim) or "(helo " (qmail) in the from clause; "" when neither is there.
std::string helo_keyword(const std::string& clause) {
  for (std::string_view keyword : {"helo=", "(helo "}) {
    if (auto at = clause.find(keyword); at != std::string::npos) return host_at(clause, at + keyword.size());
  }
  return {};
}

}  // namespace

bool is_internal_address(std::string_view text) {
  boost::system::error_code error;
  const auto address = boost::asio::ip::make_address(std::string(text), error);
  if (error) return false;
  if (address.is_loopback() || address.is_unspecified()) return true;
  if (address.is_v6()) {
    const auto v6 = address.to_v6();
    if (v6.is_v4_mapped())
      return is_internal_address(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string());
    return v6.is_link_local() || (v6.to_bytes()[0] & 0xfe) == 0xfc;   // fe80::/10, fc00::/7
  }
  const auto v4 = address.to_v4().to_uint();
  auto within = [v4](std::uint32_t network, int bits) { return (v4 >> (32 - bits)) == (network >> (32 - bits)); };
  return within(0x0A000000, 8) || within(0xAC100000, 12) || within(0xC0A80000, 16) ||   // RFC 1918
         within(0x64400000, 10) || within(0xA9FE0000, 16);                                // RFC 6598, link-local
}

ReceivedNames read_received_names(std::string_view value) {
  const std::string text = to_lower_ascii(value);
  ReceivedNames names;
  const auto by = find_word(text, "by ");
  if (by != std::string::npos) {
    names.by = host_at(text, by + 3);
    if (auto id = find_word(text, "id ", by); id != std::string::npos) {
      // The queue id as written (case kept): the text was only lower-cased, so offsets agree.
      std::string written = host_at(std::string(value), id + 3);
      while (!written.empty() && written.front() == '<') written.erase(0, 1);
      while (!written.empty() && (written.back() == '>' || written.back() == ',')) written.pop_back();
      names.id = std::move(written);
    }
  }
  const auto from = find_word(text, "from ");
  if (from == std::string::npos || (by != std::string::npos && from > by)) return names;
  const std::string clause = text.substr(from + 5, (by == std::string::npos ? text.size() : by) - from - 5);
  names.client_ip = client_address(clause);
  std::string name;
  if (std::string helo = helo_keyword(clause); !helo.empty()) {
    name = host_at(clause, 0);                    // exim, qmail: the first word is the looked-up name
    names.helo = std::move(helo);
  } else if (text.find("(exim") != std::string::npos) {
    name = host_at(clause, 0);                    // exim without "helo=": the HELO was this name
    names.helo = name;
  } else if (auto open = clause.find('('); open != std::string::npos) {
    names.helo = host_at(clause, 0);   // sendmail, Postfix: "HELO (RDNS [ip])", "HELO (user@RDNS [ip])"
    auto start = open + 1;
    auto bracket = clause.find('[', start);
    auto close = clause.find(')', start);
    if (bracket != std::string::npos && (close == std::string::npos || bracket < close)) {
      std::string inside = clause.substr(start, bracket - start);
      if (auto at = inside.rfind('@'); at != std::string::npos) inside.erase(0, at + 1);
      name = host_at(inside, 0);
    }
  }
  if (!name.empty() && plausible_name(name)) names.client_name = name;
  return names;
}

}  // namespace gatehouse::content
