// Policy changed at run time, laid over the configuration file. See runtime_policy.hpp.
#include "engine/runtime_policy.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/text.hpp"
#include "smtp/command.hpp"
#include "store/store.hpp"

namespace gatehouse::engine {
namespace {

Error failure(std::string message) {
  Error error;
  error.message = std::move(message);
  return error;
}

bool is_domain_name(std::string_view name) { return smtp::valid_domain(name, false); }

Status validate_address(std::string_view entry) {
  auto at = entry.rfind('@');
  if (at == std::string_view::npos || at == 0 || !is_domain_name(entry.substr(at + 1)) ||
      entry.find_first_of(" \t\r\n<>,;\"") != std::string_view::npos)
    return failure(fmt::format("expected an address like trap@example.test, got \"{}\"", entry));
  return Ok{};
}

Result<Action> parse_action(const boost::json::value& value) {
  if (value.is_number()) {
    double score = value.to_number<double>();
    if (score < -100 || score > 100) return failure("a block list's score must be between -100 and 100");
    return Action::points(score);
  }
  if (value.is_string() && value.as_string() == "reject") return Action::of(Action::Kind::reject);
  if (value.is_string() && value.as_string() == "tempfail") return Action::of(Action::Kind::tempfail);
  return failure("a block list's action must be a score or \"reject\" or \"tempfail\"");
}

boost::json::value action_json(const Action& action) {
  if (action.kind == Action::Kind::score) return action.score;
  return boost::json::string(action.text());
}

Result<boost::json::object> parse_object(std::string_view json) {
  boost::system::error_code error;
  auto value = boost::json::parse(json, error);
  if (error || !value.is_object()) return failure("not a JSON object");
  return std::move(value.as_object());
}

}  // namespace

const std::vector<std::string>& list_names(bool global) {
  static const std::vector<std::string> all = {"whitelist", "blacklist", "no_host_checks", "trusted_networks", "spam_traps"};
  static const std::vector<std::string> domain = {"whitelist", "blacklist", "no_host_checks"};
  return global ? all : domain;
}

Status validate_list_entry(std::string_view name, std::string_view entry) {
  if (entry.empty()) return failure("empty entry");
  if (entry.size() > 320) return failure("entry longer than 320 characters");
  if (name == "whitelist" || name == "blacklist" || name == "no_host_checks") {
    SenderList scratch;
    return scratch.add(entry);
  }
  if (name == "trusted_networks") {
    auto network = Network::parse(entry);
    if (!network) return network.error();
    return Ok{};
  }
  if (name == "spam_traps") return validate_address(to_lower_ascii(entry));
  return failure(fmt::format("no list named \"{}\"", name));
}

std::string lists_key(std::string_view domain) {
  return domain.empty() ? std::string("lists") : "lists:" + to_lower_ascii(domain);
}

Result<RuntimeLists> parse_lists(std::string_view json, bool global) {
  auto object = parse_object(json);
  if (!object) return object.error();
  RuntimeLists lists;
  const auto& names = list_names(global);
  for (const auto& [key, value] : *object) {
    std::string name(key);
    if (std::find(names.begin(), names.end(), name) == names.end())
      return failure(fmt::format("no list named \"{}\"{}", name, global ? "" : " for a domain"));
    if (!value.is_array()) return failure(fmt::format("{}: expected an array of strings", name));
    auto& entries = lists.entries[name];
    for (const auto& item : value.as_array()) {
      if (!item.is_string()) return failure(fmt::format("{}: expected an array of strings", name));
      std::string entry(item.as_string());
      if (auto valid = validate_list_entry(name, entry); !valid)
        return failure(fmt::format("{}: {}", name, valid.error().message));
      auto lower = to_lower_ascii(entry);
      bool duplicate = std::any_of(entries.begin(), entries.end(), [&](const std::string& e) { return to_lower_ascii(e) == lower; });
      if (!duplicate) entries.push_back(std::move(entry));
    }
  }
  return lists;
}

std::string to_json(const RuntimeLists& lists) {
  boost::json::object object;
  for (const auto& [name, entries] : lists.entries) {
    if (entries.empty()) continue;
    boost::json::array array;
    for (const auto& entry : entries) array.emplace_back(entry);
    object[name] = std::move(array);
  }
  return boost::json::serialize(object);
}

Result<RuntimeSettings> parse_settings(std::string_view json) {
  auto object = parse_object(json);
  if (!object) return object.error();
  RuntimeSettings settings;
  for (const auto& [key, value] : *object) {
    if (key == "spf" || key == "antivirus") {
      if (!value.is_bool()) return failure(fmt::format("{}: expected true or false", std::string_view(key)));
      (key == "spf" ? settings.spf : settings.antivirus) = value.as_bool();
    } else if (key == "retention_days") {
      if (!value.is_int64() || value.as_int64() < 1 || value.as_int64() > 3650)
        return failure("retention_days: expected a whole number of days from 1 to 3650");
      settings.retention_days = static_cast<unsigned>(value.as_int64());
    } else if (key == "dns_lists") {
      if (!value.is_object()) return failure("dns_lists: expected an object of zone → true/false");
      for (const auto& [zone, enabled] : value.as_object()) {
        if (!enabled.is_bool()) return failure(fmt::format("dns_lists.{}: expected true or false", std::string_view(zone)));
        settings.dns_lists[to_lower_ascii(zone)] = enabled.as_bool();
      }
    } else if (key == "added_dns_lists") {
      if (!value.is_array()) return failure("added_dns_lists: expected an array");
      for (const auto& item : value.as_array()) {
        if (!item.is_object() || !item.as_object().contains("zone") || !item.as_object().at("zone").is_string())
          return failure("added_dns_lists: each entry needs a zone");
        AddedDnsList list;
        list.zone = to_lower_ascii(item.as_object().at("zone").as_string());
        if (!is_domain_name(list.zone))
          return failure(fmt::format("added_dns_lists: \"{}\" is not a DNS zone name", list.zone));
        if (auto* action = item.as_object().if_contains("action")) {
          auto parsed = parse_action(*action);
          if (!parsed) return failure(fmt::format("added_dns_lists {}: {}", list.zone, parsed.error().message));
          list.action = *parsed;
        }
        for (const auto& other : settings.added_dns_lists)
          if (other.zone == list.zone) return failure(fmt::format("added_dns_lists: {} is there twice", list.zone));
        settings.added_dns_lists.push_back(std::move(list));
      }
    } else {
      return failure(fmt::format("no setting named \"{}\"", std::string_view(key)));
    }
  }
  return settings;
}

std::string to_json(const RuntimeSettings& settings) {
  boost::json::object object;
  if (settings.spf) object["spf"] = *settings.spf;
  if (settings.antivirus) object["antivirus"] = *settings.antivirus;
  if (settings.retention_days) object["retention_days"] = *settings.retention_days;
  if (!settings.dns_lists.empty()) {
    boost::json::object zones;
    for (const auto& [zone, enabled] : settings.dns_lists) zones[zone] = enabled;
    object["dns_lists"] = std::move(zones);
  }
  if (!settings.added_dns_lists.empty()) {
    boost::json::array added;
    for (const auto& list : settings.added_dns_lists)
      added.push_back(boost::json::object{{"zone", list.zone}, {"action", action_json(list.action)}});
    object["added_dns_lists"] = std::move(added);
  }
  return boost::json::serialize(object);
}

RuntimeLists stored_lists(Store& store, std::string_view domain) {
  auto key = lists_key(domain);
  auto text = store.setting(key);
  if (!text) return {};
  auto lists = parse_lists(*text, domain.empty());
  if (!lists) {
    spdlog::error("store setting {} is not valid and is ignored: {}", key, lists.error().message);
    return {};
  }
  return std::move(*lists);
}

RuntimeSettings stored_settings(Store& store) {
  auto text = store.setting(std::string(settings_key));
  if (!text) return {};
  auto settings = parse_settings(*text);
  if (!settings) {
    spdlog::error("store setting {} is not valid and is ignored: {}", settings_key, settings.error().message);
    return {};
  }
  return std::move(*settings);
}

void apply_domain_lists(FilterPolicy& policy, const RuntimeLists& lists) {
  bool changed = false;
  auto add = [&](const char* name, SenderList& list) {
    auto it = lists.entries.find(name);
    if (it == lists.entries.end()) return;
    for (const auto& entry : it->second) changed = static_cast<bool>(list.add(entry)) || changed;
  };
  add("whitelist", policy.whitelist);
  add("blacklist", policy.blacklist);
  add("no_host_checks", policy.no_host_checks);
  if (changed) policy.update_fingerprint();
}

Config with_runtime_policy(Config config, Store& store) {
  const RuntimeLists lists = stored_lists(store, {});
  const RuntimeSettings settings = stored_settings(store);

  auto apply_policy = [&](FilterPolicy& policy) {
    apply_domain_lists(policy, lists);
    if (settings.spf) {
      policy.checks["spf"].enabled = *settings.spf;
      policy.update_fingerprint();
    }
  };
  apply_policy(config.policy);
  for (auto& domain : config.domains) apply_policy(domain.policy);

  if (auto it = lists.entries.find("trusted_networks"); it != lists.entries.end())
    for (const auto& entry : it->second)
      if (auto network = Network::parse(entry)) config.trusted_networks.push_back(*network);
  if (auto it = lists.entries.find("spam_traps"); it != lists.entries.end())
    for (const auto& entry : it->second) {
      auto address = to_lower_ascii(entry);
      if (std::find(config.traps.addresses.begin(), config.traps.addresses.end(), address) == config.traps.addresses.end())
        config.traps.addresses.push_back(address);
    }

  if (settings.antivirus) config.antivirus.enabled = *settings.antivirus;
  if (settings.retention_days) config.retention_days = *settings.retention_days;
  std::erase_if(config.dns_lists, [&](const DnsListConfig& list) {
    auto it = settings.dns_lists.find(to_lower_ascii(list.zone));
    return it != settings.dns_lists.end() && !it->second;
  });
  for (const auto& added : settings.added_dns_lists) {
    auto it = settings.dns_lists.find(added.zone);
    if (it != settings.dns_lists.end() && !it->second) continue;
    DnsListConfig list;
    list.zone = added.zone;
    list.other = added.action;
    config.dns_lists.push_back(std::move(list));
  }
  return config;
}

}  // namespace gatehouse::engine
