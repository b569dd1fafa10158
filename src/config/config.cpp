// Reads the TOML configuration file into the typed Config (config.hpp) and validates all of it at
// start: wrong types, bad values, unknown keys (typos must not silently do nothing) and missing
// required settings are reported together, each as "FILE:LINE: key: problem", sorted by line.
// Also the small parsers the rest of gatehouse shares: networks (CIDR), listen addresses and
// back-end addresses.
#include "config/config.hpp"

#include "checks/antivirus/clamd_protocol.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "content/ocr.hpp"
#include "content/watch_words.hpp"
#include "common/text.hpp"

namespace gatehouse {
namespace {

// ---------------------------------------------------------------------------------------------
// Text helpers

// Errors here carry only a message (Error's SMTP codes do not apply to configuration).
Error config_error(std::string message) {
  Error error;
  error.message = std::move(message);
  return error;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Parses a run of decimal digits (no sign, no spaces) that must not exceed `maximum`.
std::optional<std::uint64_t> parse_decimal(std::string_view digits, std::uint64_t maximum) {
  if (digits.empty() || digits.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : digits) {
    if (!is_digit(c)) return std::nullopt;
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (maximum - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<std::uint16_t> parse_port(std::string_view digits) {
  auto port = parse_decimal(digits, 65535);
  if (!port || *port == 0) return std::nullopt;
  return static_cast<std::uint16_t>(*port);
}

// A host name made of letter-digit-hyphen labels (RFC 1123), optionally with one trailing dot.
bool is_host_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  std::size_t label_start = 0;
  while (label_start <= name.size()) {
    std::size_t label_end = name.find('.', label_start);
    if (label_end == std::string_view::npos) label_end = name.size();
    const std::string_view label = name.substr(label_start, label_end - label_start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!letter && !is_digit(c) && c != '-') return false;
    }
    label_start = label_end + 1;
  }
  return true;
}

// A mail domain as configured: a host name with at least two labels. Returns it lower-cased and
// without a trailing dot, or nullopt.
std::optional<std::string> normalize_domain(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (!is_host_name(name) || name.find('.') == std::string_view::npos) return std::nullopt;
  return to_lower_ascii(name);
}

// ---------------------------------------------------------------------------------------------
// IP addresses

struct IpAddress {
  std::uint8_t family = 4;  // 4 or 6
  std::uint8_t bytes[16] = {};
};

bool is_ipv4_mapped(const std::uint8_t* bytes) {
  static constexpr std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes, prefix, sizeof prefix) == 0;
}

// Parses a textual IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (::ffff:192.0.2.1) become
// IPv4, so that they match IPv4 networks. With `convert_mapped` false they stay IPv6.
std::optional<IpAddress> parse_ip(std::string_view text, bool convert_mapped = true) {
  if (text.empty() || text.size() > 64) return std::nullopt;  // longest IPv6 text plus a zone name
  std::string copy(text);
  // A zone (fe80::1%eth0) names an interface; the address is what is compared.
  if (const auto percent = copy.find('%'); percent != std::string::npos) copy.resize(percent);
  IpAddress address;
  if (inet_pton(AF_INET, copy.c_str(), address.bytes) == 1) {
    address.family = 4;
    return address;
  }
  if (inet_pton(AF_INET6, copy.c_str(), address.bytes) == 1) {
    address.family = 6;
    if (convert_mapped && is_ipv4_mapped(address.bytes)) {
      std::memmove(address.bytes, address.bytes + 12, 4);
      std::memset(address.bytes + 4, 0, 12);
      address.family = 4;
    }
    return address;
  }
  return std::nullopt;
}

bool prefix_matches(const std::uint8_t* network, const std::uint8_t* address, int prefix) {
  const int whole_bytes = prefix / 8;
  if (std::memcmp(network, address, static_cast<std::size_t>(whole_bytes)) != 0) return false;
  const int remaining_bits = prefix % 8;
  if (remaining_bits == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - remaining_bits));
  return (network[whole_bytes] & mask) == (address[whole_bytes] & mask);
}

// Clears every bit after `prefix`; returns true if any was set.
bool clear_host_bits(std::uint8_t* bytes, int length_bytes, int prefix) {
  bool any_set = false;
  for (int bit = prefix; bit < length_bytes * 8; ++bit) {
    const auto mask = static_cast<std::uint8_t>(0x80 >> (bit % 8));
    if (bytes[bit / 8] & mask) {
      any_set = true;
      bytes[bit / 8] &= static_cast<std::uint8_t>(~mask);
    }
  }
  return any_set;
}

std::string format_ip(const std::uint8_t* bytes, int family) {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes, buffer, sizeof buffer);
  return buffer;
}

// ---------------------------------------------------------------------------------------------
// "host:port" forms

struct HostAndPort {
  std::string host;                  // without brackets
  std::optional<std::uint16_t> port;
};

// Splits "host:port", "[v6]:port", "host" or "[v6]". A port that is present must be valid; bare
// IPv6 without brackets is accepted only when `allow_bare_ipv6` (then it has no port).
Result<HostAndPort> split_host_port(std::string_view text, bool allow_bare_ipv6) {
  HostAndPort result;
  std::string_view port_text;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return config_error("missing ']'");
    result.host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return config_error("unexpected text after ']'");
      port_text = rest.substr(1);
      has_port = true;
    }
    if (!parse_ip(result.host, false) || result.host.find(':') == std::string::npos) {
      return config_error("brackets must enclose an IPv6 address");
    }
  } else {
    const auto first_colon = text.find(':');
    if (first_colon != std::string_view::npos && text.find(':', first_colon + 1) != std::string_view::npos) {
      // More than one colon: an IPv6 address without brackets.
      if (allow_bare_ipv6 && parse_ip(text, false)) {
        result.host = std::string(text);
        return result;
      }
      return config_error("write IPv6 addresses in brackets, like [::1]:25");
    }
    if (first_colon == std::string_view::npos) {
      result.host = std::string(text);
    } else {
      result.host = std::string(text.substr(0, first_colon));
      port_text = text.substr(first_colon + 1);
      has_port = true;
    }
  }
  if (result.host.empty()) return config_error("missing host");
  if (has_port) {
    result.port = parse_port(port_text);
    if (!result.port) return config_error(fmt::format("invalid port \"{}\", expected 1-65535", port_text));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Sizes and durations

// "50M", "512K", "1G", "1048576", "10MB", "10MiB" (1024-based); case-insensitive suffix.
std::optional<std::uint64_t> parse_size_text(std::string_view text) {
  std::size_t digits_end = 0;
  while (digits_end < text.size() && is_digit(text[digits_end])) ++digits_end;
  const std::string unit = to_lower_ascii(text.substr(digits_end));
  std::uint64_t multiplier = 1;
  if (unit.empty() || unit == "b") {
    multiplier = 1;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    multiplier = 1024;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    multiplier = 1024 * 1024;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    multiplier = 1024 * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  const auto number = parse_decimal(text.substr(0, digits_end), std::numeric_limits<std::uint64_t>::max() / multiplier);
  if (!number) return std::nullopt;
  return *number * multiplier;
}

// "300s", "5m", "1h", "5d", "500ms", "1h30m", or bare digits meaning seconds.
std::optional<std::chrono::milliseconds> parse_duration_text(std::string_view text) {
  if (text.empty()) return std::nullopt;
  constexpr std::uint64_t limit_ms = std::uint64_t{1} << 53;  // far beyond any sensible setting
  std::uint64_t total_ms = 0;
  std::size_t position = 0;
  while (position < text.size()) {
    const std::size_t digits_start = position;
    while (position < text.size() && is_digit(text[position])) ++position;
    const auto number = parse_decimal(text.substr(digits_start, position - digits_start), limit_ms);
    if (!number) return std::nullopt;
    const std::size_t unit_start = position;
    while (position < text.size() && !is_digit(text[position])) ++position;
    const std::string unit = to_lower_ascii(text.substr(unit_start, position - unit_start));
    std::uint64_t unit_ms = 0;
    if (unit == "ms") unit_ms = 1;
    else if (unit == "s" || (unit.empty() && digits_start == 0 && position == text.size())) unit_ms = 1000;
    else if (unit == "m") unit_ms = 60 * 1000;
    else if (unit == "h") unit_ms = 3600 * 1000;
    else if (unit == "d") unit_ms = 86400 * 1000;
    else return std::nullopt;
    if (*number > (limit_ms - total_ms) / unit_ms) return std::nullopt;
    total_ms += *number * unit_ms;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(total_ms));
}

// ---------------------------------------------------------------------------------------------
// Walking the TOML document

int line_of(const toml::node& node) { return static_cast<int>(node.source().begin.line); }

std::string quote_for_message(std::string_view text) {
  std::string result = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      result += '\\';
      result += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      result += fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
    } else {
      result += c;
    }
  }
  return result + "\"";
}

// How a value looks in an error message: strings quoted, numbers as written, others by kind.
std::string describe(const toml::node& node) {
  if (auto text = node.as_string()) return quote_for_message(text->get());
  if (auto integer = node.as_integer()) return std::to_string(integer->get());
  if (auto number = node.as_floating_point()) return fmt::format("{}", number->get());
  if (auto boolean = node.as_boolean()) return boolean->get() ? "true" : "false";
  if (node.is_array()) return "an array";
  if (node.is_table()) return "a table";
  return "a date/time";
}

// Collects problems as "FILE:LINE: key: problem".
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void add(int line, std::string_view key, std::string_view problem) {
    problems_.push_back({std::max(line, 1), fmt::format("{}:{}: {}: {}", file_, std::max(line, 1), key, problem)});
  }
  bool empty() const { return problems_.empty(); }
  // All problems, one a line, in file order.
  std::string message() const {
    auto sorted = problems_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.line < b.line; });
    std::string result;
    for (const auto& problem : sorted) {
      if (!result.empty()) result += '\n';
      result += problem.text;
    }
    return result;
  }

 private:
  struct Problem {
    int line;
    std::string text;
  };
  std::string file_;
  std::vector<Problem> problems_;
};

