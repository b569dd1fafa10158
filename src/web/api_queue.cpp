// The API's delivery queue routes (the daemon's DeliveryQueue, like `gatehouse queue list|flush|
// delete`): the deferred messages with their recipients, attempts, next retry and the back-end's
// last answer; retry one or all now; delete one from the queue (its stored copy stays in the log,
// so it can be resent). A domain administrator sees the inbound messages with a recipient in their
// domains, and deletes only those whose recipients are all theirs. Every change is audited.
#include <algorithm>
#include <cstdint>
#include <spdlog/spdlog.h>

#include "common/id.hpp"
#include "delivery/queue.hpp"
#include "web/api_routes.hpp"

namespace gatehouse::web {
namespace {

constexpr std::size_t max_listed = 1000;

// The queue's files are named by transaction ID (common/id.hpp); nothing else is a path there.
bool valid_queue_id(const std::string& id) { return is_transaction_id(id); }

bool visible(const Principal& principal, const delivery::SpoolEnvelope& envelope) {
  if (is_admin(principal)) return true;
  if (envelope.direction != "inbound") return false;
  return std::any_of(envelope.recipients.begin(), envelope.recipients.end(),
                     [&](const std::string& r) { return may_manage_domain(principal, domain_of(r)); });
}

bool all_mine(const Principal& principal, const delivery::SpoolEnvelope& envelope) {
  return std::all_of(envelope.recipients.begin(), envelope.recipients.end(),
                     [&](const std::string& r) { return may_manage_domain(principal, domain_of(r)); });
}

Response no_queue() { return Response::error(503, "the delivery queue is not available here (only in the daemon)"); }

// The entry `id` if it is queued and the principal may see it.
std::optional<delivery::DeliveryQueue::Entry> find_entry(ApiContext& context, const Principal& principal, const std::string& id) {
  if (!valid_queue_id(id)) return std::nullopt;
  for (auto& entry : context.services.queue->entries(SIZE_MAX))
    if (entry.envelope.id == id) {
      if (!entry.problem.empty() ? !is_admin(principal) : !visible(principal, entry.envelope)) return std::nullopt;
      return entry;
    }
  return std::nullopt;
}

Response list(ApiContext& context, const Principal& principal) {
  if (!context.services.queue) return no_queue();
  boost::json::array out;
  std::size_t total = 0;
  for (auto& entry : context.services.queue->entries(SIZE_MAX)) {
    const auto& e = entry.envelope;
    if (!entry.problem.empty() ? !is_admin(principal) : !visible(principal, e)) continue;
    ++total;
    if (out.size() >= max_listed) continue;
    std::vector<std::string> recipients;
    for (const auto& r : e.recipients)
      if (is_admin(principal) || may_manage_domain(principal, domain_of(r))) recipients.push_back(r);
    auto record = context.store.find(e.id);
    boost::json::object item{
        {"id", e.id},
        {"sender", e.mail_from},
        {"recipients", boost::json::value_from(recipients)},
        {"hidden_recipients", e.recipients.size() - recipients.size()},
        {"backend", e.backend},
        {"direction", e.direction},
        {"attempts", e.attempts},
        {"queued", e.queued_at_ms},
        {"next_attempt", entry.next_attempt ? boost::json::value(milliseconds_of(*entry.next_attempt)) : boost::json::value(nullptr)},
        {"in_flight", entry.in_flight},
        {"last_error", record ? record->delivery_detail : entry.problem},
        {"subject", record ? record->subject : std::string()},
        {"problem", entry.problem}};
    out.push_back(std::move(item));
  }
  return Response::json(200, boost::json::object{{"messages", std::move(out)}, {"total", total}});
}

Response retry_one(ApiContext& context, const Request& request, const Principal& principal, const std::string& id) {
  if (!context.services.queue) return no_queue();
  auto entry = find_entry(context, principal, id);
  if (!entry) return Response::error(404, "no such message in the queue");
  switch (context.services.queue->retry_now(id)) {
    case delivery::DeliveryQueue::Change::not_queued: return Response::error(404, "no such message in the queue");
    case delivery::DeliveryQueue::Change::in_flight: return Response::error(409, "the message is being delivered right now");
    case delivery::DeliveryQueue::Change::done: break;
  }
  context.audit(request, principal.user.name, "queue.retry", id);
  spdlog::info("web: \"{}\" asked to retry {} now", principal.user.name, id);
  return Response::json(202, boost::json::object{{"id", id}, {"retrying", true}});
}

Response retry_all(ApiContext& context, const Request& request, const Principal& principal) {
  if (!context.services.queue) return no_queue();
  std::size_t count = 0;
  for (auto& entry : context.services.queue->entries(SIZE_MAX)) {
    if (!entry.problem.empty() || !visible(principal, entry.envelope)) continue;
    if (context.services.queue->retry_now(entry.envelope.id) == delivery::DeliveryQueue::Change::done) ++count;
  }
  context.audit(request, principal.user.name, "queue.retry_all", fmt::format("{} message(s)", count));
  spdlog::info("web: \"{}\" asked to retry {} queued message(s) now", principal.user.name, count);
  return Response::json(202, boost::json::object{{"retrying", count}});
}

Response remove_queued(ApiContext& context, const Request& request, const Principal& principal, const std::string& id) {
  if (!context.services.queue) return no_queue();
  auto entry = find_entry(context, principal, id);
  if (!entry) return Response::error(404, "no such message in the queue");
  if (!is_admin(principal) && !all_mine(principal, entry->envelope))
    return Response::error(403, "the message has recipients in domains that are not yours: an administrator must delete it");
  switch (context.services.queue->remove(id)) {
    case delivery::DeliveryQueue::Change::not_queued: return Response::error(404, "no such message in the queue");
    case delivery::DeliveryQueue::Change::in_flight: return Response::error(409, "the message is being delivered right now");
    case delivery::DeliveryQueue::Change::done: break;
  }
  context.store.update_delivery(DeliveryUpdate{id, "deleted", entry->envelope.attempts,
                                               fmt::format("deleted from the queue by {}", principal.user.name)});
  context.audit(request, principal.user.name, "queue.delete",
                fmt::format("{} ({})", id, fmt::join(entry->envelope.recipients, ", ")));
  spdlog::info("web: \"{}\" deleted {} from the queue", principal.user.name, id);
  return Response::json(200, boost::json::object{
                                 {"id", id},
                                 {"deleted", true},
                                 {"note", "The message is no longer retried. Its copy stays stored in the message log, "
                                          "from where it can be resent."}});
}

}  // namespace

void add_queue_routes(Routes& routes, ApiContext& context) {
  routes.push_back({"GET", "/api/v1/queue", true, [&context](const Request&, const Principal* principal, const std::string&) {
                      return list(context, *principal);
                    }});
  routes.push_back({"POST", "/api/v1/queue/retry", true, [&context](const Request& request, const Principal* principal, const std::string&) {
                      return retry_all(context, request, *principal);
                    }});
  routes.push_back({"POST", "/api/v1/queue/{id}/retry", true,
                    [&context](const Request& request, const Principal* principal, const std::string& id) {
                      return retry_one(context, request, *principal, id);
                    }});
  routes.push_back({"DELETE", "/api/v1/queue/{id}", true,
                    [&context](const Request& request, const Principal* principal, const std::string& id) {
                      return remove_queued(context, request, *principal, id);
                    }});
}

}  // namespace gatehouse::web
