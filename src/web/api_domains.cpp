// The API's domain routes (the Domains page): the domains served, from the configuration file and
// added or changed on the web (kept in the store, laid over the file's: a change of a configured
// domain keeps the rest of its file settings), and each domain's e-mail addresses with CSV import
// and export. A change reaches the next transaction at once (the gateway's state is rebuilt).
//
// Administrators manage every domain; a domain administrator sees and edits only theirs, and may
// not move its mail elsewhere (the back-end), add or remove domains. Every change is audited.
#include <spdlog/spdlog.h>

#include <set>

#include "engine/gateway.hpp"
#include "engine/policy.hpp"
#include "smtp/command.hpp"
#include "web/api_routes.hpp"

namespace gatehouse::web {
namespace {

const char* recipients_text(RecipientValidation mode) {
  switch (mode) {
    case RecipientValidation::any: return "any";
    case RecipientValidation::backend: return "backend";
    case RecipientValidation::list: break;
  }
  return "list";
}

bool valid_domain_name(const std::string& name) {
  return smtp::valid_domain(name, true) && name.find('.') != std::string::npos;
}

// What the gateway has in force for each domain (the file's and the store's, merged).
std::shared_ptr<const DomainTable> domain_table(ApiContext& context) {
  if (context.services.gateway) return context.services.gateway->domains();
  return build_domain_table(*context.config(), &context.store);
}

boost::json::object domain_json(ApiContext& context, const DomainConfig& domain, const std::set<std::string>& configured,
                                const std::vector<StoredDomain>& stored) {
  const StoredDomain* web = nullptr;
  for (const auto& s : stored)
    if (to_lower_ascii(s.name) == domain.name) web = &s;
  const bool in_file = configured.count(domain.name) > 0;
  boost::json::object json{
      {"name", domain.name},
      {"backend", domain.backend.text},
      {"recipients", recipients_text(domain.recipients)},
      {"tag_threshold", domain.tag_threshold},
      {"reject_threshold", domain.reject_threshold},
      {"reject_text", web ? web->reject_text : std::string()},   // "" = the global text
      {"reject_text_in_force", domain.policy.replies.count("score") ? domain.policy.replies.at("score") : std::string()},
      {"source", in_file && web ? "file+web" : in_file ? "file" : "web"},
      {"addresses", context.store.addresses(domain.name).size() + domain.addresses.size()},
  };
  json["greylisting"] = web && web->greylisting ? boost::json::value(*web->greylisting) : boost::json::value(nullptr);
  json["greylisting_in_force"] = domain.policy.greylisting;
  return json;
}

Response list_domains(ApiContext& context, const Principal& principal) {
  auto config = context.config();
  std::set<std::string> configured;
  for (const auto& d : config->domains) configured.insert(d.name);
  auto stored = context.store.domains();
  auto table = domain_table(context);
  boost::json::array out;
  for (const auto& [name, domain] : table->domains)
    if (may_manage_domain(principal, name)) out.push_back(domain_json(context, domain, configured, stored));
  return Response::json(200, boost::json::object{{"domains", std::move(out)}});
}

// The domain as it is stored on the web: the web's own, or a copy of the file's to change.
std::optional<StoredDomain> current_stored(ApiContext& context, const std::string& name) {
  for (auto& s : context.store.domains())
    if (to_lower_ascii(s.name) == name) return s;
  auto table = domain_table(context);
  if (const auto* d = table->find(name)) {
    StoredDomain copy;
    copy.name = name;
    copy.backend = d->backend.text;
    copy.recipients = recipients_text(d->recipients);
    copy.tag_threshold = d->tag_threshold;
    copy.reject_threshold = d->reject_threshold;
    return copy;
  }
  return std::nullopt;
}

// Reads the body's fields over `domain`; the error response when one is not valid.
std::optional<Response> read_domain_fields(const boost::json::object& body, StoredDomain& domain, bool may_set_backend) {
  for (const auto& [key, value] : body) {
    if (key == "name") continue;
    if (key == "backend") {
      if (!value.is_string()) return Response::error(400, "backend: expected a string like \"smtp:10.0.0.5:25\"");
      std::string text(value.as_string());
      if (text != domain.backend && !may_set_backend)
        return Response::error(403, "only administrators may change where a domain's mail goes (backend)");
      auto parsed = BackendAddress::parse(text);
      if (!parsed) return Response::error(400, fmt::format("backend: {}", parsed.error().message));
      domain.backend = text;
    } else if (key == "recipients") {
      if (!value.is_string() || (value.as_string() != "list" && value.as_string() != "backend" && value.as_string() != "any"))
        return Response::error(400, "recipients: one of \"list\" (reject addresses not on the list), \"backend\" (ask the back-end), \"any\" (reject none)");
      domain.recipients = std::string(value.as_string());
    } else if (key == "tag_threshold" || key == "reject_threshold") {
      if (!value.is_number()) return Response::error(400, fmt::format("{}: expected a number", std::string_view(key)));
      double number = value.to_number<double>();
      if (!(number >= -1000 && number <= 1000)) return Response::error(400, fmt::format("{}: expected a number from -1000 to 1000", std::string_view(key)));
      (key == "tag_threshold" ? domain.tag_threshold : domain.reject_threshold) = number;
    } else if (key == "greylisting") {
      if (!value.is_bool() && !value.is_null()) return Response::error(400, "greylisting: true, false or null (as configured)");
      domain.greylisting = value.is_null() ? std::nullopt : std::optional<bool>(value.as_bool());
    } else if (key == "reject_text") {
      if (!value.is_string()) return Response::error(400, "reject_text: expected a string");
      std::string text(value.as_string());
      if (text.size() > 400) return Response::error(400, "reject_text: at most 400 characters");
      for (unsigned char c : text)
        if (c < 0x20 || c > 0x7e)
          return Response::error(400, "reject_text: printable ASCII only (an SMTP reply line), no line breaks");
      domain.reject_text = std::move(text);
    } else {
      return Response::error(400, fmt::format("unknown field \"{}\"", std::string_view(key)));
    }
  }
  if (domain.tag_threshold > domain.reject_threshold)
    return Response::error(400, fmt::format("tag_threshold ({}) must not be greater than reject_threshold ({})",
                                            domain.tag_threshold, domain.reject_threshold));
  return std::nullopt;
}

std::string describe(const StoredDomain& d) {
  return fmt::format("{}: backend {}, recipients {}, tag {}, reject {}, greylisting {}, reject text \"{}\"", d.name,
                     d.backend, d.recipients, d.tag_threshold, d.reject_threshold,
                     d.greylisting ? (*d.greylisting ? "on" : "off") : "as configured", d.reject_text);
}

Response add_domain(ApiContext& context, const Request& request, const Principal& principal) {
  if (!is_admin(principal)) return Response::error(403, "only administrators may add domains");
  JsonBody body = read_json_object(request);
  if (body.error) return *body.error;
  const auto* name = body.object.if_contains("name");
  if (!name || !name->is_string() || !body.object.if_contains("backend"))
    return Response::error(400, "expected {\"name\": \"example.org\", \"backend\": \"smtp:10.0.0.5:25\", …}");
  StoredDomain domain;
  domain.name = to_lower_ascii(std::string(name->as_string()));
  if (!valid_domain_name(domain.name)) return Response::error(400, fmt::format("name: \"{}\" is not a domain name", domain.name));
  if (domain_table(context)->find(domain.name)) return Response::error(409, fmt::format("domain {} exists already", domain.name));
  if (auto error = read_domain_fields(body.object, domain, true)) return *error;
  if (auto saved = context.store.put_domain(domain); !saved) return Response::error(500, saved.error().message);
  context.state_changed();
  context.audit(request, principal.user.name, "domain.add", describe(domain));
  spdlog::info("web: user \"{}\" added domain {}", principal.user.name, domain.name);
  return Response::json(201, boost::json::object{{"name", domain.name}});
}

Response change_domain(ApiContext& context, const Request& request, const Principal& principal, const std::string& id) {
  const std::string name = to_lower_ascii(id);
  if (!may_manage_domain(principal, name)) return Response::error(404, "no such domain");
  auto domain = current_stored(context, name);
  if (!domain) return Response::error(404, "no such domain");
  JsonBody body = read_json_object(request);
  if (body.error) return *body.error;
  if (auto error = read_domain_fields(body.object, *domain, is_admin(principal))) return *error;
  if (auto saved = context.store.put_domain(*domain); !saved) return Response::error(500, saved.error().message);
  context.state_changed();
  context.audit(request, principal.user.name, "domain.change", describe(*domain));
  spdlog::info("web: user \"{}\" changed domain {}", principal.user.name, name);
  return Response::json(200, boost::json::object{{"name", name}});
}

Response remove_domain(ApiContext& context, const Request& request, const Principal& principal, const std::string& id) {
  if (!is_admin(principal)) return Response::error(403, "only administrators may remove domains");
  const std::string name = to_lower_ascii(id);
  bool stored = false;
  for (const auto& s : context.store.domains()) stored = stored || to_lower_ascii(s.name) == name;
  bool in_file = false;
  for (const auto& d : context.config()->domains) in_file = in_file || d.name == name;
  if (!stored) {
    if (in_file) return Response::error(409, fmt::format("{} is defined in the configuration file {}; remove it there", name,
                                                          context.config()->file.string()));
    return Response::error(404, "no such domain");
  }
  if (auto removed = context.store.remove_domain(name); !removed) return Response::error(500, removed.error().message);
  context.state_changed();
  context.audit(request, principal.user.name, "domain.remove",
                in_file ? fmt::format("{} (back to the configuration file's settings)", name) : name);
  return Response::no_content();
}

// ---- addresses

Response list_addresses(ApiContext& context, const Request& request, const Principal& principal, const std::string& id) {
  const std::string name = to_lower_ascii(id);
  auto table = domain_table(context);
  const auto* domain = table->find(name);
  if (!domain || !may_manage_domain(principal, name)) return Response::error(404, "no such domain");
  auto format = request.query.count("format") ? request.query.at("format") : std::string("json");
  if (format != "json" && format != "csv") return Response::error(400, "format: json or csv");
  std::vector<std::pair<std::string, std::string>> rows;   // address, source
  for (const auto& a : domain->addresses) rows.emplace_back(a, "file");
  for (const auto& a : context.store.addresses(name)) rows.emplace_back(a, "web");
  std::sort(rows.begin(), rows.end());
  if (format == "csv") {
    Response response;
    response.content_type = "text/csv; charset=utf-8";
    response.body = "address,source\r\n";
    for (const auto& [address, source] : rows) response.body += address + "," + source + "\r\n";
    response.headers.emplace_back("Content-Disposition", fmt::format("attachment; filename=\"{}-addresses.csv\"", name));
    return response;
  }
  boost::json::array out;
  for (const auto& [address, source] : rows) out.push_back(boost::json::object{{"address", address}, {"source", source}});
  return Response::json(200, boost::json::object{{"domain", name}, {"addresses", std::move(out)}});
}

// One address of `domain`, lower-cased; nullopt when it is not one.
std::optional<std::string> address_of_domain(std::string text, const std::string& domain) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.erase(0, 1);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  text = to_lower_ascii(text);
  auto at = text.rfind('@');
  if (at == std::string::npos || at == 0 || text.substr(at + 1) != domain || text.size() > 254) return std::nullopt;
  for (unsigned char c : text.substr(0, at))
    if (c <= ' ' || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == 0x7f) return std::nullopt;
  return text;
}

Response add_addresses(ApiContext& context, const Request& request, const Principal& principal, const std::string& id) {
  const std::string name = to_lower_ascii(id);
  auto table = domain_table(context);
  if (!table->find(name) || !may_manage_domain(principal, name)) return Response::error(404, "no such domain");
  std::string type = to_lower_ascii(request.header("content-type"));
  type = type.substr(0, type.find(';'));
  std::vector<std::string> wanted;
  boost::json::array problems;
  if (type == "text/csv") {
    // CSV import: the first column of each line; a header line "address" is skipped.
    std::size_t line_number = 0, pos = 0;
    const std::string& body = request.body;
    while (pos < body.size()) {
      auto end = body.find('\n', pos);
      std::string line = body.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      pos = end == std::string::npos ? body.size() : end + 1;
      ++line_number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::string first = line.substr(0, line.find(','));
      if (first.find_first_not_of(" \t") == std::string::npos) continue;
      if (line_number == 1 && to_lower_ascii(first) == "address") continue;
      if (auto address = address_of_domain(first, name)) wanted.push_back(*address);
      else if (problems.size() < 100)
        problems.push_back(boost::json::object{{"line", line_number}, {"text", first},
                                               {"error", fmt::format("not an address of {}", name)}});
    }
    if (line_number > 100000) return Response::error(413, "at most 100,000 lines at a time");
  } else {
    JsonBody body = read_json_object(request);
    if (body.error) return Response::error(415, "send {\"address\": \"…\"} as application/json, or a CSV file as text/csv");
    const auto* address = body.object.if_contains("address");
    if (!address || !address->is_string()) return Response::error(400, "expected {\"address\": \"alice@example.org\"}");
    auto parsed = address_of_domain(std::string(address->as_string()), name);
    if (!parsed) return Response::error(400, fmt::format("\"{}\" is not an address of {}", std::string(address->as_string()), name));
    wanted.push_back(*parsed);
  }
  std::size_t added = 0, present = 0;
  for (const auto& address : wanted) {
    if (table->addresses.count(address)) {
      ++present;
      continue;
    }
    if (auto result = context.store.add_address(address); !result) return Response::error(500, result.error().message);
    ++added;
  }
  if (added) context.state_changed();
  if (added || type == "text/csv")
    context.audit(request, principal.user.name, type == "text/csv" ? "address.import" : "address.add",
                  wanted.size() == 1 ? wanted.front() : fmt::format("{}: {} added, {} present, {} refused", name, added, present, problems.size()));
  return Response::json(200, boost::json::object{{"added", added}, {"present", present}, {"refused", std::move(problems)}});
}

Response remove_address(ApiContext& context, const Request& request, const Principal& principal, const std::string& id) {
  const std::string address = to_lower_ascii(id);
  const std::string domain = domain_of(address);
  if (domain.empty() || !may_manage_domain(principal, domain)) return Response::error(404, "no such address");
  auto stored = context.store.addresses(domain);
  if (std::find(stored.begin(), stored.end(), address) == stored.end()) {
    auto table = domain_table(context);
    if (const auto* d = table->find(domain); d && std::find(d->addresses.begin(), d->addresses.end(), address) != d->addresses.end())
      return Response::error(409, fmt::format("{} is listed in the configuration file {}; remove it there", address,
                                              context.config()->file.string()));
    return Response::error(404, "no such address");
  }
  if (auto removed = context.store.remove_address(address); !removed) return Response::error(500, removed.error().message);
  context.state_changed();
  context.audit(request, principal.user.name, "address.remove", address);
  return Response::no_content();
}

}  // namespace