// One TOML table being read: typed accessors that report problems under the full key name, and a
// record of the keys read so that the rest can be reported as unknown.
class Section {
 public:
  Section(const toml::table* table, std::string path, int line, Diagnostics& diagnostics)
      : table_(table), path_(std::move(path)), line_(line), diagnostics_(diagnostics) {}

  bool present() const { return table_ != nullptr; }
  int line() const { return line_; }
  std::string key_name(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }
  void report(int line, std::string_view key, std::string_view problem) {
    diagnostics_.add(line, key_name(key), problem);
  }
  void report(const toml::node& node, std::string_view key, std::string_view problem) {
    report(line_of(node), key, problem);
  }
  Diagnostics& diagnostics() { return diagnostics_; }

  // The value of `key` or nullptr when absent; either way the key counts as known.
  const toml::node* take(std::string_view key) {
    known_keys_.insert(std::string(key));
    return table_ ? table_->get(key) : nullptr;
  }

  void report_unknown_keys() {
    if (!table_) return;
    for (auto&& [key, node] : *table_) {
      if (known_keys_.count(std::string(key.str())) == 0) {
        const int line = key.source().begin.line ? static_cast<int>(key.source().begin.line) : line_of(node);
        report(line, key.str(), "unknown key");
      }
    }
  }

  // A sub-table such as [server]; absent tables read as empty ones.
  Section table(std::string_view key) {
    const toml::node* node = take(key);
    if (node && !node->is_table()) {
      report(*node, key, fmt::format("expected a table ([{}]), got {}", key_name(key), describe(*node)));
      node = nullptr;
    }
    const int line = node ? line_of(*node) : line_;
    return Section(node ? node->as_table() : nullptr, key_name(key), line, diagnostics_);
  }

  // An array of tables such as [[domain]].
  std::vector<Section> table_array(std::string_view key) {
    std::vector<Section> sections;
    const toml::node* node = take(key);
    if (!node) return sections;
    const toml::array* array = node->as_array();
    if (!array) {
      report(*node, key, fmt::format("expected an array of tables ([[{}]]), got {}", key_name(key), describe(*node)));
      return sections;
    }
    for (std::size_t index = 0; index < array->size(); ++index) {
      const toml::node& element = *array->get(index);
      const std::string element_path = fmt::format("{}[{}]", key_name(key), index);
      if (!element.is_table()) {
        diagnostics_.add(line_of(element), element_path, fmt::format("expected a table, got {}", describe(element)));
        continue;
      }
      sections.emplace_back(element.as_table(), element_path, line_of(element), diagnostics_);
    }
    return sections;
  }

  // Each read_* leaves `out` unchanged when the key is absent or its value is wrong, and returns
  // the node when a valid value was stored.
  const toml::node* read_string(std::string_view key, std::string& out) {
    const toml::node* node = take(key);
    if (!node) return nullptr;
    if (auto text = node->as_string()) {
      out = text->get();
      return node;
    }
    report(*node, key, fmt::format("expected a string, got {}", describe(*node)));
    return nullptr;
  }

  const toml::node* read_bool(std::string_view key, bool& out) {
    const toml::node* node = take(key);
    if (!node) return nullptr;
    if (auto boolean = node->as_boolean()) {
      out = boolean->get();
      return node;
    }
    report(*node, key, fmt::format("expected true or false, got {}", describe(*node)));
    return nullptr;
  }

  template <class Integer>
  const toml::node* read_integer(std::string_view key, Integer& out, std::int64_t minimum, std::int64_t maximum) {
    const toml::node* node = take(key);
    if (!node) return nullptr;
    auto integer = node->as_integer();
    if (!integer) {
      report(*node, key, fmt::format("expected an integer, got {}", describe(*node)));
      return nullptr;
    }
    const std::int64_t value = integer->get();
    if (value < minimum || value > maximum) {
      report(*node, key, range_problem(minimum, maximum, std::to_string(value)));
      return nullptr;
    }
    out = static_cast<Integer>(value);
    return node;
  }

  const toml::node* read_number(std::string_view key, double& out) {
    const toml::node* node = take(key);
    if (!node) return nullptr;
    if (auto number = node->as_floating_point()) {
      out = number->get();
    } else if (auto integer = node->as_integer()) {
      out = static_cast<double>(integer->get());
    } else {
      report(*node, key, fmt::format("expected a number, got {}", describe(*node)));
      return nullptr;
    }
    if (!std::isfinite(out)) {
      report(*node, key, fmt::format("expected a finite number, got {}", describe(*node)));
      return nullptr;
    }
    return node;
  }

  // Integer bytes or a string with K/M/G suffix.
  const toml::node* read_size(std::string_view key, std::size_t& out, std::uint64_t minimum) {
    const toml::node* node = take(key);
    if (!node) return nullptr;
    std::optional<std::uint64_t> size;
    if (auto integer = node->as_integer(); integer && integer->get() >= 0) {
      size = static_cast<std::uint64_t>(integer->get());
    } else if (auto text = node->as_string()) {
      size = parse_size_text(text->get());
    }
    if (!size || *size > std::numeric_limits<std::size_t>::max()) {
      report(*node, key, fmt::format("expected a size like 50M, got {}", describe(*node)));
      return nullptr;
    }
    if (*size < minimum) {
      report(*node, key, fmt::format("must be at least {} bytes, got {}", minimum, describe(*node)));
      return nullptr;
    }
    out = static_cast<std::size_t>(*size);
    return node;
  }

  // A duration of a node (integer seconds or a string with suffix), reported under `key`.
  std::optional<std::chrono::milliseconds> duration_of(const toml::node& node, std::string_view key,
                                                       std::chrono::milliseconds minimum, bool whole_seconds) {
    std::optional<std::chrono::milliseconds> duration;
    if (auto integer = node.as_integer(); integer && integer->get() >= 0 && integer->get() < (std::int64_t{1} << 40)) {
      duration = std::chrono::seconds(integer->get());
    } else if (auto text = node.as_string()) {
      duration = parse_duration_text(text->get());
    }
    if (!duration) {
      report(node, key, fmt::format("expected a duration like 30s, 5m, 1h or 5d, got {}", describe(node)));
      return std::nullopt;
    }
    if (*duration < minimum) {
      report(node, key, fmt::format("must be at least {}, got {}", describe_duration(minimum), describe(node)));
      return std::nullopt;
    }
    if (whole_seconds && duration->count() % 1000 != 0) {
      report(node, key, fmt::format("must be a whole number of seconds, got {}", describe(node)));
      return std::nullopt;
    }
    return duration;
  }

  template <class Duration>
  const toml::node* read_duration(std::string_view key, Duration& out, std::chrono::milliseconds minimum) {
    const toml::node* node = take(key);
    if (!node) return nullptr;
    constexpr bool whole_seconds = std::is_same_v<Duration, std::chrono::seconds>;
    auto duration = duration_of(*node, key, minimum, whole_seconds);
    if (!duration) return nullptr;
    out = std::chrono::duration_cast<Duration>(*duration);
    return node;
  }

  template <class Enum>
  const toml::node* read_enum(std::string_view key, Enum& out,
                              std::initializer_list<std::pair<std::string_view, Enum>> choices) {
    const toml::node* node = take(key);
    if (!node) return nullptr;
    if (auto text = node->as_string()) {
      for (const auto& [name, value] : choices) {
        if (text->get() == name) {
          out = value;
          return node;
        }
      }
    }
    std::string names;
    for (const auto& choice : choices) {
      names += names.empty() ? "" : ", ";
      names += quote_for_message(choice.first);
    }
    report(*node, key, fmt::format("expected one of {}, got {}", names, describe(*node)));
    return nullptr;
  }

  // An array of strings; elements of another type are reported and skipped. nullopt when absent
  // or not an array. Each string comes with its node (for the line).
  std::optional<std::vector<std::pair<std::string, const toml::node*>>> read_string_array(std::string_view key) {
    const toml::node* node = take(key);
    if (!node) return std::nullopt;
    const toml::array* array = node->as_array();
    if (!array) {
      report(*node, key, fmt::format("expected an array of strings, got {}", describe(*node)));
      return std::nullopt;
    }
    std::vector<std::pair<std::string, const toml::node*>> strings;
    for (const toml::node& element : *array) {
      if (auto text = element.as_string()) {
        strings.emplace_back(text->get(), &element);
      } else {
        report(element, key, fmt::format("expected a string, got {}", describe(element)));
      }
    }
    return strings;
  }

 private:
  static std::string range_problem(std::int64_t minimum, std::int64_t maximum, const std::string& got) {
    if (maximum == std::numeric_limits<std::int64_t>::max()) return fmt::format("must be at least {}, got {}", minimum, got);
    return fmt::format("must be between {} and {}, got {}", minimum, maximum, got);
  }
  static std::string describe_duration(std::chrono::milliseconds duration) {
    if (duration.count() % 1000 == 0) return fmt::format("{}s", duration.count() / 1000);
    return fmt::format("{}ms", duration.count());
  }

  const toml::table* table_;
  std::string path_;
  int line_;
  Diagnostics& diagnostics_;
  std::set<std::string> known_keys_;
};

constexpr std::int64_t unlimited = std::numeric_limits<std::int64_t>::max();
constexpr std::chrono::milliseconds one_second{1000};

const std::initializer_list<std::pair<std::string_view, TlsPolicy>> tls_policies = {
    {"off", TlsPolicy::off}, {"optional", TlsPolicy::optional}, {"required", TlsPolicy::required}};

