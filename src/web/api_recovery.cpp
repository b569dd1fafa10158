// The API's recovery routes: the message actions of the detail page (release a rejected message,
// resend one, train the adaptive classifier with it as ham or spam) and the replay of a time window.
// Deliveries are the command line's (delivery/redeliver.hpp) but run on the daemon's event loop:
// the request answers 202 at once with a job, and GET /api/v1/jobs/{id} tells its progress and
// outcome (the back-end's answer), which is also recorded in the log row. One replay at a time.
// A domain administrator acts only on messages whose recipients are all in their domains, and
// replays only their domains. Every action goes to the audit log.
#include <boost/asio/co_spawn.hpp>
#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <variant>
#include <spdlog/spdlog.h>

#include "classifier/learner.hpp"
#include "delivery/queue.hpp"
#include "delivery/redeliver.hpp"
#include "engine/gateway.hpp"
#include "engine/policy.hpp"
#include "web/api_routes.hpp"

namespace gatehouse::web {
namespace {

namespace asio = boost::asio;

std::int64_t now_ms() { return milliseconds_of(Clock::now()); }

// A delivery running on the event loop: one message (release, resend) or a window (replay).
struct Job {
  std::string id, kind, owner;   // kind: release | resend | replay
  std::string message_id;        // release, resend
  std::string domain;            // replay ("" = every domain)
  std::int64_t since = 0, until = 0;
  std::int64_t started = 0, finished = 0;
  // Under Jobs::mutex:
  std::string state = "running";   // running | done | failed
  std::size_t total = 0, done = 0, failed = 0;
  std::string backend, detail, delivery_status;
  bool learned = false;
  std::vector<std::string> failures;   // replay: "ID: why", the first few
};

class Jobs {
 public:
  std::mutex mutex;

  std::shared_ptr<Job> add(std::shared_ptr<Job> job) {
    std::lock_guard lock(mutex);
    jobs_[job->id] = job;
    order_.push_back(job->id);
    // Keep the last 200 (finished ones go first).
    while (order_.size() > 200) {
      auto oldest = jobs_.find(order_.front());
      if (oldest != jobs_.end() && oldest->second->state == "running") break;
      jobs_.erase(order_.front());
      order_.pop_front();
    }
    if (job->kind == "replay") replay_ = job;
    return job;
  }
  std::shared_ptr<Job> find(const std::string& id) {
    std::lock_guard lock(mutex);
    auto found = jobs_.find(id);
    return found == jobs_.end() ? nullptr : found->second;
  }
  std::shared_ptr<Job> last_replay() {
    std::lock_guard lock(mutex);
    return replay_;
  }
  // The running replay, or null; with `start`, the new one becomes the replay (atomically).
  std::shared_ptr<Job> running_replay() {
    std::lock_guard lock(mutex);
    return replay_ && replay_->state == "running" ? replay_ : nullptr;
  }
  bool reserve_replay(const std::shared_ptr<Job>& job) {
    std::lock_guard lock(mutex);
    if (replay_ && replay_->state == "running") return false;
    replay_ = job;
    jobs_[job->id] = job;
    order_.push_back(job->id);
    return true;
  }

  boost::json::object json(const Job& job) {
    std::lock_guard lock(mutex);
    boost::json::object out{{"id", job.id},
                            {"kind", job.kind},
                            {"user", job.owner},
                            {"state", job.state},
                            {"started", job.started},
                            {"finished", job.finished ? boost::json::value(job.finished) : boost::json::value(nullptr)},
                            {"total", job.total},
                            {"done", job.done},
                            {"failed", job.failed}};
    if (job.kind == "replay") {
      out["domain"] = job.domain;
      out["since"] = job.since;
      out["until"] = job.until;
      out["failures"] = boost::json::value_from(job.failures);
    } else {
      out["message"] = job.message_id;
      out["backend"] = job.backend;
      out["detail"] = job.detail;
      out["delivery_status"] = job.delivery_status;
      out["delivered"] = job.state == "done";
      if (job.kind == "release") out["learned_as_ham"] = job.learned;
    }
    out["url"] = "/api/v1/jobs/" + job.id;
    return out;
  }

