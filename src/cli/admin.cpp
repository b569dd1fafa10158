// `gatehouse domain …` and `gatehouse address …`: the domains and addresses kept in the state
// database, editable while the daemon runs (it picks changes up within a second).
#include <fmt/format.h>
#include <iostream>

#include "cli/commands.hpp"
#include "smtp/command.hpp"
#include "store/store.hpp"

namespace gatehouse::cli {
namespace {


int report(const Status& status, const std::string& done) {
  if (!status) {
    std::cerr << "gatehouse: " << status.error().message << "\n";
    return 1;
  }
  std::cout << done << "\n";
  return 0;
}

}  // namespace

void add_admin_commands(CLI::App& app) {
  auto config = std::make_shared<std::string>(default_config_path());
  {
    auto* domain = app.add_subcommand("domain", "Domains served (kept in the state database)");
    domain->require_subcommand(1);
    auto stored = std::make_shared<StoredDomain>();
    auto* add = domain->add_subcommand("add", "Add or change a domain");
    add->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
    add->add_option("name", stored->name, "Domain name")->required();
    add->add_option("--backend", stored->backend, "smtp:host:port | lmtp:host:port | lmtp:/socket | maildir:/path")->required();
    add->add_option("--recipients", stored->recipients, "list | backend | any")->capture_default_str();
    add->add_option("--tag-threshold", stored->tag_threshold)->capture_default_str();
    add->add_option("--reject-threshold", stored->reject_threshold)->capture_default_str();
    add->callback([config, stored] {
      stored->name = smtp::to_lower_ascii(stored->name);
      if (!smtp::valid_domain(stored->name, true) || stored->name.find('.') == std::string::npos) {
        std::cerr << "gatehouse domain add: \"" << stored->name << "\" is not a domain name\n";
        throw ExitCode{2};
      }
      if (auto backend = BackendAddress::parse(stored->backend); !backend) {
        std::cerr << "gatehouse domain add: --backend: " << backend.error().message << "\n";
        throw ExitCode{2};
      }
      if (stored->recipients != "list" && stored->recipients != "backend" && stored->recipients != "any") {
        std::cerr << "gatehouse domain add: --recipients must be list, backend or any\n";
        throw ExitCode{2};
      }
      if (stored->tag_threshold > stored->reject_threshold) {
        std::cerr << "gatehouse domain add: --tag-threshold must not exceed --reject-threshold\n";
        throw ExitCode{2};
      }
      throw ExitCode{report(open_state_or_exit(*config)->put_domain(*stored), "domain " + stored->name + " saved")};
    });
    auto name = std::make_shared<std::string>();
    auto* remove = domain->add_subcommand("remove", "Remove a domain added at run time");
    remove->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
    remove->add_option("name", *name, "Domain name")->required();
    remove->callback([config, name] {
      throw ExitCode{report(open_state_or_exit(*config)->remove_domain(smtp::to_lower_ascii(*name)), "domain " + *name + " removed")};
    });
    auto* list = domain->add_subcommand("list", "List domains (configuration file and state database)");
    list->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
    list->callback([config] {
      auto loaded = load_or_report(*config);
      if (!loaded) throw ExitCode{2};
      auto store = open_state_or_exit(*config);
      std::cout << fmt::format("{:<30} {:<36} {:<10} {:>5} {:>6}  {}\n", "DOMAIN", "BACKEND", "RECIPIENTS", "TAG", "REJECT", "SOURCE");
      auto mode = [](RecipientValidation v) {
        return v == RecipientValidation::list ? "list" : v == RecipientValidation::backend ? "backend" : "any";
      };
      for (auto& d : loaded->domains)
        std::cout << fmt::format("{:<30} {:<36} {:<10} {:>5.1f} {:>6.1f}  {}\n", d.name, d.backend.text, mode(d.recipients),
                                 d.tag_threshold, d.reject_threshold, "config");
      for (auto& d : store->domains())
        std::cout << fmt::format("{:<30} {:<36} {:<10} {:>5.1f} {:>6.1f}  {}\n", d.name, d.backend, d.recipients,
                                 d.tag_threshold, d.reject_threshold, "database");
      throw ExitCode{0};
    });
  }
  {
    auto* address = app.add_subcommand("address", "Recipient addresses (for domains with recipients = list)");
    address->require_subcommand(1);
    auto addresses = std::make_shared<std::vector<std::string>>();
    auto* add = address->add_subcommand("add", "Add addresses");
    add->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
    add->add_option("address", *addresses, "Address(es)")->required();
    add->callback([config, addresses] {
      auto store = open_state_or_exit(*config);
      int failures = 0;
      for (auto& a : *addresses) {
        auto parsed = smtp::parse_mailbox(a, true);
        if (!parsed || parsed->domain.empty()) {
          std::cerr << "gatehouse address add: \"" << a << "\" is not an address\n";
          ++failures;
          continue;
        }
        failures += report(store->add_address(smtp::to_lower_ascii(parsed->text())), "added " + parsed->text());
      }
      throw ExitCode{failures ? 1 : 0};
    });
    auto* remove = address->add_subcommand("remove", "Remove addresses");
    remove->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
    remove->add_option("address", *addresses, "Address(es)")->required();
    remove->callback([config, addresses] {
      auto store = open_state_or_exit(*config);
      int failures = 0;
      for (auto& a : *addresses) failures += report(store->remove_address(smtp::to_lower_ascii(a)), "removed " + a);
      throw ExitCode{failures ? 1 : 0};
    });
    auto domain = std::make_shared<std::string>();
    auto* list = address->add_subcommand("list", "List addresses");
    list->add_option("--config,-c", *config, "Configuration file")->capture_default_str();
    list->add_option("domain", *domain, "Only this domain");
    list->callback([config, domain] {
      auto loaded = load_or_report(*config);
      if (!loaded) throw ExitCode{2};
      for (auto& d : loaded->domains)
        if (domain->empty() || d.name == *domain)
          for (auto& a : d.addresses) std::cout << a << "  (config)\n";
      for (auto& a : open_state_or_exit(*config)->addresses(*domain)) std::cout << a << "\n";
      throw ExitCode{0};
    });
  }
}

}  // namespace gatehouse::cli