// Parses a listen address ("127.0.0.1:2525", "[::1]:2525"): an IP literal and a port.
Result<ListenerConfig> parse_listen_address(std::string_view text) {
  auto split = split_host_port(text, false);
  if (!split) return config_error(fmt::format("{}: {}", quote_for_message(text), split.error().message));
  if (!parse_ip(split->host, false)) {
    return config_error(fmt::format("expected an IP address and port like 127.0.0.1:2525 or [::1]:2525, got {}", quote_for_message(text)));
  }
  if (!split->port) return config_error(fmt::format("missing port in {} (like 127.0.0.1:2525)", quote_for_message(text)));
  ListenerConfig listener;
  listener.address = split->host;
  listener.port = *split->port;
  listener.text = std::string(text);
  return listener;
}

// ---------------------------------------------------------------------------------------------
// The sections

struct TlsDefaults {
  TlsPolicy starttls = TlsPolicy::optional;
  bool have_certificate = false;
};

TlsDefaults read_tls(Section tls, Config& config) {
  TlsDefaults defaults;
  std::string certificate, key;
  const toml::node* certificate_node = tls.read_string("certificate", certificate);
  const toml::node* key_node = tls.read_string("key", key);
  const toml::node* starttls_node = tls.read_enum("starttls", defaults.starttls, tls_policies);
  config.tls_certificate = certificate;
  config.tls_key = key;
  if (!certificate.empty() && key.empty()) {
    tls.report(*certificate_node, "certificate", "is set but tls.key is not; both are needed");
  } else if (certificate.empty() && !key.empty()) {
    tls.report(*key_node, "key", "is set but tls.certificate is not; both are needed");
  }
  defaults.have_certificate = !certificate.empty() && !key.empty();
  if (starttls_node && defaults.starttls == TlsPolicy::required && !defaults.have_certificate) {
    tls.report(*starttls_node, "starttls", "\"required\" needs tls.certificate and tls.key to be set");
  }
  tls.report_unknown_keys();
  return defaults;
}

// Lines where each listen address was configured, to report duplicates.
using SeenAddresses = std::map<std::pair<std::string, std::uint16_t>, int>;

bool remember_listener(Section& section, std::string_view key, const toml::node& node, const ListenerConfig& listener,
                       SeenAddresses& seen) {
  const auto normalized = parse_ip(listener.address, false);
  const std::string address = normalized ? format_ip(normalized->bytes, normalized->family) : listener.address;
  auto [existing, inserted] = seen.emplace(std::pair(address, listener.port), line_of(node));
  if (!inserted) {
    section.report(node, key, fmt::format("{} is already configured at line {}", quote_for_message(listener.text), existing->second));
  }
  return inserted;
}

void read_server(Section server, const TlsDefaults& tls, Config& config, SeenAddresses& seen_addresses) {
  if (auto hostname = server.read_string("hostname", config.hostname)) {
    if (!is_host_name(config.hostname)) {
      server.report(*hostname, "hostname", fmt::format("expected a host name like gw.example.test, got {}", describe(*hostname)));
    }
  }
  if (auto listen = server.read_string_array("listen")) {
    for (const auto& [text, node] : *listen) {
      auto listener = parse_listen_address(text);
      if (!listener) {
        server.report(*node, "listen", listener.error().message);
        continue;
      }
      listener->starttls = tls.starttls;
      if (remember_listener(server, "listen", *node, *listener, seen_addresses)) config.listeners.push_back(*listener);
    }
  }
  std::string state_dir = config.state_dir.string();
  if (auto node = server.read_string("state_dir", state_dir)) {
    if (state_dir.empty()) server.report(*node, "state_dir", "must not be empty");
    else config.state_dir = state_dir;
  }
  if (auto networks = server.read_string_array("trusted_networks")) {
    for (const auto& [text, node] : *networks) {
      auto network = Network::parse(text);
      if (network) config.trusted_networks.push_back(*network);
      else server.report(*node, "trusted_networks", network.error().message);
    }
  }
  server.read_string("user", config.user);
  server.read_integer("threads", config.threads, 0, 1024);
  server.read_integer("max_connections", config.max_connections, 1, unlimited);
  server.read_integer("max_connections_per_ip", config.max_connections_per_ip, 1, unlimited);
  server.read_size("max_message_size", config.max_message_size, 1);
  server.read_integer("max_recipients", config.max_recipients, 1, unlimited);
  server.read_integer("max_errors", config.max_errors, 1, unlimited);
  server.read_duration("command_timeout", config.command_timeout, one_second);
  server.read_duration("data_timeout", config.data_timeout, one_second);
  server.read_enum("bare_newline", config.bare_newline,
                   {{"normalize", BareNewlinePolicy::normalize}, {"reject", BareNewlinePolicy::reject}});
  if (auto banner = server.read_string("banner", config.banner)) {
    if (config.banner.find_first_of("\r\n") != std::string::npos) {
      server.report(*banner, "banner", "must be a single line");
    }
  }
  server.report_unknown_keys();
}

void read_listener(Section listener_section, const TlsDefaults& tls, Config& config, SeenAddresses& seen_addresses) {
  std::string address;
  const toml::node* address_node = listener_section.read_string("address", address);
  ListenerConfig listener;
  bool valid = true;
  if (address_node) {
    auto parsed = parse_listen_address(address);
    if (parsed) {
      listener = *parsed;
    } else {
      listener_section.report(*address_node, "address", parsed.error().message);
      valid = false;
    }
  } else {
    if (!listener_section.take("address")) {
      listener_section.report(listener_section.line(), "address", "missing (every [[listener]] needs an address)");
    }
    valid = false;
  }
  listener.starttls = tls.starttls;
  if (auto starttls_node = listener_section.read_enum("starttls", listener.starttls, tls_policies)) {
    if (listener.starttls == TlsPolicy::required && !tls.have_certificate) {
      listener_section.report(*starttls_node, "starttls", "\"required\" needs tls.certificate and tls.key to be set");
    }
  }
  listener_section.read_bool("proxy_protocol", listener.proxy_protocol);
  listener_section.report_unknown_keys();
  if (valid && remember_listener(listener_section, "address", *address_node, listener, seen_addresses)) {
    config.listeners.push_back(listener);
  }
}

void read_dns(Section dns, Config& config) {
  if (auto nameservers = dns.read_string_array("nameservers")) {
    for (const auto& [text, node] : *nameservers) {
      auto split = split_host_port(text, true);
      if (!split || !parse_ip(split->host, false)) {
        dns.report(*node, "nameservers",
                   fmt::format("expected an IP address with optional port like 127.0.0.1:5353 or [::1]:53, got {}{}",
                               quote_for_message(text), split ? "" : fmt::format(" ({})", split.error().message)));
        continue;
      }
      config.nameservers.push_back(text);
    }
  }
  dns.read_duration("timeout", config.dns_timeout, std::chrono::milliseconds(1));
  dns.read_duration("cache_max_ttl", config.dns_cache_max_ttl, std::chrono::milliseconds(0));
  dns.report_unknown_keys();
}

void read_delivery(Section delivery, Config& config) {
  delivery.read_duration("backend_timeout", config.backend_timeout, one_second);
  delivery.read_duration("connect_timeout", config.connect_timeout, one_second);
  if (const toml::node* node = delivery.take("retry_schedule")) {
    const toml::array* array = node->as_array();
    if (!array || array->empty()) {
      delivery.report(*node, "retry_schedule",
                      fmt::format("expected a non-empty array of durations like [\"1m\", \"5m\"], got {}", describe(*node)));
    } else {
      std::vector<std::chrono::seconds> schedule;
      bool all_valid = true;
      for (const toml::node& element : *array) {
        auto interval = delivery.duration_of(element, "retry_schedule", one_second, true);
        if (interval) schedule.push_back(std::chrono::duration_cast<std::chrono::seconds>(*interval));
        else all_valid = false;
      }
      if (all_valid) config.retry_schedule = std::move(schedule);
    }
  }
  delivery.read_duration("max_queue_time", config.max_queue_time, one_second);
  delivery.read_integer("backend_pool_size", config.backend_pool_size, 0, unlimited);
  delivery.read_integer("outbound_port", config.outbound_port, 1, 65535);
  delivery.report_unknown_keys();
}

void read_store(Section store, Config& config) {
  store.read_integer("retention_days", config.retention_days, 1, 36500);
  store.report_unknown_keys();
}

// ---------------------------------------------------------------------------------------------
// Filtering: [filter] (and [domain.filter]), [lists] (and [domain.lists]), [[dnsbl]],
// [sender_verify], [abuse], [traps]

// Every check the engine knows, with the findings it reports and their default actions. A key of
// [filter.checks.NAME] that is not listed here is reported as unknown.
struct KnownCheck {
  std::string_view name;
  bool enabled;
  std::vector<std::pair<std::string_view, Action>> findings;
};

// The default score of each content finding, fitted on a corpus by bench/weights/fit.py
// (docs/weights.md); applied over the hand-set scores below. Decisions (reject, accept) are policy
// and never fitted.
struct FittedWeight {
  std::string_view check;
  std::string_view finding;
  double points;
};
constexpr FittedWeight fitted_weights[] = {
#include "config/fitted_weights.inc"
};

std::vector<KnownCheck> with_fitted_weights(std::vector<KnownCheck> checks) {
  for (const auto& fitted : fitted_weights)
    for (auto& check : checks)
      if (check.name == fitted.check)
        for (auto& [finding, action] : check.findings)
          if (finding == fitted.finding && action.kind == Action::Kind::score) action = Action::points(fitted.points);
  return checks;
}