 private:
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::string> order_;
  std::shared_ptr<Job> replay_;
};

struct Recovery {
  explicit Recovery(ApiContext& c) : context(c) {}
  ApiContext& context;
  Jobs jobs;
};

std::shared_ptr<Job> new_job(const std::string& kind, const Principal& principal) {
  auto job = std::make_shared<Job>();
  job->id = random_token().substr(0, 22);
  job->kind = kind;
  job->owner = principal.user.name;
  job->started = now_ms();
  return job;
}

bool may_see_job(const Job& job, const Principal& principal) { return is_admin(principal) || job.owner == principal.user.name; }

Response job_accepted(Jobs& jobs, const Job& job) {
  Response response = Response::json(202, jobs.json(job));
  response.headers.emplace_back("Location", "/api/v1/jobs/" + job.id);
  return response;
}

// A domain administrator acts on a message only when every recipient is in their domains.
bool all_recipients_mine(const Principal& principal, const TransactionRecord& record) {
  return std::all_of(record.recipients.begin(), record.recipients.end(),
                     [&](const std::string& r) { return may_manage_domain(principal, domain_of(r)); });
}

// The daemon's domains as the gateway serves them now (with those added on the web); a table of
// the configuration's own where there is no gateway (unit tests).
std::shared_ptr<const DomainTable> domains_in_force(ApiContext& context, const Config& config) {
  if (context.services.gateway) return context.services.gateway->domains();
  return build_domain_table(config, &context.store);
}

// ---------------------------------------------------------------------------------------------
// Release and resend

asio::awaitable<void> run_single(std::shared_ptr<Recovery> recovery, std::shared_ptr<Job> job,
                                 std::shared_ptr<const Config> config, dns::Resolver* resolver, TransactionRecord record,
                                 delivery::StoredCopy copy, std::string action, classifier::BackgroundLearner* learner) {
  auto outcome = co_await delivery::redeliver(*config, resolver, recovery->context.store, record, copy, action);
  bool learned = false;
  // Like `gatehouse release`: a released message was wrongly rejected, the classifier learns it as ham.
  if (outcome.delivered && job->kind == "release" && learner && config->classifier.enabled &&
      config->classifier.learn_on_release && record.direction == "inbound") {
    learner->learn(copy.message, classifier::Label::ham, "release", false);
    learned = true;
  }
  spdlog::info("web: {} of {} by \"{}\" to {}: {}{}", job->kind, record.id, job->owner, outcome.backend,
               outcome.delivered ? "delivered" : "not delivered", outcome.detail.empty() ? "" : " — " + outcome.detail);
  std::lock_guard lock(recovery->jobs.mutex);
  job->state = outcome.delivered ? "done" : "failed";
  job->done = 1;
  job->failed = outcome.delivered ? 0 : 1;
  job->backend = outcome.backend;
  job->detail = outcome.detail;
  job->delivery_status = outcome.status;
  job->learned = learned;
  job->finished = now_ms();
}

// Marks a job failed when its coroutine ended with an exception.
auto on_exception(std::shared_ptr<Recovery> recovery, std::shared_ptr<Job> job) {
  return [recovery, job](std::exception_ptr error) {
    if (!error) return;
    std::string what = "internal error";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("web: {} job {}: {}", job->kind, job->id, what);
    std::lock_guard lock(recovery->jobs.mutex);
    job->state = "failed";
    job->detail = what;
    job->finished = now_ms();
  };
}

Response deliver_again(const std::shared_ptr<Recovery>& recovery, const Request& request, const Principal& principal,
                       const std::string& id, bool release) {
  ApiContext& context = recovery->context;
  auto record = visible_record(context, principal, id);
  if (!record) return Response::error(404, "no such message");
  if (release && record->disposition != "reject" && record->disposition != "tempfail")
    return Response::error(409, fmt::format("the message was not rejected (disposition {}): resend delivers it again",
                                            record->disposition));
  if (!all_recipients_mine(principal, *record))
    return Response::error(403, "the message has recipients in domains that are not yours: an administrator must deliver it");
  if (!context.services.queue) return Response::error(503, "deliveries need the daemon's delivery queue");
  auto config = context.config();
  auto copy = delivery::stored_copy(context.store, *domains_in_force(context, *config), *record);
  if (!copy) return Response::error(409, fmt::format("cannot deliver {}: {}", record->id, copy.error().message));

  auto job = new_job(release ? "release" : "resend", principal);
  job->message_id = record->id;
  job->total = 1;
  recovery->jobs.add(job);
  context.audit(request, principal.user.name, release ? "message.release" : "message.resend",
                fmt::format("{} to {} ({})", record->id, copy->envelope.backend, fmt::join(record->recipients, ", ")));
  auto* queue = context.services.queue;
  asio::co_spawn(queue->io(),
                 run_single(recovery, job, config, queue->resolver(), std::move(*record), std::move(*copy),
                            release ? "released" : "resent", context.services.learner),
                 on_exception(recovery, job));
  return job_accepted(recovery->jobs, *job);
}

// ---------------------------------------------------------------------------------------------
// Training the classifier

Response train(const std::shared_ptr<Recovery>& recovery, const Request& request, const Principal& principal,
               const std::string& id) {
  ApiContext& context = recovery->context;
  auto record = visible_record(context, principal, id);
  if (!record) return Response::error(404, "no such message");
  JsonBody body = read_json_object(request);
  if (body.error) return *body.error;
  const auto* as = body.object.if_contains("as");
  if (!as || !as->is_string() || (as->as_string() != "ham" && as->as_string() != "spam") || body.object.size() != 1)
    return Response::error(400, "expected {\"as\": \"ham\"} or {\"as\": \"spam\"}");
  const bool ham = as->as_string() == "ham";
  if (!context.services.learner)
    return Response::error(503, "the adaptive classifier is not enabled ([classifier] enabled = true)");
  auto message = record->has_message ? context.store.message(record->id) : std::nullopt;
  if (!message) return Response::error(409, "no stored copy of this message to learn from");
  context.services.learner->learn(std::move(*message), ham ? classifier::Label::ham : classifier::Label::spam,
                                  "web", false);
  context.audit(request, principal.user.name, "message.train", fmt::format("{} as {}", record->id, ham ? "ham" : "spam"));
  spdlog::info("web: \"{}\" trained the classifier with {} as {}", principal.user.name, record->id, ham ? "ham" : "spam");
  return Response::json(202, boost::json::object{{"message", record->id}, {"as", ham ? "ham" : "spam"}, {"queued", true}});
}

// ---------------------------------------------------------------------------------------------
// Replay

struct Window {
  Clock::time_point since, until;
  std::string domain;
};

// {"since": time, "until": time (default now), "domain": "…"} as the caller may replay it, or the
// response to send instead.
std::variant<Window, Response> read_window(const Request& request, const Principal& principal) {
  JsonBody body = read_json_object(request);
  if (body.error) return *body.error;
  for (const auto& [key, value] : body.object)
    if (key != "since" && key != "until" && key != "domain")
      return Response::error(400, fmt::format("unknown field \"{}\" (expected since, until, domain)", std::string(key)));
  auto text = [&](const char* key) -> std::optional<std::string> {
    const auto* value = body.object.if_contains(key);
    if (!value || value->is_null()) return std::string();
    if (value->is_int64()) return std::to_string(value->as_int64());
    if (!value->is_string()) return std::nullopt;
    return std::string(value->as_string());
  };
  auto since_text = text("since"), until_text = text("until"), domain = text("domain");
  if (!since_text || !until_text || !domain) return Response::error(400, "since, until and domain are text (times: milliseconds too)");
  Window window;
  if (since_text->empty()) return Response::error(400, "since: the start of the window is required");
  auto since = parse_time(*since_text);
  if (!since)
    return Response::error(400, fmt::format("since: cannot read the time \"{}\" (use 2026-11-23T10:14:00Z, "
                                            "milliseconds since 1970, or -2h)", *since_text));
  auto until = until_text->empty() ? std::optional<Clock::time_point>(Clock::now()) : parse_time(*until_text);
  if (!until)
    return Response::error(400, fmt::format("until: cannot read the time \"{}\" (use 2026-11-23T10:14:00Z, "
                                            "milliseconds since 1970, or -2h)", *until_text));
  if (*until <= *since) return Response::error(400, "until must be after since");
  window.since = *since;
  window.until = *until;
  window.domain = to_lower_ascii(*domain);
  if (!is_admin(principal)) {
    if (window.domain.empty())
      return Response::error(400, fmt::format("domain: choose one of your domains ({})", fmt::join(principal.user.domains, ", ")));
    if (!may_manage_domain(principal, window.domain))
      return Response::error(403, fmt::format("{} is not one of your domains", window.domain));
  }
  return window;
}

boost::json::object window_json(const Window& window, std::size_t count) {
  return boost::json::object{{"count", count},
                             {"since", milliseconds_of(window.since)},
                             {"until", milliseconds_of(window.until)},
                             {"domain", window.domain}};
}

Response replay_preview(const std::shared_ptr<Recovery>& recovery, const Request& request, const Principal& principal) {
  auto window = read_window(request, principal);
  if (auto* refused = std::get_if<Response>(&window)) return std::move(*refused);
  auto& w = std::get<Window>(window);
  auto selected = delivery::replay_selection(recovery->context.store, w.since, w.until, w.domain);
  return Response::json(200, window_json(w, selected.size()));
}

asio::awaitable<void> run_replay(std::shared_ptr<Recovery> recovery, std::shared_ptr<Job> job,
                                 std::shared_ptr<const Config> config, dns::Resolver* resolver,
                                 std::vector<TransactionRecord> selected) {
  Store& store = recovery->context.store;
  auto domains = domains_in_force(recovery->context, *config);
  for (auto& record : selected) {
    bool ok = false;
    std::string why;
    auto copy = delivery::stored_copy(store, *domains, record);
    if (!copy) {
      why = copy.error().message;
    } else {
      auto outcome = co_await delivery::redeliver(*config, resolver, store, record, *copy, "replayed");
      ok = outcome.delivered;
      why = outcome.detail;
    }
    std::lock_guard lock(recovery->jobs.mutex);
    ++job->done;
    if (!ok) {
      ++job->failed;
      if (job->failures.size() < 20) job->failures.push_back(fmt::format("{}: {}", record.id, why));
    }
  }
  std::size_t done, failed;
  {
    std::lock_guard lock(recovery->jobs.mutex);
    job->state = job->failed ? "failed" : "done";
    job->finished = now_ms();
    done = job->done;
    failed = job->failed;
  }
  spdlog::info("web: replay {} by \"{}\": {} message(s), {} failed", job->id, job->owner, done, failed);
}

Response replay_start(const std::shared_ptr<Recovery>& recovery, const Request& request, const Principal& principal) {
  ApiContext& context = recovery->context;
  auto window = read_window(request, principal);
  if (auto* refused = std::get_if<Response>(&window)) return std::move(*refused);
  auto& w = std::get<Window>(window);
  if (!context.services.queue) return Response::error(503, "deliveries need the daemon's delivery queue");
  if (auto running = recovery->jobs.running_replay()) {
    Response busy = Response::error(409, fmt::format("a replay is running (started by {}); one at a time", running->owner));
    busy.headers.emplace_back("Location", "/api/v1/jobs/" + running->id);
    return busy;
  }
  auto selected = delivery::replay_selection(context.store, w.since, w.until, w.domain);
  auto job = new_job("replay", principal);
  job->domain = w.domain;
  job->since = milliseconds_of(w.since);
  job->until = milliseconds_of(w.until);
  job->total = selected.size();
  if (!recovery->jobs.reserve_replay(job)) return Response::error(409, "a replay is running; one at a time");
  context.audit(request, principal.user.name, "replay",
                fmt::format("{} message(s) from {} to {}{}", selected.size(), job->since, job->until,
                            w.domain.empty() ? "" : " for " + w.domain));
  spdlog::info("web: replay {} by \"{}\": {} message(s){}", job->id, principal.user.name, selected.size(),
               w.domain.empty() ? "" : " for " + w.domain);
  auto* queue = context.services.queue;
  asio::co_spawn(queue->io(), run_replay(recovery, job, context.config(), queue->resolver(), std::move(selected)),
                 on_exception(recovery, job));
  return job_accepted(recovery->jobs, *job);
}

Response last_replay(const std::shared_ptr<Recovery>& recovery, const Principal& principal) {
  auto job = recovery->jobs.last_replay();
  boost::json::value out = nullptr;
  if (job && may_see_job(*job, principal)) out = recovery->jobs.json(*job);
  bool running = job && recovery->jobs.running_replay() == job;
  return Response::json(200, boost::json::object{{"job", std::move(out)}, {"running", running}});
}

Response job_status(const std::shared_ptr<Recovery>& recovery, const Principal& principal, const std::string& id) {
  auto job = recovery->jobs.find(id);
  if (!job || !may_see_job(*job, principal)) return Response::error(404, "no such job");
  auto json = recovery->jobs.json(*job);
  // Finished: its log rows are written before the answer, so a page that reloads them sees the outcome.
  if (json.at("state").as_string() != "running") recovery->context.store.flush();
  return Response::json(200, std::move(json));
}

}  // namespace

void add_recovery_routes(Routes& routes, ApiContext& context) {
  auto recovery = std::make_shared<Recovery>(context);
  routes.push_back({"POST", "/api/v1/messages/{id}/release", true,
                    [recovery](const Request& request, const Principal* principal, const std::string& id) {
                      return deliver_again(recovery, request, *principal, id, true);
                    }});
  routes.push_back({"POST", "/api/v1/messages/{id}/resend", true,
                    [recovery](const Request& request, const Principal* principal, const std::string& id) {
                      return deliver_again(recovery, request, *principal, id, false);
                    }});
  routes.push_back({"POST", "/api/v1/messages/{id}/train", true,
                    [recovery](const Request& request, const Principal* principal, const std::string& id) {
                      return train(recovery, request, *principal, id);
                    }});
  routes.push_back({"GET", "/api/v1/jobs/{id}", true, [recovery](const Request&, const Principal* principal, const std::string& id) {
                      return job_status(recovery, *principal, id);
                    }});
  routes.push_back({"POST", "/api/v1/replay/preview", true,
                    [recovery](const Request& request, const Principal* principal, const std::string&) {
                      return replay_preview(recovery, request, *principal);
                    }});
  routes.push_back({"POST", "/api/v1/replay", true, [recovery](const Request& request, const Principal* principal, const std::string&) {
                      return replay_start(recovery, request, *principal);
                    }});
  routes.push_back({"GET", "/api/v1/replay", true, [recovery](const Request&, const Principal* principal, const std::string&) {
                      return last_replay(recovery, *principal);
                    }});
}

}  // namespace gatehouse::web
