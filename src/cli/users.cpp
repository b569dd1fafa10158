// `gatehouse admin add|list|remove`: the accounts of the web administration (src/web), kept in the
// state database. A password is never taken from the command line (other users see it in ps):
// it comes from --password-file, from standard input, or from a prompt without echo on a terminal.
// Hashed with argon2id (libsodium). Every change is written to the audit log as "cli:USER".
#include <fmt/format.h>
#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "smtp/command.hpp"
#include "store/store.hpp"
#include "web/auth.hpp"

namespace gatehouse::cli {
namespace {


std::string who_runs_this() {
  struct passwd* pw = ::getpwuid(::geteuid());
  return fmt::format("cli:{}", pw ? pw->pw_name : std::to_string(::geteuid()));
}

void strip_line_end(std::string& line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
}

// One line from the terminal without echo.
std::optional<std::string> prompt_hidden(const std::string& prompt) {
  std::cerr << prompt << std::flush;
  termios saved{};
  const bool terminal = ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (terminal) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  bool got = static_cast<bool>(std::getline(std::cin, line));
  if (terminal) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  std::cerr << "\n";
  if (!got) return std::nullopt;
  strip_line_end(line);
  return line;
}

// The new password: from the file, a terminal prompt (twice), or the first line of standard input.
Result<std::string> read_password(const std::string& file) {
  std::string password;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return Error{fmt::format("--password-file {}: cannot open: {}", file, std::strerror(errno))};
    std::getline(in, password);
    strip_line_end(password);
  } else if (::isatty(STDIN_FILENO)) {
    auto first = prompt_hidden("Password: ");
    auto second = first ? prompt_hidden("Password again: ") : std::nullopt;
    if (!first || !second) return Error{"no password given"};
    if (*first != *second) return Error{"the passwords differ"};
    password = *first;
  } else {
    std::getline(std::cin, password);
    strip_line_end(password);
  }
  if (auto problem = web::password_problem(password); !problem.empty()) return Error{problem};
  return password;
}

struct AddOptions {
  std::string name;
  std::string password_file;
  std::vector<std::string> domains;
};

int add_user(const std::string& config_path, const AddOptions& options) {
  if (!web::valid_username(options.name)) {
    std::cerr << "gatehouse admin add: \"" << options.name
              << "\" is not a user name (1 to 64 of A-Z a-z 0-9 . _ @ -, not starting with -)\n";
    return 2;
  }
  User user;
  user.name = options.name;
  user.role = options.domains.empty() ? "admin" : "domain_admin";
  for (const auto& domain : options.domains) {
    std::string name = smtp::to_lower_ascii(domain);
    if (!smtp::valid_domain(name, true) || name.find('.') == std::string::npos) {
      std::cerr << "gatehouse admin add: --domain: \"" << domain << "\" is not a domain name\n";
      return 2;
    }
    user.domains.push_back(name);
  }
  auto store = open_state_or_exit(config_path);
  if (store->find_user(user.name)) {
    std::cerr << "gatehouse admin add: user " << user.name << " already exists (remove it first to change it)\n";
    return 1;
  }
  auto password = read_password(options.password_file);
  if (!password) {
    std::cerr << "gatehouse admin add: " << password.error().message << "\n";
    return 2;
  }
  auto hash = web::hash_password(*password);
  if (!hash) {
    std::cerr << "gatehouse admin add: " << hash.error().message << "\n";
    return 1;
  }
  user.password_hash = *hash;
  if (auto added = store->add_user(user); !added) {
    std::cerr << "gatehouse admin add: " << added.error().message << "\n";
    return 1;
  }
  std::string what = user.role == "admin" ? "administrator"
                                          : fmt::format("domain administrator of {}", fmt::join(user.domains, ", "));
  (void)store->audit(AuditEntry{0, {}, who_runs_this(), "", "user.add", fmt::format("{} ({})", user.name, what)});
  std::cout << fmt::format("user {} added: {}\n", user.name, what);
  return 0;
}

int list_users(const std::string& config_path) {
  auto store = open_state_or_exit(config_path);
  auto users = store->users();
  if (users.empty()) {
    std::cout << "No users. Add the first administrator with: gatehouse admin add NAME\n";
    return 0;
  }
  std::cout << fmt::format("{:<24} {:<13} {}\n", "USER", "ROLE", "DOMAINS");
  for (const auto& user : users)
    std::cout << fmt::format("{:<24} {:<13} {}\n", user.name, user.role,
                             user.role == "admin" ? "(all)" : fmt::format("{}", fmt::join(user.domains, ", ")));
  return 0;
}

int remove_user(const std::string& config_path, const std::string& name) {
  auto store = open_state_or_exit(config_path);
  if (auto removed = store->remove_user(name); !removed) {
    std::cerr << "gatehouse admin remove: " << removed.error().message << "\n";
    return 1;
  }
  (void)store->audit(AuditEntry{0, {}, who_runs_this(), "", "user.remove", name});
  std::cout << "user " << name << " removed (and logged out)\n";
  return 0;
}

}  // namespace

void add_user_commands(CLI::App& app) {
  auto config = std::make_shared<std::string>(default_config_path());
  auto* admin = app.add_subcommand("admin", "Accounts of the web administration (kept in the state database)");
  admin->require_subcommand(1);

  auto options = std::make_shared<AddOptions>();
  auto* add = admin->add_subcommand("add", "Add an administrator (with --domain: a domain administrator)");
  add->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
  add->add_option("name", options->name, "User name")->required();
  add->add_option("--password-file", options->password_file,
                  "Read the password from this file's first line (else: prompt on a terminal, or standard input)");
  add->add_option("--domain", options->domains, "Only this domain's mail (repeat for several)");
  add->callback([config, options] { throw ExitCode{add_user(*config, *options)}; });

  auto* list = admin->add_subcommand("list", "List the accounts");
  list->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
  list->callback([config] { throw ExitCode{list_users(*config)}; });

  auto name = std::make_shared<std::string>();
  auto* remove = admin->add_subcommand("remove", "Remove an account (its sessions end)");
  remove->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
  remove->add_option("name", *name, "User name")->required();
  remove->callback([config, name] { throw ExitCode{remove_user(*config, *name)}; });
}

}  // namespace gatehouse::cli
