// `gatehouse check`: judges one message offline with the daemon's engine and policy, and prints
// the verdict with every contribution (text, or one JSON object with --json).
#include "content/analysis.hpp"
#include <boost/json.hpp>
#include <fmt/format.h>
#include <iostream>
#include <iterator>
#include <optional>

#include "classifier/learner.hpp"
#include "checks/greylisting.hpp"
#include "cli/commands.hpp"
#include "common/id.hpp"
#include "content/headers.hpp"
#include "content/ocr.hpp"
#include "engine/engine.hpp"
#include "engine/reputation.hpp"
#include "dns/resolver.hpp"
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include "engine/policy.hpp"
#include "engine/runtime_policy.hpp"
#include "smtp/data_reader.hpp"
#include "store/store.hpp"
#include "store/token_store.hpp"

namespace gatehouse::cli {
namespace {

struct CheckOptions {
  std::string config = default_config_path();
  std::string ip = "127.0.0.1";
  std::string helo = "localhost";
  std::string from;
  std::vector<std::string> rcpts;
  std::optional<std::string> ptr;   // the client's reverse DNS name, when already known
  std::string arrival;              // when the message arrived ("" = now)
  bool json = false;
  bool no_dns = false;
  bool all_checks = false;
};

int run_check(const CheckOptions& options) {
  auto config = load_or_report(options.config);
  if (!config) return 2;
  std::chrono::system_clock::time_point arrival{};
  if (!options.arrival.empty()) {
    auto when = parse_time(options.arrival);
    if (!when) {
      std::cerr << "gatehouse check: --arrival: " << when.error().message << "\n";
      return 2;
    }
    arrival = *when;
  }
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  std::string_view message = content::strip_mbox_from_line(input);
  // Normalise line endings as the SMTP session does for BDAT content.
  std::string normalized;
  bool pending_cr = false;
  smtp::normalize_line_endings(message, normalized, pending_cr, true);

  std::unique_ptr<Store> store;
  if (std::filesystem::exists(config->database_path()))
    if (auto opened = open_sqlite_store(config->database_path().string()); opened) store = std::move(*opened);
  // As the daemon judges: with the lists and settings changed on the web (engine/runtime_policy.hpp).
  if (store) config = engine::with_runtime_policy(std::move(*config), *store);
  auto table = build_domain_table(*config, store.get());
  const std::string id = new_transaction_id();
  // Read once: the classifier's features and the content checks below use the same analysis.
  const auto headers = content::parse_headers(normalized);
  const content::MessageAnalysis analysis = content::analyse_message(normalized);
  // The adaptive classifier's counts for this message's features only (not the whole table).
  classifier::Model classifier_model;
  bool classifier_loaded = false;
  std::unique_ptr<TokenStore> token_store;
  std::optional<classifier::Learner> loader;
  if (config->classifier.enabled && std::filesystem::exists(config->database_path())) {
    if (auto tokens = open_sqlite_token_store(config->database_path().string()); tokens) {
      token_store = std::move(*tokens);
      loader.emplace(*token_store, &classifier_model);
      auto loaded = loader->load_some(classifier::tokenize(analysis, headers));
      if (loaded) classifier_loaded = true;
      else std::cerr << "gatehouse check: " << loaded.error().message << "\n";
    }
  }
  // The daemon's OCR, with one worker.
  std::unique_ptr<content::OcrPool> ocr;
  if (config->ocr.enabled) ocr = std::make_unique<content::OcrPool>(1);

  engine::Verdict verdict;
  const DomainConfig* domain = nullptr;
  std::vector<std::string> accepted;
  for (auto& rcpt : options.rcpts) {
    auto parsed = smtp::parse_mailbox(rcpt, true);
    if (!parsed) {
      verdict.checks.push_back({"recipient", 0, rcpt + ": " + parsed.error().message});
      verdict.disposition = "reject";
      verdict.reply = smtp::Reply{501, "5.1.3", parsed.error().message + " (ID:" + id + ")"};
      verdict.reason = "recipient syntax";
      continue;
    }
    auto decision = decide_recipient(*table, *parsed, table->trusted(options.ip));
    if (decision.route == RecipientRoute::refused) {
      verdict.checks.push_back({"recipient", 0, decision.address + ": " + decision.reply.summary()});
      if (verdict.disposition != "reject") {
        verdict.disposition = "reject";
        verdict.reply = decision.reply;
        verdict.reply.text += " (ID:" + id + ")";
        verdict.reason = decision.reason;
      }
      continue;
    }
    accepted.push_back(decision.address);
    if (!domain) domain = decision.domain;
  }
  const FilterPolicy& policy = domain ? domain->policy : config->policy;
  if (verdict.disposition != "reject") {
    if (normalized.size() > config->max_message_size) {
      verdict.disposition = "reject";
      verdict.reason = "size";
      verdict.reply = smtp::Reply{552, "5.3.4", "Message size exceeds fixed maximum message size (ID:" + id + ")"};
      verdict.checks.push_back({"size", 0, fmt::format("{} bytes > {}", normalized.size(), config->max_message_size)});
    } else {
      // The daemon's checks, with its resolver (unless --no-dns): sender checks per recipient, then content.
      boost::asio::io_context io;
      std::unique_ptr<dns::Resolver> resolver;
      if (!options.no_dns) {
        try {
          resolver = std::make_unique<dns::Resolver>(io.get_executor(), config->nameservers, config->dns_timeout);
        } catch (const std::exception& error) {
          std::cerr << "gatehouse check: DNS resolver: " << error.what() << "\n";
          return 2;
        }
      }
      engine::Engine engine;
      engine.set_run_every_check(options.all_checks);
      engine::Reputation reputation;
      checks::ConnectionState state;
      state.client_ip = options.ip;
      state.helo_names = {options.helo};
      state.trusted = table->trusted(options.ip);
      std::vector<CheckResult> recipient_notes = verdict.checks;
      auto judge = [&]() -> boost::asio::awaitable<void> {
        if (options.ptr) {
          // --ptr: the name is given (a receiving MTA recorded it in its Received field), not looked up.
          state.ptr = *options.ptr;
        } else if (resolver) {
          dns::Resolver::ClientName name = co_await resolver->client_name(options.ip);
          state.ptr = std::move(name.name);
          state.ptr_error = std::move(name.error);
        } else {
          // --no-dns: the client's name was never looked up, which is no evidence (not "no PTR record").
          state.ptr_error = "not looked up (--no-dns)";
        }
        checks::CheckContext context;
        context.id = id;
        context.arrival = arrival;
        context.connection = &state;
        context.client_ip = options.ip;
        context.helo = options.helo;
        context.mail_from = options.from;
        context.config = &*config;
        context.policy = &policy;
        context.resolver = resolver.get();
        context.reputation = &reputation;
        context.classifier = classifier_loaded ? &classifier_model : nullptr;
        if (classifier_loaded) {
          // The words of the message's images are known only once the ocr check has read them.
          context.load_classifier_features = [&](const std::vector<classifier::Feature>& features) {
            if (auto loaded = loader->load_some(features); !loaded)
              std::cerr << "gatehouse check: " << loaded.error().message << "\n";
          };
        }
        context.ocr = ocr.get();
        std::optional<engine::Verdict> envelope;
        for (auto& recipient : accepted) {
          context.stage = checks::Stage::rcpt;
          context.recipient = recipient;
          engine::Verdict judged = co_await engine.judge_recipient(context);
          if (judged.disposition == "reject" || judged.disposition == "tempfail") {
            verdict = std::move(judged);
            co_return;
          }
          if (!envelope) envelope = std::move(judged);
        }
        context.stage = checks::Stage::data;
        context.recipient.clear();
        context.recipients = accepted;
        context.message = normalized;
        context.headers = &headers;
        context.content = &analysis;
        engine::Verdict start = envelope.value_or(engine::Verdict{});
        engine::Verdict judged = co_await engine.judge_message(context, std::move(start));
        verdict = std::move(judged);
      };
      boost::asio::co_spawn(io, judge(), boost::asio::detached);
      io.run();
      verdict.checks.insert(verdict.checks.begin(), recipient_notes.begin(), recipient_notes.end());
      // Greylisting is decided live by the daemon from its state: say what it would answer now
      // (read only; the verdict above stays the filtering verdict).
      if (verdict.disposition != "reject" && verdict.disposition != "tempfail") {
        checks::Greylist greylist(store.get());
        for (const auto& recipient : accepted) {
          const auto at = recipient.rfind('@');
          const DomainConfig* recipient_domain = at == std::string::npos ? nullptr : table->find(recipient.substr(at + 1));
          const FilterPolicy& recipient_policy = recipient_domain ? recipient_domain->policy : config->policy;
          if (!recipient_policy.greylisting) continue;
          std::string detail = checks::greylisting_exemption({&recipient_policy, recipient_domain == nullptr,
                                                              table->trusted(options.ip), verdict.whitelisted,
                                                              options.ip, options.from});
          if (!detail.empty()) {
            detail = "exempt: " + detail;
          } else {
            auto decision = greylist.evaluate(checks::GreylistKey::of(options.ip, options.from, recipient),
                                              config->greylisting, Clock::now());
            detail = decision.defer ? "the daemon would answer 451 now: " + decision.detail : decision.detail;
          }
          verdict.checks.push_back({"greylisting", 0, fmt::format("<{}> {}", recipient, detail)});
        }
      }
    }
  }
  if (verdict.reply.code == 0) {
    verdict.reply = smtp::Reply{250, "2.0.0", "Ok: queued (ID:" + id + ")"};
  }

  if (options.json) {
    boost::json::object out;
    out["id"] = id;
    out["verdict"] = verdict.disposition;
    out["score"] = verdict.score;
    out["reason"] = verdict.reason;
    out["reply"] = verdict.reply.summary();
    boost::json::array checks;
    for (auto& c : verdict.checks) checks.push_back(boost::json::object{{"name", c.name}, {"score", c.score}, {"detail", c.detail}});
    out["checks"] = std::move(checks);
    boost::json::array skipped;
    for (auto& name : verdict.skipped) skipped.push_back(boost::json::string(name));
    out["skipped"] = std::move(skipped);
    out["whitelisted"] = verdict.whitelisted;
    boost::json::array authentication;
    for (auto& result : verdict.authentication_results) authentication.push_back(boost::json::string(result));
    out["authentication_results"] = std::move(authentication);
    // Every finding with the action the policy gave it and the stage of its check (bench/weights).
    engine::Engine stages;
    boost::json::array findings;
    for (auto& [check_name, finding] : verdict.findings) {
      std::string stage;
      for (auto& check : stages.checks())
        if (check->name() == check_name) stage = std::string(checks::to_string(check->stage()));
      const Action action = policy.check(check_name).action(finding);
      findings.push_back(boost::json::object{{"check", check_name}, {"finding", finding}, {"stage", stage},
                                             {"action", action.text()}});
    }
    out["findings"] = std::move(findings);
    std::cout << boost::json::serialize(out) << "\n";
  } else {
    std::cout << fmt::format("verdict: {}\nscore:   {:.1f}\nreply:   {}\n", verdict.disposition, verdict.score,
                             verdict.reply.summary());
    if (verdict.checks.empty()) std::cout << "checks:  (none fired)\n";
    else std::cout << "checks:\n";
    for (auto& c : verdict.checks) std::cout << fmt::format("  {:<20} {:>5.1f}  {}\n", c.name, c.score, c.detail);
  }
  return 0;
}

}  // namespace

void add_check_command(CLI::App& app) {
  auto options = std::make_shared<CheckOptions>();
  auto* cmd = app.add_subcommand("check", "Judge a message from standard input offline and explain the verdict");
  cmd->add_option("--config,-c", options->config, "Configuration file")->capture_default_str();
  cmd->add_option("--ip", options->ip, "Client IP address")->capture_default_str();
  cmd->add_option("--helo", options->helo, "HELO/EHLO name")->capture_default_str();
  cmd->add_option("--ptr", options->ptr,
                  "The client's reverse DNS name, taken as given instead of a PTR lookup (\"\" = it has none)");
  cmd->add_option("--arrival", options->arrival,
                  "When the message arrived (RFC 3339, or as log search --since takes it); Date is judged against it");
  cmd->add_option("--from", options->from, "Envelope sender");
  cmd->add_option("--rcpt", options->rcpts, "Envelope recipient (repeatable)");
  cmd->add_flag("--json", options->json, "Print one JSON object");
  cmd->add_flag("--no-dns", options->no_dns, "Skip DNS lookups (block lists, reverse DNS, SPF count as no evidence)");
  cmd->add_flag("--all-checks", options->all_checks,
                "Run every enabled check, also those that could not change the verdict (a full explanation)");
  cmd->callback([options] { throw ExitCode{run_check(*options)}; });
}

}  // namespace gatehouse::cli