const std::vector<KnownCheck>& known_checks() {
  using K = Action::Kind;
  static const std::vector<KnownCheck> checks = with_fitted_weights({
      {"lists", true, {{"whitelisted", Action::of(K::accept)}, {"blacklisted", Action::of(K::reject)}}},
      {"trusted_networks", true, {{"trusted", Action::of(K::accept)}}},
      {"reputation", true, {{"marked", Action::points(6.0)}, {"blocked", Action::of(K::reject)}}},
      {"protocol", true,
       {{"early_talker", Action::of(K::reject)}, {"unoffered_pipelining", Action::points(3.0)},
        {"many_errors", Action::points(1.0)}}},
      {"dnsbl", true, {}},
      {"uribl", true, {{"local_block", Action::of(K::reject)}}},
      {"phishing", true,
       {{"link_text_brand", Action::points(4.0)}, {"link_text_mismatch", Action::points(1.0)},
        {"ip_host", Action::points(2.0)}, {"userinfo_trick", Action::points(3.0)},
        {"lookalike_own", Action::points(5.0)}, {"lookalike_brand", Action::points(3.5)},
        {"form_to_remote", Action::points(0)}}},
      {"html_obfuscation", true, {{"hidden_text", Action::points(2.0)}, {"split_words", Action::points(1.5)}}},
      {"spam_trap", true, {{"hit", Action::of(K::reject)}}},
      {"helo", true,
       {{"invalid", Action::points(4.0)}, {"not_fqdn", Action::points(2.5)}, {"literal_mismatch", Action::points(3.0)},
        {"our_name", Action::of(K::reject)}, {"changed", Action::points(1.0)}}},
      {"reverse_dns", true,
       {{"missing", Action::points(2.5)}, {"not_confirmed", Action::points(1.5)}, {"generic", Action::points(1.5)}}},
      {"obfuscation", true,
       {{"invisible_chars", Action::points(2.0)}, {"mixed_scripts", Action::points(1.0)},
        {"confusables", Action::points(1.5)}, {"leet", Action::points(1.0)}, {"spaced_letters", Action::points(0.5)}}},
      {"watch_words", true, {}},
      {"spf", true,
       {{"pass", Action::points(0)}, {"pass_aligned", Action::points(-1.0)}, {"fail", Action::of(K::reject)},
        {"softfail", Action::points(3.0)}, {"neutral", Action::points(0)}, {"none", Action::points(0.5)},
        {"temperror", Action::of(K::tempfail)}, {"permerror", Action::points(1.5)}}},
      {"sender_verify", false,
       {{"failed", Action::of(K::reject)}, {"verified", Action::points(0)}, {"accept_all", Action::points(0)}}},
      {"header_structure", true,
       {{"no_from", Action::points(1.5)}, {"several_from", Action::points(1.5)}, {"no_date", Action::points(1.0)},
        {"several_date", Action::points(1.0)}, {"no_message_id", Action::points(0.5)}, {"bad_message_id", Action::points(1.0)},
        {"several_subject", Action::points(0.5)}, {"malformed", Action::points(1.0)}, {"long_lines", Action::points(0.5)},
        {"ratware_message_id", Action::points(2.0)}, {"encoding_without_type", Action::points(1.0)},
        {"no_mime_version", Action::points(1.0)}, {"msmail_without_mimeole", Action::points(1.0)}}},
      {"message_date", true,
       {{"invalid", Action::points(1.0)}, {"future", Action::points(2.0)}, {"past", Action::points(1.0)},
        {"bad_zone", Action::points(2.0)}, {"no_zone", Action::points(1.0)}}},
      {"header_addresses", true,
       {{"from_mismatch", Action::points(0.3)}, {"display_name_address", Action::points(2.0)},
        {"undisclosed_recipients", Action::points(1.0)}, {"fake_undisclosed", Action::points(1.5)}}},
      {"subject", true,
       {{"all_capitals", Action::points(1.0)}, {"money", Action::points(1.0)}, {"advertisement", Action::points(1.0)}}},
      {"free_mail", true, {{"forged", Action::points(1.5)}}},
      {"salutation", true, {{"generic", Action::points(1.0)}}},
      {"forged_mailer", true,
       {{"message_id", Action::points(1.5)}, {"html_only", Action::points(1.5)}, {"message_id_time", Action::points(1.5)},
        {"priority_fields", Action::points(1.0)}}},
      {"priority", true, {{"high", Action::points(1.0)}}},
      {"received_chain", true,
       {{"claims_our_host", Action::points(2.0)},
        {"disordered_dates", Action::points(1.0)},
        {"many_hops", Action::points(1.0)},
        {"relay_message_id", Action::points(2.0)}}},
      {"mime_structure", true,
       {{"unparsable", Action::points(2.0)}, {"missing_end_boundary", Action::points(1.0)}, {"malformed", Action::points(1.0)},
        {"limits", Action::points(2.0)}, {"text_as_base64", Action::points(0.3)}, {"bad_charset", Action::points(0.5)},
        {"html_only_remote_image", Action::points(1.0)}, {"html_without_tags", Action::points(1.0)}}},
      {"attachments", true,
       {{"dangerous_type", Action::of(K::reject)}, {"double_extension", Action::of(K::reject)},
        {"disguised_executable", Action::of(K::reject)}, {"archive_bomb", Action::of(K::reject)},
        {"encrypted_archive", Action::points(3.0)}, {"type_mismatch", Action::points(1.0)},
        {"archive_unreadable", Action::points(1.0)}}},
      {"antivirus", true, {{"infected", Action::of(K::reject)}}},
      {"ocr", true, {{"image_text", Action::points(0)}}},
      {"classifier", true,
       {{"spam_certain", Action::points(10.0)}, {"spam_999", Action::points(10.0)}, {"spam_99", Action::points(7.0)}, {"spam_95", Action::points(6.0)},
        {"spam_80", Action::points(5.0)}, {"spam_50", Action::points(3.0)}, {"ham_95", Action::points(-1.5)},
        {"ham_99", Action::points(-3.0)}}},
  });
  return checks;
}

const std::map<std::string, std::string>& default_replies() {
  static const std::map<std::string, std::string> replies = {
      {"blacklist", "Blacklisted: {reason} (ID:{id})"},
      {"attachment", "Message refused: attachment {reason} is not accepted (ID:{id})"},
      {"rbl", "RBL Block: {reason} (ID:{id})"},
      {"uribl", "Message contains a blocked link: {reason} (ID:{id})"},
      {"phishing", "Message refused as phishing: {reason} (ID:{id})"},
      {"spf", "SPF Block: {reason} (ID:{id})"},
      {"helo", "HELO Block: {reason} (ID:{id})"},
      {"reverse_dns", "Reverse DNS Block: {reason} (ID:{id})"},
      {"sender_verify", "Sender verify failed: {reason} (ID:{id})"},
      {"spam_trap", "Message refused (ID:{id})"},
      {"reputation", "Blocked: {reason} (ID:{id})"},
      {"protocol", "Protocol error: {reason} (ID:{id})"},
      {"watch_words", "Message content refused: {reason} (ID:{id})"},
      {"virus", "Virus found: {reason} (ID:{id})"},
      {"score", "Message rejected as spam: {reason} (ID:{id})"},
      {"tempfail", "Temporary failure: {reason}; please try again later (ID:{id})"},
      {"greylisting", "Greylisted: {reason} (ID:{id})"},
  };
  return replies;
}

FilterPolicy default_policy() {
  FilterPolicy policy;
  for (const auto& check : known_checks()) {
    CheckPolicy settings;
    settings.enabled = check.enabled;
    for (const auto& [finding, action] : check.findings) settings.actions[std::string(finding)] = action;
    policy.checks[std::string(check.name)] = std::move(settings);
  }
  policy.replies = default_replies();
  return policy;
}

std::optional<Action> action_of(const toml::node& node) {
  if (auto number = node.as_floating_point(); number && std::isfinite(number->get())) return Action::points(number->get());
  if (auto integer = node.as_integer()) return Action::points(static_cast<double>(integer->get()));
  if (auto text = node.as_string()) {
    const std::string value = to_lower_ascii(text->get());
    if (value == "reject") return Action::of(Action::Kind::reject);
    if (value == "tempfail") return Action::of(Action::Kind::tempfail);
    if (value == "accept") return Action::of(Action::Kind::accept);
  }
  return std::nullopt;
}

constexpr std::string_view action_expectation = "expected a score (number) or \"reject\", \"tempfail\" or \"accept\"";

bool is_list_pattern(std::string_view text) { return text.find_first_of("*?") != std::string_view::npos; }

// White/black/No Host Checks list entries.
void read_sender_list(Section& section, std::string_view key, SenderList& list) {
  auto entries = section.read_string_array(key);
  if (!entries) return;
  for (const auto& [text, node] : *entries)
    if (auto added = list.add(text); !added) section.report(*node, key, added.error().message);
}

void read_lists(Section lists, FilterPolicy& policy) {
  read_sender_list(lists, "whitelist", policy.whitelist);
  read_sender_list(lists, "blacklist", policy.blacklist);
  read_sender_list(lists, "no_host_checks", policy.no_host_checks);
  lists.report_unknown_keys();
}