void add_domain_routes(Routes& routes, ApiContext& context) {
  routes.push_back({"GET", "/api/v1/domains", true, [&context](const Request&, const Principal* principal, const std::string&) {
                      return list_domains(context, *principal);
                    }});
  routes.push_back({"POST", "/api/v1/domains", true, [&context](const Request& request, const Principal* principal, const std::string&) {
                      return add_domain(context, request, *principal);
                    }});
  routes.push_back({"PUT", "/api/v1/domains/{id}", true,
                    [&context](const Request& request, const Principal* principal, const std::string& id) {
                      return change_domain(context, request, *principal, id);
                    }});
  routes.push_back({"DELETE", "/api/v1/domains/{id}", true,
                    [&context](const Request& request, const Principal* principal, const std::string& id) {
                      return remove_domain(context, request, *principal, id);
                    }});
  routes.push_back({"GET", "/api/v1/domains/{id}/addresses", true,
                    [&context](const Request& request, const Principal* principal, const std::string& id) {
                      return list_addresses(context, request, *principal, id);
                    }});
  routes.push_back({"POST", "/api/v1/domains/{id}/addresses", true,
                    [&context](const Request& request, const Principal* principal, const std::string& id) {
                      return add_addresses(context, request, *principal, id);
                    }});
  routes.push_back({"DELETE", "/api/v1/addresses/{id}", true,
                    [&context](const Request& request, const Principal* principal, const std::string& id) {
                      return remove_address(context, request, *principal, id);
                    }});
}

}  // namespace gatehouse::web
