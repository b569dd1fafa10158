// Reading the names in a Received trace field (RFC 5321 §4.4); see received.hpp.
#include "content/received.hpp"

#include <cctype>
#include <vector>

#include "common/text.hpp"
#include "config/config.hpp"

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
std::string host_at(std::string_view text, std::size_t start) {
  while (start < text.size() && space(text[start])) ++start;
  auto end = start;
  while (end < text.size() && !space(text[end]) && text[end] != ';' && text[end] != '(' && text[end] != ')') ++end;
  std::string host(text.substr(start, end - start));
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
  static const std::vector<Network> internal = [] {
    std::vector<Network> networks;
    for (std::string_view cidr : {"127.0.0.0/8", "0.0.0.0/32", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  // RFC 1918
                                  "100.64.0.0/10", "169.254.0.0/16",                                           // RFC 6598, link-local
                                  "::1/128", "::/128", "fc00::/7", "fe80::/10"})                              // RFC 4193, link-local
      networks.push_back(*Network::parse(cidr));
    return networks;
  }();
  return in_networks(internal, text);   // IPv4-mapped IPv6 addresses are compared as IPv4
}

ReceivedNames read_received_names(std::string_view value) {
  const std::string text = to_lower_ascii(value);
  ReceivedNames names;
  const auto by = find_word(text, "by ");
  if (by != std::string::npos) {
    names.by = host_at(text, by + 3);
    if (auto id = find_word(text, "id ", by); id != std::string::npos) {
      // The queue id as written (case kept): the text was only lower-cased, so offsets agree.
      std::string written = host_at(value, id + 3);
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
