// gatehouse(8): the command line. `gatehouse serve --config FILE` runs the daemon in the
// foreground; the other subcommands judge, inspect and recover mail. See `gatehouse --help`.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <iostream>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  // tesseract (OCR, content/ocr.hpp) parallelises with OpenMP, whose runtime reads OMP_THREAD_LIMIT
  // once, when it is loaded, before main(). Unlimited, every recognition starts a team of spinning
  // threads that compete with the SMTP threads and each other (an image took 5× longer on a busy
  // two-core machine); the OCR workers ([ocr] workers) are the parallelism. So one OpenMP thread,
  // as tesseract advises for several instances, unless the environment says otherwise: set it and
  // start again (same process ID; if that fails, carry on as we are). By the binary's own path, not
  // /proc/self/exe, so that the process keeps its name ("gatehouse", not "exe", in ps and top).
  if (!std::getenv("OMP_THREAD_LIMIT") && ::setenv("OMP_THREAD_LIMIT", "1", 1) == 0) {
    char path[PATH_MAX];
    const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (length > 0) {
      path[length] = '\0';
      ::execv(path, argv);
    }
  }
  // Standard output carries what a command prints (tables, `--json`); every log line goes to
  // standard error, so that a warning logged while a command runs never corrupts its output.
  spdlog::set_default_logger(spdlog::stderr_color_mt("gatehouse"));
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
