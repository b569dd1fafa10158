// The API's message log routes: search (newest first, cursor paging), one message with its
// headers, its raw source. A domain administrator sees only transactions with a recipient in
// their domains, and of those only their domains' recipients.
#include <algorithm>

#include "content/headers.hpp"
#include "store/record_json.hpp"
#include "web/api_routes.hpp"

namespace gatehouse::web {
namespace {

// A page cursor: "<milliseconds>.<id>" of the last row of the previous page.
std::string make_cursor(const TransactionRecord& record) {
  return fmt::format("{}.{}", milliseconds_of(record.time), record.id);
}

bool read_cursor(const std::string& text, SearchQuery& query) {
  auto dot = text.find('.');
  if (dot == std::string::npos) return false;
  auto milliseconds = parse_integer(std::string_view(text).substr(0, dot));
  std::string id = text.substr(dot + 1);
  if (!milliseconds || *milliseconds < 0 || id.empty() || id.size() > 64) return false;
  query.before_time = Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(*milliseconds)));
  query.before_id = id;
  return true;
}

// A record as a domain administrator may see it: recipients of other domains left out.
boost::json::object visible_json(const TransactionRecord& record, const User& user) {
  if (user.role == "admin") return record_to_json(record);
  TransactionRecord visible = record;
  auto mine = [&](const std::string& address) {
    return std::find(user.domains.begin(), user.domains.end(), domain_of(address)) != user.domains.end();
  };
  std::erase_if(visible.recipients, [&](const std::string& a) { return !mine(a); });
  std::erase_if(visible.rejected_recipients, [&](const std::string& a) { return !mine(a); });
  auto json = record_to_json(visible);
  json["hidden_recipients"] = (record.recipients.size() - visible.recipients.size()) +
                              (record.rejected_recipients.size() - visible.rejected_recipients.size());
  return json;
}

Response search(ApiContext& context, const Request& request, const Principal& principal) {
  SearchQuery query;
  query.limit = default_page;
  for (const auto& [key, value] : request.query) {
    if (key == "from" || key == "to") {
      auto time = parse_time(value);
      if (!time) return Response::error(400, fmt::format("{}: cannot read the time \"{}\" (use 2026-11-23T10:14:00Z, "
                                                         "milliseconds since 1970, or -2h)", key, value));
      (key == "from" ? query.since : query.until) = *time;
    } else if (key == "sender") query.sender = value;
    else if (key == "recipient") query.recipient = value;
    else if (key == "subject") query.subject = value;
    else if (key == "client_ip") query.client_ip = value;
    else if (key == "reason") query.reason = value;
    else if (key == "id") query.id = value;
    else if (key == "disposition") {
      static const std::vector<std::string> known{"accept", "tag", "reject", "tempfail", "abandoned"};
      if (std::find(known.begin(), known.end(), value) == known.end())
        return Response::error(400, "disposition: one of accept, tag, reject, tempfail, abandoned");
      query.disposition = value;
    } else if (key == "limit") {
      auto limit = parse_integer(value);
      if (!limit || *limit < 1 || *limit > static_cast<std::int64_t>(max_page))
        return Response::error(400, fmt::format("limit: a number from 1 to {}", max_page));
      query.limit = static_cast<std::size_t>(*limit);
    } else if (key == "before") {
      if (!read_cursor(value, query)) return Response::error(400, "before: not a cursor from a previous page's \"next\"");
    } else {
      return Response::error(400, fmt::format("unknown parameter \"{}\"", key));
    }
  }
  boost::json::array messages;
  boost::json::value next = nullptr;
  // A domain administrator sees only transactions with a recipient in their domains: a condition of
  // the query itself, so pages are full and counts honest.
  const bool restricted = !is_admin(principal);
  if (!restricted || !principal.user.domains.empty()) {
    if (restricted) query.visible_domains = principal.user.domains;
    const std::size_t page = query.limit;
    query.limit = page + 1;   // one more tells whether there is a next page
    auto rows = context.store.search(query);
    if (rows.size() > page) {
      rows.resize(page);
      next = boost::json::string(make_cursor(rows.back()));
    }
    for (const auto& row : rows) messages.push_back(visible_json(row, principal.user));
  }
  return Response::json(200, boost::json::object{{"messages", std::move(messages)}, {"next", std::move(next)}});
}

Response detail(ApiContext& context, const Principal& principal, const std::string& id) {
  auto record = visible_record(context, principal, id);
  if (!record) return Response::error(404, "no such message");
  auto json = visible_json(*record, principal.user);
  boost::json::array headers;
  if (record->has_message) {
    if (auto message = context.store.message(record->id)) {
      for (const auto& field : content::parse_headers(*message).fields)
        headers.push_back(boost::json::object{{"name", field.name}, {"value", field.value}});
    }
  }
  json["headers"] = std::move(headers);
  json["raw_url"] = fmt::format("/api/v1/messages/{}/raw", record->id);
  return Response::json(200, std::move(json));
}

Response raw(ApiContext& context, const Principal& principal, const std::string& id) {
  auto record = visible_record(context, principal, id);
  if (!record) return Response::error(404, "no such message");
  auto message = context.store.message(record->id);
  if (!message) return Response::error(404, "no stored copy of this message");
  Response response;
  response.content_type = "message/rfc822";
  response.body = std::move(*message);
  response.headers.emplace_back("Content-Disposition", fmt::format("attachment; filename=\"{}.eml\"", record->id));
  return response;
}

}  // namespace

std::optional<TransactionRecord> visible_record(ApiContext& context, const Principal& principal, const std::string& id) {
  if (id.empty() || id.size() > 64) return std::nullopt;
  SearchQuery query;
  query.id = id;
  query.limit = 1;
  if (!is_admin(principal)) {
    if (principal.user.domains.empty()) return std::nullopt;
    query.visible_domains = principal.user.domains;
  }
  auto rows = context.store.search(query);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

void add_message_routes(Routes& routes, ApiContext& context) {
  routes.push_back({"GET", "/api/v1/messages", true, [&context](const Request& request, const Principal* principal, const std::string&) {
                      return search(context, request, *principal);
                    }});
  routes.push_back({"GET", "/api/v1/messages/{id}", true, [&context](const Request&, const Principal* principal, const std::string& id) {
                      return detail(context, *principal, id);
                    }});
  routes.push_back({"GET", "/api/v1/messages/{id}/raw", true, [&context](const Request&, const Principal* principal, const std::string& id) {
                      return raw(context, *principal, id);
                    }});
}

}  // namespace gatehouse::web
