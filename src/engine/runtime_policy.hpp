// Policy changed at run time (the web administration's Lists and Settings pages, src/web/api_policy.cpp),
// kept in the store as JSON settings and laid over the configuration file: the file stays the
// administrator's, and what the web adds or overrides is shown as such and can be taken back.
//
//   "lists"          global white list, black list, No Host Checks, trusted networks, spam traps
//   "lists:DOMAIN"   a domain's white list, black list, No Host Checks (for its domain administrators)
//   "settings"       SPF on/off, antivirus on/off, retention days, block-list zones on/off and added
//
// List entries are added to the file's (never replace them); settings override the file's values.
// The daemon re-applies everything when the store's state generation changes (src/cli/serve.cpp),
// so a change reaches the next transaction without a restart.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"

namespace gatehouse {
class Store;
}

namespace gatehouse::engine {

struct RuntimeLists {
  std::map<std::string, std::vector<std::string>> entries;   // list name → entries as typed
};

// The lists a scope has: the global scope all of them, a domain the sender lists.
const std::vector<std::string>& list_names(bool global);
// Whether `entry` may go in list `name` (the configuration file's rules); the error says why not.
Status validate_list_entry(std::string_view name, std::string_view entry);

struct AddedDnsList {
  std::string zone;
  Action action = Action::of(Action::Kind::reject);   // for any answer
};

struct RuntimeSettings {
  std::optional<bool> spf;
  std::optional<bool> antivirus;
  std::optional<unsigned> retention_days;
  std::map<std::string, bool> dns_lists;   // a configured zone → on/off
  std::vector<AddedDnsList> added_dns_lists;
};

std::string lists_key(std::string_view domain);   // "lists" or "lists:DOMAIN"
inline constexpr std::string_view settings_key = "settings";

// JSON documents as kept in the store. Reading validates every value (nothing invalid is applied).
Result<RuntimeLists> parse_lists(std::string_view json, bool global);
std::string to_json(const RuntimeLists& lists);
Result<RuntimeSettings> parse_settings(std::string_view json);
std::string to_json(const RuntimeSettings& settings);

// The stored lists and settings of `store` (empty when none or unreadable: logged).
RuntimeLists stored_lists(Store& store, std::string_view domain);
RuntimeSettings stored_settings(Store& store);

// The configuration file's values with the stored global lists and settings laid over them
// (domains' own lists are laid over in build_domain_table, engine/policy.cpp).
Config with_runtime_policy(Config config, Store& store);
// Adds a domain's stored lists to its policy.
void apply_domain_lists(FilterPolicy& policy, const RuntimeLists& lists);

}  // namespace gatehouse::engine
