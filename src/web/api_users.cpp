// The API's account routes, for administrators only: list the accounts (never their hashes), add
// one (an administrator, or with domains a domain administrator; the password rules and argon2id
// hash of `gatehouse admin add`), remove one (its sessions end; never one's own account, so the
// last administrator cannot lock everybody out). Every change goes to the audit log.
#include <spdlog/spdlog.h>

#include "smtp/command.hpp"
#include "web/api_routes.hpp"

namespace gatehouse::web {
namespace {

boost::json::object account_json(const User& user) {
  auto json = user_json(user);
  json["created"] = milliseconds_of(user.created);
  return json;
}

Response list_users(ApiContext& context) {
  boost::json::array out;
  for (const auto& user : context.store.users()) out.push_back(account_json(user));
  return Response::json(200, boost::json::object{{"users", std::move(out)}});
}

Response add_user(ApiContext& context, const Request& request, const Principal& principal) {
  JsonBody body = read_json_object(request);
  if (body.error) return *body.error;
  const auto* name = body.object.if_contains("username");
  const auto* password = body.object.if_contains("password");
  const auto* domains = body.object.if_contains("domains");
  if (!name || !name->is_string() || !password || !password->is_string() || (domains && !domains->is_array()))
    return Response::error(400, "expected {\"username\": \"…\", \"password\": \"…\", \"domains\": [\"…\"] (optional)}");
  User user;
  user.name = std::string(name->as_string());
  if (!valid_username(user.name))
    return Response::error(400, "username: 1 to 64 of A-Z a-z 0-9 . _ @ -, not starting with -");
  if (domains) {
    for (const auto& domain : domains->as_array()) {
      std::string text = domain.is_string() ? to_lower_ascii(std::string(domain.as_string())) : std::string();
      if (!smtp::valid_domain(text, true) || text.find('.') == std::string::npos)
        return Response::error(400, fmt::format("domains: \"{}\" is not a domain name",
                                                domain.is_string() ? std::string(domain.as_string()) : boost::json::serialize(domain)));
      user.domains.push_back(std::move(text));
    }
  }
  user.role = user.domains.empty() ? "admin" : "domain_admin";
  const std::string secret(password->as_string());
  if (auto problem = password_problem(secret); !problem.empty()) return Response::error(400, fmt::format("password: {}", problem));
  if (context.store.find_user(user.name)) return Response::error(409, fmt::format("user {} already exists", user.name));
  auto hash = hash_password(secret);
  if (!hash) {
    spdlog::error("web: {}", hash.error().message);
    return Response::error(500, "cannot hash the password");
  }
  user.password_hash = std::move(*hash);
  user.created = Clock::now();
  if (auto added = context.store.add_user(user); !added) return Response::error(409, added.error().message);
  const std::string what = user.domains.empty() ? "administrator" : fmt::format("domain administrator of {}", fmt::join(user.domains, ", "));
  spdlog::info("web: user \"{}\" added account {} ({})", principal.user.name, user.name, what);
  context.audit(request, principal.user.name, "user.add", fmt::format("{} ({})", user.name, what));
  return Response::json(201, account_json(user));
}

Response remove_user(ApiContext& context, const Request& request, const Principal& principal, const std::string& name) {
  if (name == principal.user.name) return Response::error(409, "you cannot remove your own account");
  if (!context.store.find_user(name)) return Response::error(404, "no such user");
  if (auto removed = context.store.remove_user(name); !removed) return Response::error(500, removed.error().message);
  spdlog::info("web: user \"{}\" removed account {}", principal.user.name, name);
  context.audit(request, principal.user.name, "user.remove", name);
  return Response::no_content();
}

Response admins_only() { return Response::error(403, "only administrators may manage accounts"); }

}  // namespace

void add_user_routes(Routes& routes, ApiContext& context) {
  routes.push_back({"GET", "/api/v1/users", true, [&context](const Request&, const Principal* principal, const std::string&) {
                      return is_admin(*principal) ? list_users(context) : admins_only();
                    }});
  routes.push_back({"POST", "/api/v1/users", true, [&context](const Request& request, const Principal* principal, const std::string&) {
                      return is_admin(*principal) ? add_user(context, request, *principal) : admins_only();
                    }});
  routes.push_back({"DELETE", "/api/v1/users/{id}", true,
                    [&context](const Request& request, const Principal* principal, const std::string& name) {
                      return is_admin(*principal) ? remove_user(context, request, *principal, name) : admins_only();
                    }});
}

}  // namespace gatehouse::web