// [[watch_words]] or [[domain.watch_words]] (docs/content.md "Watch words"): each entry a word,
// phrase or RE2 regular expression with an action and an optional name. The entries are appended to
// the policy's and the policy's matcher is compiled anew, once, here.
void read_watch_words(Section& parent, FilterPolicy& policy) {
  std::vector<Section> entries = parent.table_array("watch_words");
  if (entries.empty()) return;
  using Kind = WatchWord::Kind;
  static constexpr std::pair<std::string_view, Kind> kinds[] = {{"word", Kind::word}, {"phrase", Kind::phrase}, {"regex", Kind::regex}};
  bool added = false;
  for (Section& entry : entries) {
    WatchWord word;
    std::string_view key = "word";
    const toml::node* pattern_node = nullptr;
    int given = 0;
    bool valid = true;
    for (const auto& [name, kind] : kinds) {
      if (!entry.take(name)) continue;
      ++given;
      std::string text;
      const toml::node* node = entry.read_string(name, text);
      if (!node) valid = false;   // reported: not a string
      if (node && !pattern_node) {
        word.kind = kind;
        word.pattern = text;
        pattern_node = node;
        key = name;
      }
    }
    if (given == 0) {
      entry.report(entry.line(), "word", "missing (every [[watch_words]] needs a word, phrase or regex)");
      valid = false;
    } else if (given > 1) {
      entry.report(pattern_node ? line_of(*pattern_node) : entry.line(), key, "give one of word, phrase and regex, not several");
      valid = false;
    } else if (pattern_node) {
      if (const std::string problem = content::watch_word_problem(word); !problem.empty()) {
        entry.report(*pattern_node, key, problem);
        valid = false;
      }
    }
    if (const toml::node* node = entry.take("action")) {
      if (auto action = action_of(*node)) word.action = *action;
      else {
        entry.report(*node, "action", fmt::format("{}, got {}", action_expectation, describe(*node)));
        valid = false;
      }
    } else {
      entry.report(entry.line(), "action", "missing (a score or \"reject\", \"tempfail\", \"accept\")");
      valid = false;
    }
    if (const toml::node* node = entry.read_string("name", word.name)) {
      if (word.name.empty() || word.name.find_first_of("\r\n") != std::string::npos) {
        entry.report(*node, "name", "must be a non-empty single line");
        valid = false;
      }
    }
    entry.report_unknown_keys();
    if (valid) {
      policy.watch_words.push_back(std::move(word));
      added = true;
    }
  }
  if (!added) return;
  auto matcher = content::WatchWordMatcher::compile(policy.watch_words);
  if (matcher) policy.watch_word_matcher = *matcher;
  else parent.report(entries.front().line(), "watch_words", matcher.error().message);
}

// [filter] or [domain.filter]: thresholds, subject tag, contact, replies, per-check settings.
void read_filter(Section filter, FilterPolicy& policy) {
  const toml::node* tag_node = filter.read_number("tag_threshold", policy.tag_threshold);
  const toml::node* reject_node = filter.read_number("reject_threshold", policy.reject_threshold);
  if ((tag_node || reject_node) && policy.tag_threshold > policy.reject_threshold) {
    const toml::node* at = tag_node ? tag_node : reject_node;
    filter.report(*at, tag_node ? "tag_threshold" : "reject_threshold",
                  fmt::format("tag_threshold ({}) must not be greater than reject_threshold ({})", policy.tag_threshold,
                              policy.reject_threshold));
  }
  if (auto node = filter.read_string("subject_tag", policy.subject_tag)) {
    if (policy.subject_tag.find_first_of("\r\n") != std::string::npos) filter.report(*node, "subject_tag", "must be a single line");
  }
  if (const toml::node* node = filter.take("blocked_attachments")) {
    std::vector<std::string> extensions;
    bool valid = node->is_array();
    if (valid) {
      for (const auto& item : *node->as_array()) {
        auto text = item.value<std::string>();
        std::string extension = text ? to_lower_ascii(*text) : "";
        if (!extension.empty() && extension.front() == '.') extension.erase(0, 1);
        if (extension.empty() || extension.find_first_of("./\\ \t\r\n") != std::string::npos) {
          valid = false;
          break;
        }
        extensions.push_back(std::move(extension));
      }
    }
    if (valid) policy.blocked_attachments = std::move(extensions);
    else filter.report(*node, "blocked_attachments", "expected a list of file extensions such as [\"exe\", \"js\"]");
  }
  if (auto node = filter.read_string("contact", policy.contact)) {
    if (policy.contact.find_first_of("\r\n") != std::string::npos) filter.report(*node, "contact", "must be a single line");
  }
  Section replies = filter.table("replies");
  if (replies.present()) {
    for (const auto& [kind, text] : default_replies()) {
      std::string value;
      if (auto node = replies.read_string(kind, value)) {
        if (value.empty() || value.find_first_of("\r\n") != std::string::npos) {
          replies.report(*node, kind, "must be a non-empty single line");
          continue;
        }
        // Only the documented placeholders: a typo would otherwise reach senders verbatim.
        for (std::size_t open = value.find('{'); open != std::string::npos; open = value.find('{', open + 1)) {
          const auto close = value.find('}', open);
          const std::string name = close == std::string::npos ? "" : value.substr(open + 1, close - open - 1);
          if (name != "id" && name != "reason" && name != "contact") {
            replies.report(*node, kind, fmt::format("unknown placeholder in {}: use {{id}}, {{reason}} or {{contact}}", quote_for_message(value)));
            break;
          }
        }
        policy.replies[kind] = value;
      }
    }
    replies.report_unknown_keys();
  }
  Section checks = filter.table("checks");
  if (checks.present()) {
    for (const auto& known : known_checks()) {
      Section check = checks.table(known.name);
      if (!check.present()) continue;
      CheckPolicy& settings = policy.checks[std::string(known.name)];
      check.read_bool("enabled", settings.enabled);
      check.read_bool("mandatory", settings.mandatory);
      for (const auto& [finding, unused] : known.findings) {
        if (const toml::node* node = check.take(finding)) {
          if (auto action = action_of(*node)) settings.actions[std::string(finding)] = *action;
          else check.report(*node, finding, fmt::format("{}, got {}", action_expectation, describe(*node)));
        }
      }
      check.report_unknown_keys();
    }
    checks.report_unknown_keys();
  }
  filter.report_unknown_keys();
}

std::string policy_fingerprint(const FilterPolicy& policy) {
  std::string text = fmt::format("{}|{}|{}|{}", policy.tag_threshold, policy.reject_threshold, policy.subject_tag, policy.contact);
  for (const auto& [kind, reply] : policy.replies) text += "|" + kind + "=" + reply;
  for (const auto& [name, check] : policy.checks) {
    text += fmt::format("|{}:{}{}", name, check.enabled, check.mandatory);
    for (const auto& [finding, action] : check.actions) text += "," + finding + "=" + action.text();
  }
  text += fmt::format("|a{}", fmt::join(policy.blocked_attachments, ","));
  for (const auto* list : {&policy.whitelist, &policy.blacklist, &policy.no_host_checks})
    text += "|" + fmt::format("{}", fmt::join(list->entries, ","));
  for (const auto& word : policy.watch_words)
    text += fmt::format("|w{}:{}={}:{}", static_cast<int>(word.kind), word.pattern, word.action.text(), word.name);
  return text;
}

