// The API's list and settings routes (the Lists and Settings pages, and the message detail's
// "white-list / black-list the sender"): the entries and settings the web adds to or overrides in
// the configuration file, kept in the store (engine/runtime_policy.hpp). Each answer shows the
// file's values beside the web's, so an administrator sees where a value comes from. A change
// reaches the next transaction at once.
//
// Global lists and the settings: administrators. A domain's white list, black list and No Host
// Checks: its domain administrators too. Every change is audited.
#include <spdlog/spdlog.h>

#include "engine/gateway.hpp"
#include "engine/runtime_policy.hpp"
#include "web/api_routes.hpp"

namespace gatehouse::web {
namespace {

using engine::RuntimeLists;
using engine::RuntimeSettings;

// The configuration file's values (the gateway keeps them apart from the web's).
std::shared_ptr<const Config> file_config(ApiContext& context) {
  if (context.services.gateway) return context.services.gateway->file_config();
  return context.config();
}

boost::json::array strings(const std::vector<std::string>& values) {
  boost::json::array out;
  for (const auto& v : values) out.emplace_back(v);
  return out;
}

const FilterPolicy* file_policy(const Config& config, const std::string& domain) {
  if (domain.empty()) return &config.policy;
  for (const auto& d : config.domains)
    if (d.name == domain) return &d.policy;
  return nullptr;
}

// The file's entries of one list, for a scope. A domain's policy has the global lists in it too:
// only its own are shown (the global ones are the global scope's).
std::vector<std::string> file_entries(const Config& config, const std::string& domain, const std::string& name) {
  if (name == "trusted_networks") {
    std::vector<std::string> out;
    for (const auto& n : config.trusted_networks) out.push_back(n.text);
    return out;
  }
  if (name == "spam_traps") return config.traps.addresses;
  auto pick = [&](const FilterPolicy& policy) -> const std::vector<std::string>& {
    return name == "whitelist" ? policy.whitelist.entries : name == "blacklist" ? policy.blacklist.entries : policy.no_host_checks.entries;
  };
  const FilterPolicy* policy = file_policy(config, domain);
  if (!policy) return {};
  std::vector<std::string> entries = pick(*policy);
  if (!domain.empty()) {
    const auto& global = pick(config.policy);
    std::erase_if(entries, [&](const std::string& e) { return std::find(global.begin(), global.end(), e) != global.end(); });
  }
  return entries;
}

// The scope a request names: "" (global) or a domain the principal manages; nullopt = refused.
std::optional<std::string> scope_of(const Request& request, const boost::json::object* body, const Principal& principal,
                                    Response& refusal) {
  std::string domain;
  if (body) {
    if (const auto* value = body->if_contains("domain"); value && value->is_string()) domain = std::string(value->as_string());
  } else if (auto it = request.query.find("domain"); it != request.query.end()) {
    domain = it->second;
  }
  domain = to_lower_ascii(domain);
  if (domain.empty()) {
    if (is_admin(principal)) return domain;
    if (principal.user.domains.empty()) {
      refusal = Response::error(403, "no domains to manage");
      return std::nullopt;
    }
    refusal = Response::error(403, "the global lists are the administrators'; name one of your domains (domain=…)");
    return std::nullopt;
  }
  if (!may_manage_domain(principal, domain)) {
    refusal = Response::error(404, "no such domain");
    return std::nullopt;
  }
  return domain;
}

Response get_lists(ApiContext& context, const Request& request, const Principal& principal) {
  Response refusal;
  auto scope = scope_of(request, nullptr, principal, refusal);
  if (!scope) return refusal;
  auto config = file_config(context);
  RuntimeLists stored = engine::stored_lists(context.store, *scope);
  boost::json::object lists;
  for (const auto& name : engine::list_names(scope->empty())) {
    auto it = stored.entries.find(name);
    lists[name] = boost::json::object{{"file", strings(file_entries(*config, *scope, name))},
                                      {"web", strings(it == stored.entries.end() ? std::vector<std::string>{} : it->second)}};
  }
  return Response::json(200, boost::json::object{{"domain", *scope}, {"lists", std::move(lists)}});
}

Status save_lists(ApiContext& context, const std::string& scope, const RuntimeLists& lists) {
  return context.store.put_setting(engine::lists_key(scope), engine::to_json(lists));
}

Response put_list(ApiContext& context, const Request& request, const Principal& principal, const std::string& name) {
  JsonBody body = read_json_object(request);
  if (body.error) return *body.error;
  Response refusal;
  auto scope = scope_of(request, &body.object, principal, refusal);
  if (!scope) return refusal;
  const auto& names = engine::list_names(scope->empty());
  if (std::find(names.begin(), names.end(), name) == names.end())
    return Response::error(404, fmt::format("no list named \"{}\"{}", name, scope->empty() ? "" : " for a domain"));
  const auto* entries = body.object.if_contains("entries");
  if (!entries || !entries->is_array()) return Response::error(400, "expected {\"entries\": [\"…\"], \"domain\": \"…\" (optional)}");
  if (entries->as_array().size() > 10000) return Response::error(413, "at most 10,000 entries in one list");
  std::vector<std::string> values;
  for (const auto& entry : entries->as_array()) {
    if (!entry.is_string()) return Response::error(400, "entries: expected strings");
    std::string text(entry.as_string());
    if (auto valid = engine::validate_list_entry(name, text); !valid)
      return Response::json(400, boost::json::object{{"error", fmt::format("\"{}\": {}", text, valid.error().message)}, {"entry", text}});
    if (std::find(values.begin(), values.end(), text) == values.end()) values.push_back(std::move(text));
  }
  RuntimeLists lists = engine::stored_lists(context.store, *scope);
  auto before = lists.entries[name];
  lists.entries[name] = values;
  if (auto saved = save_lists(context, *scope, lists); !saved) return Response::error(500, saved.error().message);
  context.state_changed();
  std::vector<std::string> added, removed;
  for (const auto& v : values)
    if (std::find(before.begin(), before.end(), v) == before.end()) added.push_back(v);
  for (const auto& v : before)
    if (std::find(values.begin(), values.end(), v) == values.end()) removed.push_back(v);
  context.audit(request, principal.user.name, "list.change",
                fmt::format("{}{}: added [{}], removed [{}]", name, scope->empty() ? "" : " of " + *scope,
                            fmt::join(added, ", "), fmt::join(removed, ", ")));
  return Response::json(200, boost::json::object{{"domain", *scope}, {"list", name}, {"web", strings(values)}});
}

// "White-list / black-list the sender" of a message: its envelope sender, into the global list
// (administrators) or the list of the message's domain (domain administrators).
Response list_sender(ApiContext& context, const Request& request, const Principal& principal, const std::string& id) {
  auto record = visible_record(context, principal, id);
  if (!record) return Response::error(404, "no such message");
  JsonBody body = read_json_object(request);
  if (body.error) return *body.error;
  const auto* list = body.object.if_contains("list");
  if (!list || !list->is_string() || (list->as_string() != "whitelist" && list->as_string() != "blacklist"))
    return Response::error(400, "expected {\"list\": \"whitelist\"} or {\"list\": \"blacklist\"}");
  const std::string name(list->as_string());
  std::string sender = to_lower_ascii(record->mail_from);
  if (sender.empty()) return Response::error(409, "the message has no envelope sender (a bounce): nothing to list");
  if (auto valid = engine::validate_list_entry(name, sender); !valid)
    return Response::error(409, fmt::format("the sender \"{}\" cannot be listed: {}", sender, valid.error().message));
  std::string scope;
  if (!is_admin(principal)) {
    std::string domain = to_lower_ascii(record->domain);
    if (!may_manage_domain(principal, domain)) {
      for (const auto& r : record->recipients)
        if (may_manage_domain(principal, domain_of(r))) domain = domain_of(r);
    }
    if (!may_manage_domain(principal, domain)) return Response::error(404, "no such message");
    scope = domain;
  }
  RuntimeLists lists = engine::stored_lists(context.store, scope);
  auto& entries = lists.entries[name];
  const std::string other = name == "whitelist" ? "blacklist" : "whitelist";
  bool moved = std::erase(lists.entries[other], sender) > 0;
  if (std::find(entries.begin(), entries.end(), sender) == entries.end()) entries.push_back(sender);
  if (auto saved = save_lists(context, scope, lists); !saved) return Response::error(500, saved.error().message);
  context.state_changed();
  context.audit(request, principal.user.name, "list.sender",
                fmt::format("{} added to the {}{}{} (message {})", sender, name, scope.empty() ? "" : " of " + scope,
                            moved ? fmt::format(", removed from the {}", other) : "", record->id));
  return Response::json(200, boost::json::object{{"list", name}, {"domain", scope}, {"entry", sender}});
}

// ---- settings

boost::json::object settings_values(const Config& config) {
  return boost::json::object{{"spf", config.policy.check("spf").enabled},
                             {"antivirus", config.antivirus.enabled},
                             {"retention_days", config.retention_days}};
}

Response get_settings(ApiContext& context, const Principal& principal) {
  if (!is_admin(principal)) return Response::error(403, "only administrators may see the settings");
  auto file = file_config(context);
  // In the daemon the gateway has it; without one (the unit tests) it is computed as it would.
  auto in_force = context.services.gateway ? context.config()
                                           : std::make_shared<const Config>(engine::with_runtime_policy(*file, context.store));
  RuntimeSettings web = engine::stored_settings(context.store);
  boost::json::array zones;
  for (const auto& list : file->dns_lists) {
    auto it = web.dns_lists.find(to_lower_ascii(list.zone));
    zones.push_back(boost::json::object{{"zone", list.zone}, {"source", "file"},
                                        {"enabled", it == web.dns_lists.end() || it->second}});
  }
  for (const auto& added : web.added_dns_lists) {
    auto it = web.dns_lists.find(added.zone);
    boost::json::value action = added.action.kind == Action::Kind::score ? boost::json::value(added.action.score)
                                                                          : boost::json::value(added.action.text());
    zones.push_back(boost::json::object{{"zone", added.zone}, {"source", "web"}, {"action", action},
                                        {"enabled", it == web.dns_lists.end() || it->second}});
  }
  return Response::json(200, boost::json::object{{"file", settings_values(*file)},
                                                 {"web", boost::json::parse(engine::to_json(web))},
                                                 {"in_force", settings_values(*in_force)},
                                                 {"dns_lists", std::move(zones)}});
}

Response put_settings(ApiContext& context, const Request& request, const Principal& principal) {
  if (!is_admin(principal)) return Response::error(403, "only administrators may change the settings");
  JsonBody body = read_json_object(request);
  if (body.error) return *body.error;
  auto settings = engine::parse_settings(boost::json::serialize(body.object));
  if (!settings) return Response::error(400, settings.error().message);
  auto file = file_config(context);
  for (const auto& [zone, enabled] : settings->dns_lists) {
    bool known = std::any_of(file->dns_lists.begin(), file->dns_lists.end(), [&](const DnsListConfig& l) { return to_lower_ascii(l.zone) == zone; }) ||
                 std::any_of(settings->added_dns_lists.begin(), settings->added_dns_lists.end(), [&](const auto& l) { return l.zone == zone; });
    if (!known) return Response::error(400, fmt::format("dns_lists: {} is not a configured or added zone", zone));
  }
  for (const auto& added : settings->added_dns_lists)
    if (std::any_of(file->dns_lists.begin(), file->dns_lists.end(), [&](const DnsListConfig& l) { return to_lower_ascii(l.zone) == added.zone; }))
      return Response::error(409, fmt::format("added_dns_lists: {} is in the configuration file already", added.zone));
  const std::string before = engine::to_json(engine::stored_settings(context.store));
  const std::string after = engine::to_json(*settings);
  if (auto saved = context.store.put_setting(std::string(engine::settings_key), after == "{}" ? std::string() : after); !saved)
    return Response::error(500, saved.error().message);
  context.state_changed();
  context.audit(request, principal.user.name, "settings.change", fmt::format("{} → {}", before, after));
  return get_settings(context, principal);
}

}  // namespace

void add_list_routes(Routes& routes, ApiContext& context) {
  routes.push_back({"GET", "/api/v1/lists", true, [&context](const Request& request, const Principal* principal, const std::string&) {
                      return get_lists(context, request, *principal);
                    }});
  routes.push_back({"PUT", "/api/v1/lists/{id}", true,
                    [&context](const Request& request, const Principal* principal, const std::string& name) {
                      return put_list(context, request, *principal, name);
                    }});
  routes.push_back({"POST", "/api/v1/messages/{id}/sender-list", true,
                    [&context](const Request& request, const Principal* principal, const std::string& id) {
                      return list_sender(context, request, *principal, id);
                    }});
  routes.push_back({"GET", "/api/v1/settings", true, [&context](const Request&, const Principal* principal, const std::string&) {
                      return get_settings(context, *principal);
                    }});
  routes.push_back({"PUT", "/api/v1/settings", true, [&context](const Request& request, const Principal* principal, const std::string&) {
                      return put_settings(context, request, *principal);
                    }});
}

}  // namespace gatehouse::web
