// Recovery, the reason there is no quarantine: `release` (deliver a stored message that was
// rejected), `resend` (deliver a stored message again), `replay` (re-deliver every accepted message
// of a time window, e.g. to a mail server restored from backup), and `queue list|flush|delete`.
// Deliveries go to the recipient domain's current back-end, from this process, with the result
// printed and recorded in the log row.
#include <csignal>
#include <fmt/format.h>
#include <fstream>
#include <iostream>

#include "classifier/learner.hpp"
#include "cli/commands.hpp"
#include "common/time_text.hpp"
#include "delivery/queue.hpp"
#include "delivery/redeliver.hpp"
#include "delivery/spool.hpp"
#include "engine/policy.hpp"
#include "store/store.hpp"
#include "store/token_store.hpp"

namespace gatehouse::cli {
namespace {

struct Context {
  Config config;
  std::unique_ptr<Store> store;
  std::shared_ptr<const DomainTable> domains;
};

std::optional<Context> open_context(const std::string& config_path) {
  auto config = load_or_report(config_path);
  if (!config) return std::nullopt;
  auto store = open_sqlite_store(config->database_path().string());
  if (!store) {
    std::cerr << "gatehouse: " << store.error().message << "\n";
    return std::nullopt;
  }
  Context context{std::move(*config), std::move(*store), nullptr};
  context.domains = build_domain_table(context.config, context.store.get());
  return context;
}

// Delivers the stored copy of `record` to its recipients' current back-end (delivery/redeliver.hpp)
// and prints the outcome. Returns true when every recipient was accepted.
bool deliver_stored(Context& context, const TransactionRecord& record, const std::string& action, bool quiet = false) {
  auto outcome = delivery::redeliver_blocking(context.config, *context.store, *context.domains, record, action);
  if (!outcome) {
    std::cerr << fmt::format("{}: {}\n", record.id, outcome.error().message);
    return false;
  }
  bool ok = outcome->delivered;
  if (!quiet || !ok)
    std::cout << fmt::format("{} {} to {}: {}{}\n", record.id, ok ? action : action + " FAILED", outcome->backend,
                             ok ? "delivered" : "not delivered", outcome->detail.empty() ? "" : " — " + outcome->detail);
  return ok;
}

// A released message was wrongly rejected: the adaptive classifier learns it as ham (and forgets
// it as spam if it had learned that automatically). The daemon loads the lesson within seconds.
void learn_released(Context& context, const TransactionRecord& record) {
  const ClassifierConfig& settings = context.config.classifier;
  if (!settings.enabled || !settings.learn_on_release || record.direction != "inbound") return;
  auto message = context.store->message(record.id);
  if (!message) return;
  auto token_store = open_sqlite_token_store(context.config.database_path().string());
  if (!token_store) {
    std::cerr << fmt::format("{}: not learned as ham: {}\n", record.id, token_store.error().message);
    return;
  }
  classifier::Learner learner(**token_store, nullptr);
  auto result = learner.learn(*message, classifier::Label::ham, "release");
  if (auto committed = learner.commit(); !committed) {
    std::cerr << fmt::format("{}: not learned as ham: {}\n", record.id, committed.error().message);
    return;
  }
  if (result.kind == classifier::LearnResult::Kind::learned || result.kind == classifier::LearnResult::Kind::relearned)
    std::cout << fmt::format("{} learned as ham by the classifier\n", record.id);
}

int release_or_resend(const std::string& config_path, const std::vector<std::string>& ids, bool release) {
  auto context = open_context(config_path);
  if (!context) return 2;
  int failures = 0;
  for (auto& id : ids) {
    auto record = context->store->find(id);
    if (!record) {
      std::cerr << fmt::format("{}: no such transaction\n", id);
      ++failures;
      continue;
    }
    if (release && record->disposition != "reject" && record->disposition != "tempfail") {
      std::cerr << fmt::format("{}: was not rejected (disposition {}); use `gatehouse resend` to deliver it again\n", id,
                               record->disposition);
      ++failures;
      continue;
    }
    if (!deliver_stored(*context, *record, release ? "released" : "resent")) {
      ++failures;
      continue;
    }
    if (release) learn_released(*context, *record);
  }
  context->store->flush();
  return failures ? 1 : 0;
}

struct ReplayOptions {
  std::string config = default_config_path();
  std::string since, until, domain;
  bool dry_run = false;
};

int replay(const ReplayOptions& options) {
  auto context = open_context(options.config);
  if (!context) return 2;
  auto since = parse_time(options.since);
  auto until = parse_time(options.until);
  if (!since || !until) {
    std::cerr << "gatehouse replay: " << (!since ? since.error().message : until.error().message) << "\n";
    return 2;
  }
  // Every accepted or tagged message of the window, oldest first.
  auto selected = delivery::replay_selection(*context->store, *since, *until, options.domain);
  std::cout << fmt::format("replay: {} message(s) between {} and {}{}\n", selected.size(), format_local_time(*since),
                           format_local_time(*until), options.domain.empty() ? "" : " for " + options.domain);
  if (options.dry_run) return 0;
  std::size_t done = 0, failed = 0;
  for (auto& record : selected) {
    if (!deliver_stored(*context, record, "replayed", true)) ++failed;
    ++done;
    if (done % 100 == 0 || done == selected.size())
      std::cout << fmt::format("replay: {}/{} done, {} failed\n", done, selected.size(), failed) << std::flush;
  }
  context->store->flush();
  return failed ? 1 : 0;
}

int queue_list(const std::string& config_path) {
  auto config = load_or_report(config_path);
  if (!config) return 2;
  delivery::Spool spool(config->spool_dir());
  auto ids = spool.list();
  if (ids.empty()) {
    std::cout << "The queue is empty.\n";
    return 0;
  }
  std::cout << fmt::format("{:<15} {:<19} {:>8} {:<30} {}\n", "ID", "QUEUED", "ATTEMPTS", "SENDER", "RECIPIENTS → BACKEND");
  for (auto& id : ids) {
    auto loaded = spool.load(id);
    if (!loaded) {
      std::cout << fmt::format("{:<15} (unreadable: {})\n", id, loaded.error().message);
      continue;
    }
    auto& e = loaded->first;
    std::cout << fmt::format("{:<15} {:<19} {:>8} {:<30} {} → {}\n", id,
                             format_local_time(Clock::time_point(std::chrono::milliseconds(e.queued_at_ms))), e.attempts,
                             e.mail_from.empty() ? "<>" : e.mail_from, fmt::join(e.recipients, ", "), e.backend);
  }
  std::cout << fmt::format("{} message(s) queued\n", ids.size());
  return 0;
}

int queue_flush(const std::string& config_path) {
  auto config = load_or_report(config_path);
  if (!config) return 2;
  std::ifstream pid_file(config->pid_file());
  long pid = 0;
  if (!(pid_file >> pid) || pid <= 1 || ::kill(static_cast<pid_t>(pid), SIGUSR1) != 0) {
    std::cerr << "gatehouse queue flush: the daemon is not running (no live pid in " << config->pid_file().string()
              << "); queued messages are delivered when it starts\n";
    return 1;
  }
  std::cout << "Asked gatehouse (pid " << pid << ") to retry every queued message now.\n";
  return 0;
}

int queue_delete(const std::string& config_path, const std::vector<std::string>& ids) {
  auto context = open_context(config_path);
  if (!context) return 2;
  delivery::Spool spool(context->config.spool_dir());
  int failures = 0;
  for (auto& id : ids) {
    if (!spool.contains(id)) {
      std::cerr << id << ": not in the queue\n";
      ++failures;
      continue;
    }
    spool.remove(id);
    context->store->update_delivery(DeliveryUpdate{id, "deleted", 0, "deleted from the queue by an administrator"});
    std::cout << id << ": deleted from the queue (the stored copy remains for release/resend)\n";
  }
  context->store->flush();
  return failures ? 1 : 0;
}

}  // namespace

void add_recovery_commands(CLI::App& app) {
  {
    auto config = std::make_shared<std::string>(default_config_path());
    auto ids = std::make_shared<std::vector<std::string>>();
    auto* cmd = app.add_subcommand("release", "Deliver stored messages that were rejected");
    cmd->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
    cmd->add_option("id", *ids, "Transaction ID(s)")->required();
    cmd->callback([config, ids] { throw ExitCode{release_or_resend(*config, *ids, true)}; });
  }
  {
    auto config = std::make_shared<std::string>(default_config_path());
    auto ids = std::make_shared<std::vector<std::string>>();
    auto* cmd = app.add_subcommand("resend", "Deliver stored messages again");
    cmd->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
    cmd->add_option("id", *ids, "Transaction ID(s)")->required();
    cmd->callback([config, ids] { throw ExitCode{release_or_resend(*config, *ids, false)}; });
  }
  {
    auto options = std::make_shared<ReplayOptions>();
    auto* cmd = app.add_subcommand("replay", "Re-deliver every accepted message of a time window");
    cmd->add_option("--config,-c", options->config, "Configuration file")->capture_default_str();
    cmd->add_option("--since", options->since, "Start (2026-11-23T10:00, -2h, …)")->required();
    cmd->add_option("--until", options->until, "End (default now)")->default_val("now");
    cmd->add_option("--domain", options->domain, "Only this recipient domain");
    cmd->add_flag("--dry-run", options->dry_run, "Only count the messages");
    cmd->callback([options] { throw ExitCode{replay(*options)}; });
  }
  {
    auto* queue = app.add_subcommand("queue", "The delivery queue");
    queue->require_subcommand(1);
    auto config = std::make_shared<std::string>(default_config_path());
    queue->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
    auto* list = queue->add_subcommand("list", "List queued messages");
    list->add_option("--config,-c", *config, "Configuration file");
    list->callback([config] { throw ExitCode{queue_list(*config)}; });
    auto* flush = queue->add_subcommand("flush", "Retry every queued message now");
    flush->add_option("--config,-c", *config, "Configuration file");
    flush->callback([config] { throw ExitCode{queue_flush(*config)}; });
    auto ids = std::make_shared<std::vector<std::string>>();
    auto* del = queue->add_subcommand("delete", "Remove messages from the queue (the stored copy stays)");
    del->add_option("--config,-c", *config, "Configuration file");
    del->add_option("id", *ids, "Transaction ID(s)")->required();
    del->callback([config, ids] { throw ExitCode{queue_delete(*config, *ids)}; });
  }
}

}  // namespace gatehouse::cli
