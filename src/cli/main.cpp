// gatehouse(8): the command line. `gatehouse serve --config FILE` runs the daemon in the
// foreground; the other subcommands judge, inspect and recover mail. See `gatehouse --help`.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"gatehouse — live-filtering anti-spam SMTP gateway"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "gatehouse 0.1.0");
  gatehouse::cli::add_serve_command(app);
  gatehouse::cli::add_check_command(app);
  gatehouse::cli::add_recovery_commands(app);
  gatehouse::cli::add_log_commands(app);
  gatehouse::cli::add_admin_commands(app);
  gatehouse::cli::add_user_commands(app);
  gatehouse::cli::add_spf_command(app);
  gatehouse::cli::add_learn_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const gatehouse::cli::ExitCode& code) {
    return code.value;
  }
  return 0;
}