// "127.0.0.2" or "127.0.0.4-127.0.0.7" (IPv4 answers, RFC 5782 §2.1).
std::optional<std::pair<std::uint32_t, std::uint32_t>> parse_answer_range(std::string_view text) {
  auto one = [](std::string_view part) -> std::optional<std::uint32_t> {
    auto ip = parse_ip(part, false);
    if (!ip || ip->family != 4) return std::nullopt;
    return (std::uint32_t{ip->bytes[0]} << 24) | (std::uint32_t{ip->bytes[1]} << 16) | (std::uint32_t{ip->bytes[2]} << 8) |
           ip->bytes[3];
  };
  const auto dash = text.find('-');
  auto first = one(text.substr(0, dash));
  auto last = dash == std::string_view::npos ? first : one(text.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  return std::pair{*first, *last};
}

// One [[dnsbl]] or [[uribl.zone]] table (`table` names it in messages); nullopt when invalid.
std::optional<DnsListConfig> read_dns_list_entry(Section& section, std::string_view table, bool read_ipv6) {
  DnsListConfig list;
  bool valid = true;
  std::string zone;
  if (auto node = section.read_string("zone", zone)) {
    auto normalized = normalize_domain(zone);
    if (!normalized) {
      section.report(*node, "zone", fmt::format("expected a DNS zone like zen.spamhaus.org, got {}", describe(*node)));
      valid = false;
    } else {
      list.zone = *normalized;
    }
  } else {
    if (!section.take("zone")) section.report(section.line(), "zone", fmt::format("missing (every [[{}]] needs a zone)", table));
    valid = false;
  }
  if (read_ipv6) section.read_bool("ipv6", list.ipv6);
  if (const toml::node* node = section.take("other")) {
    if (auto action = action_of(*node)) list.other = *action;
    else section.report(*node, "other", fmt::format("{}, got {}", action_expectation, describe(*node)));
  }
  for (Section& result : section.table_array("result")) {
    DnsListResult entry;
    std::string codes;
    const toml::node* codes_node = result.read_string("codes", codes);
    std::optional<std::pair<std::uint32_t, std::uint32_t>> range;
    if (codes_node) {
      range = parse_answer_range(codes);
      if (!range) result.report(*codes_node, "codes", fmt::format("expected an answer like 127.0.0.2 or a range 127.0.0.4-127.0.0.7, got {}", describe(*codes_node)));
    } else if (!result.take("codes")) {
      result.report(result.line(), "codes", fmt::format("missing (every [[{}.result]] needs codes)", table));
    }
    result.read_string("meaning", entry.meaning);
    const toml::node* action_node = result.take("action");
    std::optional<Action> action;
    if (action_node) {
      action = action_of(*action_node);
      if (!action) result.report(*action_node, "action", fmt::format("{}, got {}", action_expectation, describe(*action_node)));
    } else {
      result.report(result.line(), "action", "missing (a score or \"reject\", \"tempfail\", \"accept\")");
    }
    result.report_unknown_keys();
    if (!range || !action) {
      valid = false;
      continue;
    }
    entry.first = range->first;
    entry.last = range->second;
    entry.action = *action;
    if (entry.meaning.empty()) entry.meaning = codes;
    list.results.push_back(std::move(entry));
  }
  section.report_unknown_keys();
  if (!valid) return std::nullopt;
  return list;
}

void read_dns_list(Section section, Config& config) {
  if (auto list = read_dns_list_entry(section, "dnsbl", true)) config.dns_lists.push_back(std::move(*list));
}

// One local block list entry: a domain (lower case, subdomains match) or an IP address (canonical).
std::optional<std::string> uri_block_entry(std::string_view text) {
  if (auto ip = parse_ip(text)) return format_ip(ip->bytes, ip->family);   // IPv4-mapped as IPv4
  return normalize_domain(text);
}

// [uribl] and its [[uribl.zone]] tables.
void read_uribl(Section section, Config& config) {
  UriblConfig& uribl = config.uribl;
  section.read_integer("max_domains", uribl.max_domains, 1, 1000);
  if (auto entries = section.read_string_array("local_block")) {
    for (const auto& [text, node] : *entries) {
      if (auto entry = uri_block_entry(text)) uribl.local_block.push_back(*entry);
      else section.report(*node, "local_block", fmt::format("expected a domain or an IP address, got {}", quote_for_message(text)));
    }
  }
  std::string file;
  if (auto node = section.read_string("local_block_file", file)) {
    uribl.local_block_file = file;
    std::ifstream stream(file);
    if (!stream) {
      section.report(*node, "local_block_file", fmt::format("cannot open {}: {}", quote_for_message(file), std::strerror(errno)));
    } else {
      std::string line;
      for (int number = 1; std::getline(stream, line) && number <= 10'000'000; ++number) {
        if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        std::string_view entry(line);
        while (!entry.empty() && (entry.front() == ' ' || entry.front() == '\t')) entry.remove_prefix(1);
        while (!entry.empty() && (entry.back() == ' ' || entry.back() == '\t' || entry.back() == '\r')) entry.remove_suffix(1);
        if (entry.empty()) continue;
        if (auto parsed = uri_block_entry(entry)) uribl.local_block.push_back(*parsed);
        else section.report(*node, "local_block_file", fmt::format("{}:{}: expected a domain or an IP address, got {}", file, number, quote_for_message(entry)));
      }
    }
  }
  std::sort(uribl.local_block.begin(), uribl.local_block.end());
  uribl.local_block.erase(std::unique(uribl.local_block.begin(), uribl.local_block.end()), uribl.local_block.end());
  for (Section& zone : section.table_array("zone")) {
    std::string kind = "domain";
    const toml::node* kind_node = zone.read_string("kind", kind);
    if (kind_node && kind != "domain" && kind != "ip") {
      zone.report(*kind_node, "kind", fmt::format("expected \"domain\" or \"ip\", got {}", describe(*kind_node)));
      continue;
    }
    if (auto list = read_dns_list_entry(zone, "uribl.zone", false)) uribl.zones.push_back({std::move(*list), kind == "ip"});
  }
  section.report_unknown_keys();
}

// [phishing]
void read_phishing(Section section, PhishingConfig& phishing) {
  if (auto entries = section.read_string_array("protected_domains")) {
    phishing.protected_domains.clear();
    for (const auto& [text, node] : *entries) {
      if (auto domain = normalize_domain(text)) phishing.protected_domains.push_back(*domain);
      else section.report(*node, "protected_domains", fmt::format("expected a domain like paypal.com, got {}", quote_for_message(text)));
    }
  }
  section.report_unknown_keys();
}

void read_sender_verify(Section section, SenderVerifyConfig& verify) {
  section.read_duration("positive_ttl", verify.positive_ttl, one_second);
  section.read_duration("negative_ttl", verify.negative_ttl, one_second);
  section.read_duration("timeout", verify.timeout, one_second);
  section.read_integer("per_domain_per_minute", verify.per_domain_per_minute, 1, unlimited);
  if (auto node = section.read_string("probe_sender", verify.probe_sender)) {
    if (!verify.probe_sender.empty() && verify.probe_sender.find('@') == std::string::npos)
      section.report(*node, "probe_sender", "expected an address like verify@example.test or \"\" for the null sender");
  }
  section.report_unknown_keys();
}

void read_abuse(Section section, AbuseConfig& abuse) {
  section.read_duration("pregreet_pause", abuse.pregreet_pause, std::chrono::milliseconds(0));
  section.read_duration("pregreet_ttl", abuse.pregreet_ttl, one_second);
  section.read_integer("max_rsets", abuse.max_rsets, 1, unlimited);
  section.read_integer("max_unknown_recipients", abuse.max_unknown_recipients, 1, unlimited);
  section.read_duration("harvest_block", abuse.harvest_block, one_second);
  section.read_integer("max_connections_per_minute", abuse.max_connections_per_minute, 0, unlimited);
  section.read_integer("max_messages_per_minute", abuse.max_messages_per_minute, 0, unlimited);
  section.read_duration("tarpit_delay", abuse.tarpit_delay, std::chrono::milliseconds(0));
  section.report_unknown_keys();
}

void read_traps(Section section, TrapConfig& traps) {
  if (auto addresses = section.read_string_array("addresses")) {
    for (const auto& [text, node] : *addresses) {
      const std::string address = to_lower_ascii(text);
      const auto at = address.rfind('@');
      if (at == std::string::npos || at == 0 || !normalize_domain(std::string_view(address).substr(at + 1))) {
        section.report(*node, "addresses", fmt::format("expected an address like trap@example.test, got {}", quote_for_message(text)));
        continue;
      }
      traps.addresses.push_back(address);
    }
  }
  section.read_duration("bad_mark", traps.bad_mark, one_second);
  section.report_unknown_keys();
}

void read_antivirus(Section section, AntivirusConfig& antivirus) {
  section.read_bool("enabled", antivirus.enabled);
  if (auto node = section.read_string("socket", antivirus.socket)) {
    if (auto address = clamd::ScannerAddress::parse(antivirus.socket); !address)
      section.report(*node, "socket", fmt::format("{}, got {}", address.error().message, describe(*node)));
  }
  section.read_duration("timeout", antivirus.timeout, std::chrono::milliseconds(100));
  section.read_size("max_size", antivirus.max_size, 1);
  section.read_enum("on_oversize", antivirus.on_oversize,
                    {{"skip", AntivirusConfig::Oversize::skip}, {"tempfail", AntivirusConfig::Oversize::tempfail}});
  section.read_enum("on_failure", antivirus.on_failure,
                    {{"tempfail", AntivirusConfig::Failure::tempfail}, {"accept", AntivirusConfig::Failure::accept}});
  section.report_unknown_keys();
}

// [ocr]: the language data must be there at start, or OCR would fail on every image.
void read_ocr(Section section, OcrConfig& ocr) {
  section.read_bool("enabled", ocr.enabled);
  const toml::node* languages = section.read_string("languages", ocr.languages);
  std::string tessdata;
  const toml::node* tessdata_node = section.read_string("tessdata", tessdata);
  if (tessdata_node) ocr.tessdata = tessdata;
  section.read_integer("workers", ocr.workers, 1, 64);
  section.read_duration("timeout", ocr.timeout, std::chrono::milliseconds(100));
  section.read_integer("max_images", ocr.max_images, 1, 100);
  section.read_size("max_image_size", ocr.max_image_size, 1024);
  section.read_size("max_pixels", ocr.max_pixels, 1024);
  section.read_integer("min_side", ocr.min_side, 1, 10000);
  section.report_unknown_keys();
  if (!ocr.enabled) return;
  const std::filesystem::path directory = ocr.tessdata.empty() ? content::default_tessdata_dir() : ocr.tessdata;
  if (auto missing = content::missing_language_data(directory, ocr.languages); !missing.empty()) {
    if (missing.starts_with("no ")) missing += "; set ocr.tessdata to where the language data is, or ocr.enabled = false";
    if (tessdata_node && !ocr.tessdata.empty() && missing.starts_with("no ")) section.report(*tessdata_node, "tessdata", missing);
    else if (languages) section.report(*languages, "languages", missing);
    else section.report(section.line(), "languages", fmt::format("\"{}\" (the default): {}", ocr.languages, missing));
  }
}

void read_classifier(Section section, ClassifierConfig& classifier) {
  section.read_bool("enabled", classifier.enabled);
  section.read_integer("min_learned", classifier.min_learned, 1, unlimited);
  section.read_bool("autolearn", classifier.autolearn);
  if (auto node = section.read_number("autolearn_spam_margin", classifier.autolearn_spam_margin);
      node && classifier.autolearn_spam_margin < 0)
    section.report(*node, "autolearn_spam_margin", "must not be negative");
  section.read_bool("learn_from_replies", classifier.learn_from_replies);
  section.read_bool("learn_on_release", classifier.learn_on_release);
  if (auto node = section.read_duration("token_max_age", classifier.token_max_age, one_second);
      node && classifier.token_max_age < std::chrono::hours(24))
    section.report(*node, "token_max_age", "must be at least a day (\"1d\")");
  section.read_integer("max_learned", classifier.max_learned, 100, unlimited);
  section.report_unknown_keys();
}

void read_web(Section section, Config& config, SeenAddresses& seen_addresses) {
  WebConfig& web = config.web;
  section.read_bool("enabled", web.enabled);
  if (auto listen = section.read_string_array("listen")) {
    if (listen->empty()) section.report(*section.take("listen"), "listen", "needs at least one address (or set enabled = false)");
    for (const auto& [text, node] : *listen) {
      auto listener = parse_listen_address(text);
      if (!listener) {
        section.report(*node, "listen", listener.error().message);
        continue;
      }
      listener->starttls = TlsPolicy::off;
      if (!web.enabled || remember_listener(section, "listen", *node, *listener, seen_addresses))
        web.listeners.push_back(*listener);
    }
  } else {
    web.listeners.push_back(*parse_listen_address("127.0.0.1:8080"));
  }
  std::string certificate, key;
  const toml::node* certificate_node = section.read_string("tls_certificate", certificate);
  const toml::node* key_node = section.read_string("tls_key", key);
  web.tls_certificate = certificate;
  web.tls_key = key;
  if (!certificate.empty() && key.empty())
    section.report(*certificate_node, "tls_certificate", "is set but web.tls_key is not; both are needed");
  else if (certificate.empty() && !key.empty())
    section.report(*key_node, "tls_key", "is set but web.tls_certificate is not; both are needed");
  if (auto node = section.read_duration("session_lifetime", web.session_lifetime, std::chrono::minutes(1));
      node && web.session_lifetime > std::chrono::hours(24 * 31))
    section.report(*node, "session_lifetime", "must be at most 31 days (\"31d\")");
  section.read_integer("max_connections", web.max_connections, 1, unlimited);
  section.read_size("max_header_size", web.max_header_size, 1024);
  section.read_size("max_body_size", web.max_body_size, 1024);
  section.read_duration("read_timeout", web.read_timeout, one_second);
  section.read_duration("idle_timeout", web.idle_timeout, one_second);
  section.read_integer("login_max_failures", web.login_max_failures, 1, 1000);
  section.read_duration("login_failure_window", web.login_failure_window, one_second);
  if (auto networks = section.read_string_array("metrics_networks")) {
    for (const auto& [text, node] : *networks) {
      auto network = Network::parse(text);
      if (network) web.metrics_networks.push_back(*network);
      else section.report(*node, "metrics_networks", network.error().message);
    }
  } else {
    web.metrics_networks = {*Network::parse("127.0.0.0/8"), *Network::parse("::1/128")};
  }
  section.read_integer("threads", web.threads, 1, 64);
  // The browser interface's files: when set, they must be there now, not at the first page view.
  std::string static_dir;
  if (const toml::node* node = section.read_string("static_dir", static_dir)) {
    std::error_code ec;
    if (static_dir.empty())
      section.report(*node, "static_dir", "must not be empty (leave it out to serve the build's web/dist)");
    else if (web.enabled && !std::filesystem::is_regular_file(std::filesystem::path(static_dir) / "index.html", ec))
      section.report(*node, "static_dir",
                     fmt::format("\"{}\" has no index.html: build the interface (scripts/build.sh, or npm ci && npm run "
                                 "build in web/) or correct the path", static_dir));
    web.static_dir = static_dir;
  }
  section.report_unknown_keys();
}

// [greylisting]: the timings, and `enabled` as the global policy's default (domains override it).
void read_greylisting(Section section, GreylistingConfig& greylisting) {
  section.read_bool("enabled", greylisting.enabled);
  section.read_duration("delay", greylisting.delay, one_second);
  const toml::node* window = section.read_duration("retry_window", greylisting.retry_window, one_second);
  section.read_duration("pass_lifetime", greylisting.pass_lifetime, one_second);
  section.read_integer("auto_whitelist_after", greylisting.auto_whitelist_after, 0, 1000000);
  if (greylisting.retry_window <= greylisting.delay) {
    const toml::node* at = window ? window : section.take("delay");
    const int line = at ? line_of(*at) : section.line();
    section.report(line, window ? "retry_window" : "delay",
                   fmt::format("retry_window ({}s) must be longer than delay ({}s): no retry could pass",
                               greylisting.retry_window.count(), greylisting.delay.count()));
  }
  section.report_unknown_keys();
}

// Lines where each domain was configured, to report duplicates.
using SeenDomains = std::map<std::string, int>;

void read_domain(Section section, Config& config, SeenDomains& seen_domains) {
  DomainConfig domain;
  domain.policy = config.policy;
  bool valid = true;

  std::string name;
  const toml::node* name_node = section.read_string("name", name);
  std::optional<std::string> normalized_name;
  if (name_node) {
    normalized_name = normalize_domain(name);
    if (!normalized_name) {
      section.report(*name_node, "name", fmt::format("expected a domain name like example.test, got {}", describe(*name_node)));
      valid = false;
    } else if (auto [existing, inserted] = seen_domains.emplace(*normalized_name, line_of(*name_node)); !inserted) {
      section.report(*name_node, "name",
                     fmt::format("{} is already configured at line {}", quote_for_message(*normalized_name), existing->second));
      valid = false;
    } else {
      domain.name = *normalized_name;
    }
  } else {
    if (!section.take("name")) section.report(section.line(), "name", "missing (every [[domain]] needs name and backend)");
    valid = false;
  }

  std::string backend;
  if (const toml::node* backend_node = section.read_string("backend", backend)) {
    auto parsed = BackendAddress::parse(backend);
    if (parsed) {
      domain.backend = *parsed;
    } else {
      section.report(*backend_node, "backend", parsed.error().message);
      valid = false;
    }
  } else {
    if (!section.take("backend")) section.report(section.line(), "backend", "missing (every [[domain]] needs name and backend)");
    valid = false;
  }

  section.read_enum("recipients", domain.recipients,
                    {{"list", RecipientValidation::list},
                     {"backend", RecipientValidation::backend},
                     {"any", RecipientValidation::any}});

  if (auto addresses = section.read_string_array("addresses")) {
    std::set<std::string> seen_addresses;
    for (const auto& [text, node] : *addresses) {
      const std::string address = to_lower_ascii(text);
      const auto at = address.rfind('@');
      const std::optional<std::string> address_domain =
          at == std::string::npos ? std::nullopt : normalize_domain(std::string_view(address).substr(at + 1));
      if (at == 0 || !address_domain || address.find_first_of(" \t\r\n<>") != std::string::npos) {
        section.report(*node, "addresses", fmt::format("expected an address like alice@example.test, got {}", quote_for_message(text)));
        valid = false;
        continue;
      }
      if (normalized_name && *address_domain != *normalized_name) {
        section.report(*node, "addresses", fmt::format("{} is not in domain {}", quote_for_message(text), *normalized_name));
        valid = false;
        continue;
      }
      const std::string normalized_address = address.substr(0, at + 1) + *address_domain;  // no trailing dot
      if (seen_addresses.insert(normalized_address).second) domain.addresses.push_back(normalized_address);
    }
  }

  // The domain's policy: the global one, overlaid by [domain.filter] and extended by [domain.lists].
  read_filter(section.table("filter"), domain.policy);
  FilterPolicy domain_lists;
  read_lists(section.table("lists"), domain_lists);
  domain.policy.whitelist.append(domain_lists.whitelist);
  domain.policy.blacklist.append(domain_lists.blacklist);
  domain.policy.no_host_checks.append(domain_lists.no_host_checks);
  read_watch_words(section, domain.policy);
  section.read_bool("greylisting", domain.policy.greylisting);   // over [greylisting] enabled
  domain.tag_threshold = domain.policy.tag_threshold;
  domain.reject_threshold = domain.policy.reject_threshold;
  const toml::node* tag_node = section.read_number("tag_threshold", domain.tag_threshold);
  const toml::node* reject_node = section.read_number("reject_threshold", domain.reject_threshold);
  domain.policy.tag_threshold = domain.tag_threshold;
  domain.policy.reject_threshold = domain.reject_threshold;
  domain.policy.fingerprint = policy_fingerprint(domain.policy);
  if ((tag_node || reject_node) && domain.tag_threshold > domain.reject_threshold) {
    const toml::node* at = tag_node ? tag_node : reject_node;
    section.report(*at, tag_node ? "tag_threshold" : "reject_threshold",
                   fmt::format("tag_threshold ({}) must not be greater than reject_threshold ({})", domain.tag_threshold,
                               domain.reject_threshold));
    valid = false;
  }

  section.report_unknown_keys();
  if (valid) config.domains.push_back(std::move(domain));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Network

Result<Network> Network::parse(std::string_view text) {
  Network network;
  network.text = std::string(text);
  const auto slash = text.find('/');
  const std::string_view address_text = text.substr(0, slash);
  const auto address = parse_ip(address_text, false);
  if (!address || address_text.find('%') != std::string_view::npos) {
    return config_error(fmt::format("expected a network like 192.0.2.0/24, 2001:db8::/32 or 127.0.0.1, got {}", quote_for_message(text)));
  }
  network.family = address->family;
  std::memcpy(network.bytes, address->bytes, sizeof network.bytes);
  const int maximum_prefix = network.family == 4 ? 32 : 128;
  network.prefix = maximum_prefix;
  if (slash != std::string_view::npos) {
    const auto prefix = parse_decimal(text.substr(slash + 1), 255);
    if (!prefix || *prefix > static_cast<std::uint64_t>(maximum_prefix)) {
      return config_error(fmt::format("invalid prefix length in {} (0-{} for IPv{})", quote_for_message(text), maximum_prefix,
                               static_cast<int>(network.family)));
    }
    network.prefix = static_cast<int>(*prefix);
  }
  // An IPv4-mapped IPv6 network is the IPv4 network it maps.
  if (network.family == 6 && network.prefix >= 96 && is_ipv4_mapped(network.bytes)) {
    std::memmove(network.bytes, network.bytes + 12, 4);
    std::memset(network.bytes + 4, 0, 12);
    network.family = 4;
    network.prefix -= 96;
  }
  std::uint8_t masked[16];
  std::memcpy(masked, network.bytes, sizeof masked);
  if (clear_host_bits(masked, network.family == 4 ? 4 : 16, network.prefix)) {
    // "192.168.1.0/2" is more likely a typo than a wish to trust a quarter of the Internet.
    return config_error(fmt::format("{} has bits set after the /{} prefix; the network is {}/{}", quote_for_message(text), network.prefix,
                             format_ip(masked, network.family), network.prefix));
  }
  return network;
}

bool Network::contains(std::string_view ip) const {
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  const auto address = parse_ip(ip, true);
  if (!address || address->family != family) return false;
  return prefix_matches(bytes, address->bytes, prefix);
}

bool in_networks(const std::vector<Network>& networks, std::string_view ip) {
  return std::any_of(networks.begin(), networks.end(), [ip](const Network& network) { return network.contains(ip); });
}

// ---------------------------------------------------------------------------------------------
// BackendAddress

Result<BackendAddress> BackendAddress::parse(std::string_view text) {
  const auto invalid = [text](std::string_view why) {
    return config_error(fmt::format(
        "expected smtp:HOST[:PORT], lmtp:HOST[:PORT], lmtp:/PATH/TO/SOCKET, maildir:PATH or mx, got {}{}", quote_for_message(text),
        why.empty() ? std::string() : fmt::format(" ({})", why)));
  };
  BackendAddress backend;
  backend.text = std::string(text);
  if (to_lower_ascii(text) == "mx") {
    backend.kind = Kind::mx;
    backend.port = 25;
    return backend;
  }
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return invalid("");
  const std::string scheme = to_lower_ascii(text.substr(0, colon));
  const std::string_view rest = text.substr(colon + 1);

  if (scheme == "maildir") {
    if (rest.empty()) return invalid("missing directory");
    backend.kind = Kind::maildir;
    backend.path = std::string(rest);
    backend.port = 0;
    return backend;
  }
  if (scheme != "smtp" && scheme != "lmtp") return invalid("");

  if (scheme == "lmtp" && !rest.empty() && (rest.front() == '/' || rest.front() == '.')) {
    backend.kind = Kind::lmtp_unix;
    backend.path = std::string(rest);
    backend.port = 0;
    return backend;
  }
  backend.kind = scheme == "smtp" ? Kind::smtp : Kind::lmtp_tcp;
  auto split = split_host_port(rest, false);
  if (!split) return invalid(split.error().message);
  if (!parse_ip(split->host, false) && !is_host_name(split->host)) return invalid("invalid host");
  backend.host = to_lower_ascii(split->host);
  backend.port = split->port.value_or(backend.kind == Kind::smtp ? 25 : 24);
  return backend;
}

// ---------------------------------------------------------------------------------------------
// Loading

Result<Config> parse_config(std::string_view text, const std::string& name) {
  toml::table document;
  try {
    document = toml::parse(text, std::string_view(name));
  } catch (const toml::parse_error& error) {
    return config_error(fmt::format("{}:{}:{}: {}", name, error.source().begin.line, error.source().begin.column,
                             error.description()));
  }

  Config config;
  config.file = name;
  Diagnostics diagnostics(name);
  Section root(&document, "", 1, diagnostics);

  // [tls] first: the listeners' policies depend on it.
  const TlsDefaults tls = read_tls(root.table("tls"), config);
  SeenAddresses seen_addresses;
  Section server = root.table("server");
  read_server(server, tls, config, seen_addresses);
  for (Section& listener : root.table_array("listener")) read_listener(listener, tls, config, seen_addresses);
  read_dns(root.table("dns"), config);
  read_delivery(root.table("delivery"), config);
  read_store(root.table("store"), config);
  config.policy = default_policy();
  read_filter(root.table("filter"), config.policy);
  read_lists(root.table("lists"), config.policy);
  read_watch_words(root, config.policy);
  read_greylisting(root.table("greylisting"), config.greylisting);
  config.policy.greylisting = config.greylisting.enabled;
  config.policy.fingerprint = policy_fingerprint(config.policy);
  for (Section& list : root.table_array("dnsbl")) read_dns_list(list, config);
  read_uribl(root.table("uribl"), config);
  read_phishing(root.table("phishing"), config.phishing);
  read_sender_verify(root.table("sender_verify"), config.sender_verify);
  read_abuse(root.table("abuse"), config.abuse);
  read_traps(root.table("traps"), config.traps);
  read_antivirus(root.table("antivirus"), config.antivirus);
  read_classifier(root.table("classifier"), config.classifier);
  read_ocr(root.table("ocr"), config.ocr);
  read_web(root.table("web"), config, seen_addresses);
  SeenDomains seen_domains;
  for (Section& domain : root.table_array("domain")) read_domain(domain, config, seen_domains);
  root.report_unknown_keys();

  // No listener at all is a problem of its own; a listener (or a [server]) that failed to parse
  // has been reported already.
  const toml::array* listen = document.at_path("server.listen").as_array();
  const bool listener_attempted = (listen && !listen->empty()) || document.contains("listener");
  const bool server_malformed = document.contains("server") && !document["server"].is_table();
  if (!listener_attempted && !server_malformed) {
    diagnostics.add(server.line(), "server.listen", "no listener: set server.listen or add a [[listener]]");
  }
  if (!diagnostics.empty()) return config_error(diagnostics.message());
  return config;
}

Result<Config> load_config(const std::filesystem::path& file) {
  std::ifstream stream(file, std::ios::binary);
  if (!stream) return config_error(fmt::format("{}: cannot open: {}", file.string(), std::strerror(errno)));
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (stream.bad()) return config_error(fmt::format("{}: cannot read: {}", file.string(), std::strerror(errno)));
  auto config = parse_config(contents.str(), file.string());
  if (config) config->file = file;
  return config;
}

// ---------------------------------------------------------------------------------------------
// Filter policy helpers

std::string Action::text() const {
  switch (kind) {
    case Kind::reject: return "reject";
    case Kind::tempfail: return "tempfail";
    case Kind::accept: return "accept";
    case Kind::score: break;
  }
  return fmt::format("{}", score);
}

Action CheckPolicy::action(const std::string& finding) const {
  auto it = actions.find(finding);
  return it == actions.end() ? Action::points(0) : it->second;
}

void FilterPolicy::update_fingerprint() { fingerprint = policy_fingerprint(*this); }

const CheckPolicy& FilterPolicy::check(std::string_view name) const {
  static const CheckPolicy unknown;
  auto it = checks.find(name);
  return it == checks.end() ? unknown : it->second;
}

std::string FilterPolicy::reply_text(const std::string& kind, const std::string& id, const std::string& reason) const {
  auto it = replies.find(kind);
  std::string text = it != replies.end() ? it->second : "{reason} (ID:{id})";
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 4, "{id}") == 0) {
      out += id;
      i += 3;
    } else if (text.compare(i, 8, "{reason}") == 0) {
      out += reason;
      i += 7;
    } else if (text.compare(i, 9, "{contact}") == 0) {
      out += contact.empty() ? "postmaster" : contact;
      i += 8;
    } else {
      out += text[i];
    }
  }
  // A reply line stays printable and within RFC 5321 §4.5.3.1.5 (512 octets with the code).
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 32) c = ' ';
  if (out.size() > 400) out.resize(400);
  return out;
}

