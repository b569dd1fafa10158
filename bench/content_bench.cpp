// Content analysis throughput (issue "Content analysis", Speed): messages per second on one core for
// the MIME parse, the derived analysis (HTML, URLs, normalised text, attachments) and every content
// check the engine runs after DATA, without antivirus, DNS lookups or a learned classifier — the CPU
// cost each message adds to the SMTP transaction. Not a test: run it by hand (bench/README.md).
//
//   ninja -C build-bench content_bench && build-bench/content_bench [--repeat N] [--config FILE] DIR...
//
// Reads every file under the directories once into memory, then times N passes over all of them.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "checks/check.hpp"
#include "config/config.hpp"
#include "content/analysis.hpp"
#include "content/headers.hpp"
#include "engine/engine.hpp"

using namespace gatehouse;

namespace {

// A free coroutine with pointer parameters: a lambda's captures would not outlive co_spawn.
boost::asio::awaitable<void> judge(const engine::Engine* engine, checks::CheckContext* context, std::size_t* judged,
                                   std::size_t* not_accepted) {
  engine::Verdict start;   // named: GCC 12 mishandles a temporary argument next to co_await
  engine::Verdict verdict = co_await engine->judge_message(*context, std::move(start));
  ++*judged;
  if (verdict.disposition != "accept") ++*not_accepted;
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 3;
  std::string config_text = "[server]\nlisten = [\"127.0.0.1:2525\"]\n[antivirus]\nenabled = false\n";
  std::vector<std::filesystem::path> roots;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repeat" && i + 1 < argc) repeat = std::stoi(argv[++i]);
    else if (arg == "--config" && i + 1 < argc) {
      std::ifstream in(argv[++i]);
      std::stringstream text;
      text << in.rdbuf();
      config_text = text.str();
    } else roots.emplace_back(arg);
  }
  if (roots.empty()) {
    std::cerr << "usage: content_bench [--repeat N] [--config FILE] DIR...\n";
    return 2;
  }
  auto config = parse_config(config_text, "content_bench.toml");
  if (!config.ok()) {
    std::cerr << config.error().message << "\n";
    return 2;
  }
  std::vector<std::string> messages;
  std::size_t bytes = 0;
  for (const auto& root : roots)
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      if (!entry.is_regular_file() || entry.path().extension() == ".tsv" || entry.path().filename() == "ORIGIN.txt") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      messages.push_back(std::string(content::strip_mbox_from_line(text.str())));
      bytes += messages.back().size();
    }
  engine::Engine engine;
  std::size_t judged = 0, tagged = 0;
  auto started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration analysis_time{};
  boost::asio::io_context io;
  for (int pass = 0; pass < repeat; ++pass) {
    for (const auto& message : messages) {
      const auto before = std::chrono::steady_clock::now();
      const auto headers = content::parse_headers(message);
      const auto analysis = content::analyse_message(message);
      analysis_time += std::chrono::steady_clock::now() - before;
      checks::ConnectionState connection;
      connection.client_ip = "192.0.2.1";
      checks::CheckContext context;
      context.stage = checks::Stage::data;
      context.id = "BENCH";
      context.connection = &connection;
      context.client_ip = "192.0.2.1";
      context.mail_from = "sender@example.org";
      context.recipients = {"user@example.test"};
      context.message = message;
      context.headers = &headers;
      context.content = &analysis;
      context.config = &*config;
      context.policy = &config->policy;
      boost::asio::co_spawn(io, judge(&engine, &context, &judged, &tagged), boost::asio::detached);
      io.run();
      io.restart();
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double analysis_seconds = std::chrono::duration<double>(analysis_time).count();
  std::printf("%zu messages (%.1f MB) x %d passes: %.0f messages/s on one core (%.1f MB/s); analysis alone %.0f messages/s; "
              "%zu judged, %zu not accepted\n",
              messages.size(), bytes / 1e6, repeat, judged / seconds, bytes * repeat / 1e6 / seconds,
              judged / analysis_seconds, judged, tagged);
  return 0;
}
