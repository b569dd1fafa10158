// `gatehouse spf`: evaluates SPF (RFC 7208 check_host(), src/checks/spf/) for one client IP, HELO
// name and sender and prints the result (§2.6), the deciding term or the error, and for "fail" the
// explanation (§6.2). With --batch it reads one JSON object per line from standard input,
// {"id":..,"ip":..,"helo":..,"sender":..[,"receiver":..][,"identity":"mailfrom"|"helo"]}, and writes
// one JSON object per line: {"id":..,"result":..,"domain":..,"identity":..,"problem":..,
// "explanation":..}, or {"id":..,"error":..} for a line it cannot use.
// DNS goes to --dns servers, else to the [dns] nameservers of the configuration file.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <stdexcept>

#include "checks/spf/spf.hpp"
#include "cli/commands.hpp"
#include "dns/resolver.hpp"

namespace gatehouse::cli {
namespace {

namespace asio = boost::asio;
namespace spf = checks::spf;

struct SpfOptions {
  std::string config = default_config_path();
  std::string ip;
  std::string helo;
  std::string sender;
  std::string receiver;
  std::string identity = "mailfrom";
  std::string default_explanation;
  std::vector<std::string> dns;
  int timeout_ms = 0;  // 0: the configuration's [dns] timeout
  bool json = false;
  bool batch = false;
  bool helo_given = false;
  bool sender_given = false;
};

boost::json::object to_json(const spf::SpfOutcome& outcome) {
  boost::json::object out;
  out["result"] = spf::to_string(outcome.result);
  out["domain"] = outcome.domain;
  out["identity"] = outcome.identity;
  out["problem"] = outcome.problem;
  out["explanation"] = outcome.explanation;
  return out;
}

asio::awaitable<spf::SpfOutcome> evaluate(spf::SpfDns& dns, spf::SpfRequest request, bool helo_identity) {
  if (helo_identity) {
    spf::SpfOutcome outcome = co_await spf::check_helo(dns, std::move(request));
    co_return outcome;
  }
  spf::SpfOutcome outcome = co_await spf::check_host(dns, std::move(request));
  co_return outcome;
}

// A string member of a batch line, or an error naming it.
Result<std::string> string_field(const boost::json::object& line, std::string_view name, bool required) {
  const boost::json::value* value = line.if_contains(name);
  if (!value || value->is_null()) {
    if (required) return Error{fmt::format("missing \"{}\"", name)};
    return std::string();
  }
  if (!value->is_string()) return Error{fmt::format("\"{}\" must be a string", name)};
  return std::string(value->as_string());
}

// Reads JSON lines from standard input and answers each on standard output, in order. Returns
// the number of lines that could not be evaluated.
asio::awaitable<int> run_batch(spf::SpfDns& dns, const SpfOptions& options) {
  int bad_lines = 0;
  std::string text;
  while (std::getline(std::cin, text)) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    boost::json::object out;
    boost::system::error_code error;
    boost::json::value parsed = boost::json::parse(text, error);
    std::string problem;
    spf::SpfRequest request;
    bool helo_identity = options.identity == "helo";
    if (error || !parsed.is_object()) {
      out["id"] = nullptr;
      problem = error ? "not JSON: " + error.message() : "not a JSON object";
    } else {
      const boost::json::object& line = parsed.as_object();
      const boost::json::value* id = line.if_contains("id");
      out["id"] = id ? *id : boost::json::value(nullptr);
      auto ip = string_field(line, "ip", true);
      auto helo = string_field(line, "helo", false);
      auto sender = string_field(line, "sender", false);
      auto receiver = string_field(line, "receiver", false);
      auto identity = string_field(line, "identity", false);
      for (const Result<std::string>* field : {&ip, &helo, &sender, &receiver, &identity})
        if (!*field && problem.empty()) problem = field->error().message;
      if (problem.empty()) {
        if (!spf::parse_ip(*ip)) problem = fmt::format("\"{}\" is not an IP address", *ip);
        if (!identity->empty() && *identity != "mailfrom" && *identity != "helo")
          problem = "\"identity\" must be \"mailfrom\" or \"helo\"";
      }
      if (problem.empty()) {
        request.ip = *ip;
        request.helo = *helo;
        request.sender = *sender;
        request.receiver_hostname = receiver->empty() ? options.receiver : *receiver;
        request.default_explanation = options.default_explanation;
        if (!identity->empty()) helo_identity = *identity == "helo";
      }
    }
    if (!problem.empty()) {
      ++bad_lines;
      out["error"] = problem;
    } else {
      spf::SpfOutcome outcome = co_await evaluate(dns, std::move(request), helo_identity);
      for (auto& [key, value] : to_json(outcome)) out[key] = value;
    }
    std::cout << boost::json::serialize(out) << '\n' << std::flush;
  }
  co_return bad_lines;
}

int run_spf(const SpfOptions& options) {
  if (!options.batch) {
    if (options.ip.empty()) {
      std::cerr << "gatehouse spf: --ip is required (or --batch to read queries from standard input)\n";
      return 2;
    }
    if (!spf::parse_ip(options.ip)) {
      std::cerr << "gatehouse spf: --ip: \"" << options.ip << "\" is not an IP address\n";
      return 2;
    }
    if (!options.helo_given && !options.sender_given) {
      std::cerr << "gatehouse spf: give --sender ADDR (\"\" for the null sender) and/or --helo NAME\n";
      return 2;
    }
    if (options.identity == "helo" && options.helo.empty()) {
      std::cerr << "gatehouse spf: --identity helo needs --helo NAME\n";
      return 2;
    }
  }

  std::vector<std::string> nameservers = options.dns;
  std::chrono::milliseconds timeout(options.timeout_ms > 0 ? options.timeout_ms : 3000);
  if (nameservers.empty()) {
    auto config = load_or_report(options.config);
    if (!config) return 2;
    nameservers = config->nameservers;
    if (options.timeout_ms <= 0) timeout = config->dns_timeout;
  }

  asio::io_context io;
  std::unique_ptr<dns::Resolver> resolver;
  try {
    resolver = std::make_unique<dns::Resolver>(io.get_executor(), nameservers, timeout);
  } catch (const std::exception& e) {
    std::cerr << "gatehouse spf: cannot start the DNS resolver: " << e.what() << "\n";
    return 2;
  }
  spf::ResolverSpfDns dns(*resolver);

  if (options.batch) {
    auto bad_lines = asio::co_spawn(io, run_batch(dns, options), asio::use_future);
    io.run();
    return bad_lines.get() == 0 ? 0 : 1;
  }

  spf::SpfRequest request;
  request.ip = options.ip;
  request.helo = options.helo;
  request.sender = options.sender;
  request.receiver_hostname = options.receiver;
  request.default_explanation = options.default_explanation;
  auto future = asio::co_spawn(io, evaluate(dns, std::move(request), options.identity == "helo"), asio::use_future);
  io.run();
  const spf::SpfOutcome outcome = future.get();
  if (options.json) {
    std::cout << boost::json::serialize(to_json(outcome)) << "\n";
  } else {
    std::cout << fmt::format("result:      {}\ndomain:      {} ({})\n", spf::to_string(outcome.result), outcome.domain,
                             outcome.identity);
    if (!outcome.problem.empty()) std::cout << fmt::format("reason:      {}\n", outcome.problem);
    if (!outcome.explanation.empty()) std::cout << fmt::format("explanation: {}\n", outcome.explanation);
  }
  return 0;
}

}  // namespace