namespace {
bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}
}  // namespace

Status SenderList::add(std::string_view text) {
  auto fail = [](std::string message) -> Status {
    Error error;
    error.message = std::move(message);
    return error;
  };
  const std::string entry = to_lower_ascii(text);
  if (entry.empty()) return fail("empty entry");
  if (entry.find_first_of(" \t\r\n,;<>\"") != std::string::npos)
    return fail(fmt::format("{} has a space or a separator: one entry at a time", quote_for_message(text)));
  if (is_list_pattern(entry)) {
    patterns.push_back(entry);
  } else if (entry.find('@') != std::string::npos) {
    const auto at = entry.rfind('@');
    if (at == 0 || !normalize_domain(std::string_view(entry).substr(at + 1)))
      return fail(fmt::format("expected an address like user@example.test, got {}", quote_for_message(text)));
    addresses.push_back(entry);
  } else if (entry.find_first_of(":/") != std::string::npos || parse_ip(entry, false)) {
    auto network = Network::parse(entry);
    if (!network) return network.error();
    networks.push_back(*network);
  } else if (auto domain = normalize_domain(entry)) {
    domains.push_back(*domain);
  } else {
    return fail(fmt::format("expected an IP, network, domain, address or pattern (with * or ?), got {}", quote_for_message(text)));
  }
  entries.emplace_back(text);
  return Ok{};
}

