// `gatehouse serve`: the daemon in the foreground. Binds its ports (as root if needed), drops to
// the configured user, recovers the spool, serves SMTP on one thread per core. SIGTERM: stop
// accepting (421), finish open transactions, exit. SIGHUP: reload the configuration and the TLS
// certificate. SIGUSR1: retry the queue now.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <fstream>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "cli/commands.hpp"
#include "common/async.hpp"
#include "delivery/queue.hpp"
#include "delivery/spool.hpp"
#include "dns/resolver.hpp"
#include "engine/gateway.hpp"
#include "smtp/server.hpp"
#include "common/metrics.hpp"
#include "web/api.hpp"
#include "web/server.hpp"
#include "classifier/learner.hpp"
#include "content/ocr.hpp"
#include "store/store.hpp"
#include "store/token_store.hpp"

namespace gatehouse::cli {
namespace fs = std::filesystem;

namespace {

Status drop_privileges(const Config& config) {
  if (config.user.empty() || ::geteuid() != 0) return Ok{};
  struct passwd* pw = ::getpwnam(config.user.c_str());
  if (!pw) return Error{fmt::format("{}: server.user: no such user \"{}\"", config.file.string(), config.user)};
  // The state directory must stay writable for the unprivileged daemon.
  std::error_code ec;
  for (auto& entry : fs::recursive_directory_iterator(config.state_dir, ec)) {
    if (::lchown(entry.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) { /* best effort */ }
  }
  if (::chown(config.state_dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) { /* best effort */ }
  if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0)
    return Error{fmt::format("cannot drop privileges to {}: {}", config.user, std::strerror(errno))};
  if (::setuid(0) == 0) return Error{"privileges were not dropped (setuid(0) still succeeds)"};
  spdlog::info("running as user {}", config.user);
  return Ok{};
}

int serve(const std::string& config_path) {
  auto loaded = load_or_report(config_path);
  if (!loaded) return 2;
  auto config = std::make_shared<const Config>(std::move(*loaded));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z gatehouse[%P] %l: %v");

  std::error_code ec;
  fs::create_directories(config->state_dir, ec);
  if (ec) {
    spdlog::critical("cannot create state_dir {}: {}", config->state_dir.string(), ec.message());
    return 1;
  }
  auto store = open_sqlite_store(config->database_path().string(), StoreOptions{.journal_records = true});
  if (!store) {
    spdlog::critical("{}", store.error().message);
    return 1;
  }
  // The adaptive classifier's learned tokens, in memory; its lessons are learned on a thread of its own.
  std::unique_ptr<classifier::BackgroundLearner> learner;
  if (config->classifier.enabled) {
    auto token_store = open_sqlite_token_store(config->database_path().string());
    if (!token_store) {
      spdlog::critical("{}", token_store.error().message);
      return 1;
    }
    learner = std::make_unique<classifier::BackgroundLearner>(std::move(*token_store), config->classifier);
    if (auto started = learner->start(); !started) {
      spdlog::critical("{}", started.error().message);
      return 1;
    }
  }
  delivery::Spool spool(config->spool_dir());
  if (auto opened = spool.open(); !opened) {
    spdlog::critical("{}", opened.error().message);
    return 1;
  }

  unsigned threads = config->threads ? config->threads : std::max(1u, std::thread::hardware_concurrency());
  // One io_context per thread: io (the first) runs the acceptors, signals, queue and housekeeping
  // and serves connections too; the others serve connections only. No connection ever spans
  // threads, so none needs a strand.
  asio::io_context io(1);
  std::vector<std::unique_ptr<asio::io_context>> extra_contexts;
  std::vector<asio::io_context*> workers{&io};
  for (unsigned i = 1; i < threads; ++i) {
    extra_contexts.push_back(std::make_unique<asio::io_context>(1));
    workers.push_back(extra_contexts.back().get());
  }
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
  for (auto* worker : workers) keep_running.push_back(asio::make_work_guard(*worker));
  std::unique_ptr<dns::Resolver> resolver;
  try {
    resolver = std::make_unique<dns::Resolver>(io.get_executor(), config->nameservers, config->dns_timeout);
    resolver->enable_cache(config->dns_cache_max_ttl);
  } catch (const std::exception& e) {
    spdlog::critical("{}: dns: {}", config->file.string(), e.what());
    return 1;
  }

  // The OCR workers (destroyed before the io_contexts, after the gateway that uses them).
  std::unique_ptr<content::OcrPool> ocr;
  if (config->ocr.enabled) ocr = std::make_unique<content::OcrPool>(config->ocr.workers);
  engine::Gateway* gateway_ptr = nullptr;
  delivery::DeliveryQueue queue(io, spool, **store, [&] { return gateway_ptr->config(); }, resolver.get());
  engine::Gateway gateway(io, config, **store, spool, queue, resolver.get());
  gateway_ptr = &gateway;
  gateway.set_classifier(learner.get());
  gateway.set_ocr(ocr.get());
  // The web administration (src/web): HTTP server and JSON API on the first io_context; its
  // blocking work (store queries, password hashing) on a small pool of its own. Bound before
  // SMTP, so that the SMTP port, once it answers, is served by a daemon about to drop privileges.
  web::Api api(**store, [&gateway] { return gateway.config(); }, metrics::registry(),
               web::ApiServices{&queue, &gateway, learner.get()});
  web::Server web_server(io, api, [&gateway] { return gateway.config(); });
  if (auto bound = web_server.bind(*config); !bound) {
    spdlog::critical("{}", bound.error().message);
    return 1;
  }
  if (auto tls = web_server.load_tls(*config); !tls) {
    spdlog::critical("{}", tls.error().message);
    return 1;
  }
  auto queue_depth = metrics::registry().gauge_callback(
      "gatehouse_queue_depth", "Messages in the delivery queue (spooled, waiting for their back-end)",
      [&queue] { return static_cast<double>(queue.size()); });
  smtp::Server server(io, workers, gateway);
  if (auto bound = server.bind(*config); !bound) {
    spdlog::critical("{}", bound.error().message);
    return 1;
  }
  if (auto tls = server.load_tls(*config); !tls) {
    spdlog::critical("{}", tls.error().message);
    return 1;
  }
  if (auto dropped = drop_privileges(*config); !dropped) {
    spdlog::critical("{}", dropped.error().message);
    return 1;
  }
  {
    std::ofstream pid(config->pid_file());
    pid << ::getpid() << "\n";
  }

  queue.start();
  server.start();
  if (config->web.enabled) {
    web_server.start();
    if ((*store)->users().empty()) spdlog::warn("web: no accounts yet; add the first administrator with: gatehouse admin add NAME");
  }

  // Signals.
  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  signals.add(SIGUSR1);
  bool stopping = false;
  asio::steady_timer drain(io);
  std::function<void()> wait_for_signal;
  std::function<void()> drain_step;
  auto drain_deadline = std::chrono::steady_clock::now();
  drain_step = [&] {
    if (server.active_connections() == 0 || std::chrono::steady_clock::now() > drain_deadline) {
      if (server.active_connections()) spdlog::warn("stopping with {} connection(s) still open", server.active_connections());
      queue.stop();
      keep_running.clear();
      for (auto* worker : workers) worker->stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(50));
    drain.async_wait([&](error_code) { drain_step(); });
  };
  wait_for_signal = [&] {
    signals.async_wait([&](error_code sec, int signal) {
      if (sec) return;
      if (signal == SIGHUP) {
        auto reloaded = load_config(gateway.config()->file);
        if (!reloaded) {
          spdlog::error("reload failed, keeping the running configuration: {}", reloaded.error().message);
        } else {
          auto fresh = std::make_shared<const Config>(std::move(*reloaded));
          if (auto tls = server.load_tls(*fresh); !tls) spdlog::error("reload: {}", tls.error().message);
          if (auto tls = web_server.load_tls(*fresh); !tls) spdlog::error("reload: {}", tls.error().message);
          gateway.set_config(fresh);
          spdlog::info("configuration reloaded from {}", fresh->file.string());
        }
      } else if (signal == SIGUSR1) {
        spdlog::info("queue flush requested");
        queue.flush();
      } else if (!stopping) {
        stopping = true;
        spdlog::info("signal {}: no new connections; finishing open transactions", signal);
        server.shutdown();
        web_server.shutdown();
        drain_deadline = std::chrono::steady_clock::now() + gateway.config()->data_timeout;
        drain_step();
      }
      wait_for_signal();
    });
  };
  wait_for_signal();

  // Housekeeping: run-time domain changes, retention, expired greylisting state.
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::any_io_executor executor = co_await asio::this_coro::executor;
        asio::steady_timer timer(executor);
        std::int64_t generation = (*store)->state_generation();
        auto next_prune = std::chrono::steady_clock::now();
        while (!stopping) {
          timer.expires_after(std::chrono::seconds(1));
          co_await timer.async_wait(use_nothrow);
          auto now_generation = (*store)->state_generation();
          if (now_generation != generation) {
            generation = now_generation;
            gateway.refresh_runtime_state();
            spdlog::info("domains, addresses, lists and settings reloaded from the state database");
          }
          if (std::chrono::steady_clock::now() >= next_prune) {
            next_prune = std::chrono::steady_clock::now() + std::chrono::hours(1);
            auto cutoff = Clock::now() - std::chrono::hours(24) * gateway.config()->retention_days;
            auto removed = (*store)->prune(cutoff);
            if (removed) spdlog::info("retention: pruned {} transaction(s) older than {} days", removed,
                                      gateway.config()->retention_days);
            // Greylisting: triplets never retried in their window, passed ones and networks unused
            // for pass_lifetime.
            auto expired = gateway.greylist().prune(gateway.config()->greylisting, Clock::now());
            if (expired) spdlog::info("greylisting: forgot {} expired entr{}", expired, expired == 1 ? "y" : "ies");
          }
        }
      },
      asio::detached);

  spdlog::info("gatehouse started: {} thread(s), state in {}", threads, config->state_dir.string());
  std::vector<std::thread> threads_running;
  for (auto& context : extra_contexts) {
    threads_running.emplace_back([&context] { context->run(); });
    pthread_setname_np(threads_running.back().native_handle(), "gatehouse-smtp");
  }
  io.run();
  for (auto& t : threads_running) t.join();
  web_server.join();
  if (learner) learner->drain();
  (*store)->flush();
  std::error_code ignored;
  fs::remove(config->pid_file(), ignored);
  spdlog::info("gatehouse stopped");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Run the gateway in the foreground");
  auto path = std::make_shared<std::string>(default_config_path());
  cmd->add_option("--config,-c", *path, "Configuration file")->capture_default_str();
  cmd->callback([path] { throw ExitCode{serve(*path)}; });
}

}  // namespace gatehouse::cli
