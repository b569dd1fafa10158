// Helpers shared by the subcommands: configuration loading with readable errors, time parsing
// and formatting for --since/--until and tables.
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>

#include "cli/commands.hpp"
#include "common/time_text.hpp"
#include "store/store.hpp"

namespace gatehouse::cli {

std::string default_config_path() {
  if (const char* env = std::getenv("GATEHOUSE_CONFIG"); env && *env) return env;
  if (std::filesystem::exists("etc/gatehouse.toml")) return "etc/gatehouse.toml";
  return "/etc/gatehouse/gatehouse.toml";
}

std::unique_ptr<Store> open_state_or_exit(const std::string& config_path) {
  auto config = load_or_report(config_path);
  if (!config) throw ExitCode{2};
  std::error_code ec;
  std::filesystem::create_directories(config->state_dir, ec);
  auto store = open_sqlite_store(config->database_path().string());
  if (!store) {
    std::cerr << "gatehouse: " << store.error().message << "\n";
    throw ExitCode{2};
  }
  return std::move(*store);
}

std::optional<Config> load_or_report(const std::string& path) {
  auto config = load_config(path);
  if (!config) {
    std::cerr << "gatehouse: configuration error:\n" << config.error().message << "\n";
    return std::nullopt;
  }
  return std::move(*config);
}

Result<std::chrono::system_clock::time_point> parse_time(const std::string& text) {
  // A person types it: a time without a zone is in the local time zone.
  return parse_time_text(text, {UnzonedTime::local, false});
}

}  // namespace gatehouse::cli