std::string SenderList::match_ip(std::string_view ip) const {
  for (const auto& network : networks)
    if (network.contains(ip)) return network.text;
  return {};
}

std::string SenderList::match_sender(std::string_view sender) const {
  if (sender.empty()) return {};
  const std::string address = to_lower_ascii(sender);
  const auto at = address.rfind('@');
  const std::string domain = at == std::string::npos ? std::string{} : address.substr(at + 1);
  for (const auto& entry : addresses)
    if (entry == address) return entry;
  for (const auto& entry : domains) {
    if (domain == entry) return entry;
    if (domain.size() > entry.size() && domain.compare(domain.size() - entry.size(), entry.size(), entry) == 0 &&
        domain[domain.size() - entry.size() - 1] == '.')
      return entry;
  }
  for (const auto& entry : patterns)
    if (glob_match(entry, address)) return entry;
  return {};
}

std::string SenderList::match(std::string_view ip, std::string_view sender) const {
  std::string by_ip = match_ip(ip);
  return by_ip.empty() ? match_sender(sender) : by_ip;
}

void SenderList::append(const SenderList& other) {
  networks.insert(networks.end(), other.networks.begin(), other.networks.end());
  domains.insert(domains.end(), other.domains.begin(), other.domains.end());
  addresses.insert(addresses.end(), other.addresses.begin(), other.addresses.end());
  patterns.insert(patterns.end(), other.patterns.begin(), other.patterns.end());
  entries.insert(entries.end(), other.entries.begin(), other.entries.end());
}

const DnsListResult* DnsListConfig::result_for(std::uint32_t answer) const {
  for (const auto& result : results)
    if (answer >= result.first && answer <= result.last) return &result;
  return nullptr;
}

std::string DnsListConfig::meaning_of(std::uint32_t answer) const {
  const auto* result = result_for(answer);
  return result ? result->meaning : std::string{};
}

}  // namespace gatehouse
