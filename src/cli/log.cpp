// `gatehouse log search` and `gatehouse show ID`: the transaction log from the command line, as a
// table or JSON, and one transaction in full (with --raw, the stored message itself).
#include <boost/json.hpp>
#include <fmt/format.h>
#include <iostream>

#include "cli/commands.hpp"
#include "common/time_text.hpp"
#include "store/record_json.hpp"
#include "store/store.hpp"

namespace gatehouse::cli {
namespace {

boost::json::object to_json(const TransactionRecord& r) { return record_to_json(r); }

std::unique_ptr<Store> open_store(const std::string& config_path) {
  auto config = load_or_report(config_path);
  if (!config) throw ExitCode{2};
  auto store = open_sqlite_store(config->database_path().string());
  if (!store) {
    std::cerr << "gatehouse: " << store.error().message << "\n";
    throw ExitCode{2};
  }
  return std::move(*store);
}

std::string shorten(std::string text, std::size_t width) {
  if (text.size() > width) {
    text.resize(width - 1);
    text += "…";
  }
  return text;
}

struct SearchOptions {
  std::string config = default_config_path();
  std::string since, until;
  SearchQuery query;
  bool json = false;
};

int search(SearchOptions& options) {
  auto store = open_store(options.config);
  if (!options.since.empty()) {
    auto t = parse_time(options.since);
    if (!t) {
      std::cerr << "gatehouse log search: --since: " << t.error().message << "\n";
      return 2;
    }
    options.query.since = *t;
  }
  if (!options.until.empty()) {
    auto t = parse_time(options.until);
    if (!t) {
      std::cerr << "gatehouse log search: --until: " << t.error().message << "\n";
      return 2;
    }
    options.query.until = *t;
  }
  auto rows = store->search(options.query);
  if (options.json) {
    boost::json::array out;
    for (auto& r : rows) out.push_back(to_json(r));
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  if (rows.empty()) {
    std::cout << "No transactions match.\n";
    return 0;
  }
  std::cout << fmt::format("{:<14} {:<19} {:<15} {:<28} {:<28} {:<10} {:<9} {}\n", "ID", "TIME", "CLIENT", "FROM", "TO",
                           "RESULT", "DELIVERY", "SUBJECT / REASON");
  for (auto& r : rows) {
    std::string to = r.recipients.empty() ? (r.rejected_recipients.empty() ? "" : r.rejected_recipients.front())
                                          : fmt::format("{}", fmt::join(r.recipients, ","));
    std::string about = r.reason.empty() ? r.subject : r.reason + (r.subject.empty() ? "" : ": " + r.subject);
    std::cout << fmt::format("{:<14} {:<19} {:<15} {:<28} {:<28} {:<10} {:<9} {}\n", r.id, format_local_time(r.time), r.client_ip,
                             shorten(r.mail_from.empty() ? "<>" : r.mail_from, 28), shorten(to, 28), r.disposition,
                             r.delivery_status, shorten(about, 60));
  }
  std::cout << fmt::format("{} transaction(s){}\n", rows.size(),
                           rows.size() == options.query.limit ? " (more with --offset)" : "");
  return 0;
}

int show(const std::string& config_path, const std::string& id, bool raw, bool json) {
  auto store = open_store(config_path);
  auto record = store->find(id);
  if (!record) {
    std::cerr << id << ": no such transaction\n";
    return 1;
  }
  if (raw) {
    auto message = store->message(id);
    if (!message) {
      std::cerr << id << ": no stored copy of the message\n";
      return 1;
    }
    std::cout << *message;
    return 0;
  }
  if (json) {
    std::cout << boost::json::serialize(to_json(*record)) << "\n";
    return 0;
  }
  auto& r = *record;
  std::cout << fmt::format("ID:          {}\nTime:        {}\nDirection:   {}\nClient:      {} ({}) HELO {}\nTLS:         {}\n",
                           r.id, format_local_time(r.time), r.direction, r.client_ip, r.client_ptr.empty() ? "no PTR" : r.client_ptr,
                           r.helo, r.tls.empty() ? "no" : r.tls);
  std::cout << fmt::format("Sender:      <{}>\nRecipients:  {}\n", r.mail_from, fmt::join(r.recipients, ", "));
  for (auto& rejected : r.rejected_recipients) std::cout << "Refused:     " << rejected << "\n";
  std::cout << fmt::format("From:        {}\nSubject:     {}\nMessage-ID:  {}\nSize:        {}\n", r.header_from, r.subject,
                           r.message_id, r.size);
  std::cout << fmt::format("Disposition: {}{}\nReply:       {}\nScore:       {:.1f}\n", r.disposition,
                           r.reason.empty() ? "" : " (" + r.reason + ")", r.reply, r.score);
  for (auto& c : r.checks) std::cout << fmt::format("  {:<20} {:>5.1f}  {}\n", c.name, c.score, c.detail);
  std::cout << fmt::format("Domain:      {}\nBack-end:    {}\nDelivery:    {} after {} attempt(s){}\nStored copy: {}\n",
                           r.domain, r.backend, r.delivery_status, r.delivery_attempts,
                           r.delivery_detail.empty() ? "" : ": " + r.delivery_detail, r.has_message ? "yes" : "no");
  return 0;
}

}  // namespace

void add_log_commands(CLI::App& app) {
  auto* log = app.add_subcommand("log", "The transaction log");
  log->require_subcommand(1);
  auto options = std::make_shared<SearchOptions>();
  auto* search_cmd = log->add_subcommand("search", "Search the transaction log (newest first)");
  search_cmd->add_option("--config,-c", options->config, "Configuration file")->capture_default_str();
  search_cmd->add_option("--since", options->since, "From this time (2026-11-23T10:00, -2h, …)");
  search_cmd->add_option("--until", options->until, "Until this time");
  search_cmd->add_option("--from,--sender", options->query.sender, "Sender (envelope or header From) contains");
  search_cmd->add_option("--to,--recipient", options->query.recipient, "A recipient contains");
  search_cmd->add_option("--subject", options->query.subject, "Subject contains");
  search_cmd->add_option("--ip", options->query.client_ip, "Client IP");
  search_cmd->add_option("--disposition", options->query.disposition, "accept, tag, reject, tempfail, abandoned");
  search_cmd->add_option("--id", options->query.id, "Transaction ID");
  search_cmd->add_option("--domain", options->query.domain, "Recipient domain");
  search_cmd->add_option("--limit", options->query.limit, "Rows per page")->capture_default_str();
  search_cmd->add_option("--offset", options->query.offset, "Skip this many rows");
  search_cmd->add_flag("--json", options->json, "Print JSON");
  search_cmd->callback([options] { throw ExitCode{search(*options)}; });

  auto config = std::make_shared<std::string>(default_config_path());
  auto id = std::make_shared<std::string>();
  auto raw = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  auto* show_cmd = app.add_subcommand("show", "Show one transaction in full");
  show_cmd->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
  show_cmd->add_option("id", *id, "Transaction ID")->required();
  show_cmd->add_flag("--raw", *raw, "Print the stored message");
  show_cmd->add_flag("--json", *json, "Print JSON");
  show_cmd->callback([=] { throw ExitCode{show(*config, *id, *raw, *json)}; });
}

}  // namespace gatehouse::cli