void add_spf_command(CLI::App& app) {
  auto options = std::make_shared<SpfOptions>();
  auto* cmd = app.add_subcommand("spf", "Evaluate SPF (RFC 7208) for a client IP, HELO name and sender");
  cmd->add_option("--config,-c", options->config, "Configuration file (its [dns] servers, unless --dns)")
      ->capture_default_str();
  cmd->add_option("--ip", options->ip, "Client IP address");
  cmd->add_option("--helo", options->helo, "HELO/EHLO name")->each([options](const std::string&) {
    options->helo_given = true;
  });
  cmd->add_option("--sender", options->sender, "MAIL FROM address (\"\" = null sender: postmaster@HELO)")
      ->each([options](const std::string&) { options->sender_given = true; });
  cmd->add_option("--receiver", options->receiver, "This host's name, for the %{r} macro");
  cmd->add_option("--identity", options->identity, "mailfrom (default; HELO for a null sender) or helo")
      ->check(CLI::IsMember({"mailfrom", "helo"}));
  cmd->add_option("--default-explanation", options->default_explanation,
                  "Explanation of a fail when the domain gives none (macros allowed)");
  cmd->add_option("--dns", options->dns, "DNS server as IP, IP:PORT or [IPv6]:PORT (repeatable)");
  cmd->add_option("--timeout-ms", options->timeout_ms, "Timeout of one DNS try in milliseconds")
      ->check(CLI::Range(1, 600000));
  cmd->add_flag("--json", options->json, "Print one JSON object");
  cmd->add_flag("--batch", options->batch, "Read JSON lines from standard input, write JSON lines");
  cmd->callback([options] { throw ExitCode{run_spf(*options)}; });
}

}  // namespace gatehouse::cli
