// The `gatehouse` subcommands (serve, check, release, resend, replay, queue, log, show, domain,
// address), each a function that takes its parsed options and returns the process exit code.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"

namespace gatehouse {
class Store;
}

namespace gatehouse::cli {

// Thrown by a subcommand's callback to end the process with this exit code.
struct ExitCode {
  int value;
};

// The default configuration path: $GATEHOUSE_CONFIG, else etc/gatehouse.toml if present, else
// /etc/gatehouse/gatehouse.toml.
std::string default_config_path();

// Loads the configuration named by --config, printing the error (file:line: key: …) on failure.
std::optional<Config> load_or_report(const std::string& path);
// The state database of the configuration at `path` (its state_dir created if need be); on an
// error, reports it and throws ExitCode{2}.
std::unique_ptr<Store> open_state_or_exit(const std::string& config_path);

// Registers each group of subcommands on the application.
void add_serve_command(CLI::App& app);
void add_check_command(CLI::App& app);
void add_recovery_commands(CLI::App& app);    // release, resend, replay, queue
void add_log_commands(CLI::App& app);         // log search, show
void add_admin_commands(CLI::App& app);       // domain, address
void add_user_commands(CLI::App& app);        // admin add|list|remove (web accounts)
void add_spf_command(CLI::App& app);          // spf (RFC 7208 check_host)
void add_learn_commands(CLI::App& app);       // learn, classify (the adaptive classifier)

// Parses "2026-11-23T10:14[:00][Z|+01:00]", "2026-11-23", "now", "-2h" / "-30m" / "-7d" (ago).
Result<std::chrono::system_clock::time_point> parse_time(const std::string& text);

}  // namespace gatehouse::cli
