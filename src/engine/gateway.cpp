// The gateway's handling of each transaction. See gateway.hpp.
//
// Reply texts follow RFC 5321 §4.2.2 codes with RFC 3463 enhanced codes; every reply of a
// transaction carries its ID so a sender can quote it. Promise 1 (reject, never bounce) and
// promise 2 (250 only once durable or accepted by the back-end) are kept in on_message().
#include "content/analysis.hpp"
#include "engine/gateway.hpp"
#include "engine/runtime_policy.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <optional>
#include <spdlog/spdlog.h>

#include "classifier/learner.hpp"
#include "common/async.hpp"
#include "common/id.hpp"
#include "common/metrics.hpp"
#include "common/text.hpp"
#include "content/headers.hpp"

namespace gatehouse::engine {

using smtp::Reply;

// ---------------------------------------------------------------------------------------------
void RecipientCache::remember(const std::string& address, const Reply& reply) {
  if (!(reply.positive() || reply.permanent())) return;  // 4xx says nothing lasting
  auto ttl = reply.positive() ? std::chrono::hours(6) : std::chrono::hours(1);
  std::lock_guard lock(mutex_);
  if (entries_.size() > 100000) entries_.clear();
  entries_[smtp::to_lower_ascii(address)] = {reply, std::chrono::steady_clock::now() + ttl};
}

std::optional<Reply> RecipientCache::recall(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(smtp::to_lower_ascii(address));
  if (it == entries_.end() || it->second.expires < std::chrono::steady_clock::now()) return std::nullopt;
  return it->second.reply;
}

// ---------------------------------------------------------------------------------------------
Gateway::Gateway(boost::asio::io_context& io, std::shared_ptr<const Config> config, Store& store,
                 delivery::Spool& spool, delivery::DeliveryQueue& queue, dns::Resolver* resolver)
    : io_(io), config_(std::move(config)), store_(store), spool_(spool), queue_(queue),
      pool_(config_->backend_pool_size), greylist_(&store_), resolver_(resolver) {
  file_config_ = config_;
  config_ = std::make_shared<const Config>(with_runtime_policy(*file_config_, store_));
  domains_ = build_domain_table(*config_, &store_);
}

std::shared_ptr<const Config> Gateway::config() const {
  std::lock_guard lock(mutex_);
  return config_;
}

std::shared_ptr<const DomainTable> Gateway::domains() const {
  std::lock_guard lock(mutex_);
  return domains_;
}

std::shared_ptr<const Config> Gateway::file_config() const {
  std::lock_guard lock(mutex_);
  return file_config_;
}

void Gateway::set_config(std::shared_ptr<const Config> config) {
  auto effective = std::make_shared<const Config>(with_runtime_policy(*config, store_));
  auto table = build_domain_table(*effective, &store_);
  std::lock_guard lock(mutex_);
  file_config_ = std::move(config);
  config_ = std::move(effective);
  domains_ = std::move(table);
}

void Gateway::refresh_runtime_state() { set_config(file_config()); }

// ---------------------------------------------------------------------------------------------
namespace {

// Metrics (GET /metrics): every logged transaction by outcome, and its duration.
void count_transaction(const TransactionRecord& record) {
  auto& metrics = metrics::gateway();
  metrics.messages.with({record.direction, record.disposition, record.reason}).inc();
  metrics.transaction_seconds.with({}).observe(std::chrono::duration<double>(Clock::now() - record.time).count());
}

void note_backend(const std::string& backend, bool reachable) {
  auto& metrics = metrics::gateway();
  metrics.backend_up.with({backend}).set(reachable ? 1 : 0);
  if (!reachable) metrics.backend_failures.with({backend}).inc();
}

// The io_context the calling coroutine runs on: pooled back-end connections stay on their thread.
boost::asio::awaitable<const void*> current_context() {
  auto executor = co_await boost::asio::this_coro::executor;
  co_return &boost::asio::query(executor, boost::asio::execution::context);
}

std::string with_id(std::string text, const std::string& id) { return fmt::format("{} (ID:{})", text, id); }

Reply with_id(Reply reply, const std::string& id) {
  // Multi-line back-end replies keep their lines; the ID goes on the last one.
  reply.text = with_id(reply.text, id);
  return reply;
}

std::string rfc5322_date(Clock::time_point when) {
  std::time_t t = Clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buffer;
}

// Header values are logged, not trusted: keep them printable and bounded.
std::string clean_header_value(std::string_view value) {
  std::string decoded = content::decode_encoded_words(value);
  std::string out;
  for (unsigned char c : decoded) {
    if (c == '\r' || c == '\n' || c == '\t') out += ' ';
    else if (c >= 32 || c >= 0x80) out += static_cast<char>(c);
  }
  if (out.size() > 998) out.resize(998);
  return out;
}

// RFC 8601 §5: Authentication-Results fields that claim our authserv-id come from elsewhere
// (forged, or left from an earlier pass) and are removed before ours is added.
std::string remove_our_authentication_results(std::string message, std::size_t header_end, const std::string& authserv_id) {
  std::string result;
  result.reserve(message.size());
  std::size_t pos = 0;
  const std::string lower_id = smtp::to_lower_ascii(authserv_id);
  while (pos < header_end) {
    std::size_t end = pos;
    do {  // the field with its folded continuation lines
      auto nl = message.find('\n', end);
      end = nl == std::string::npos ? message.size() : nl + 1;
    } while (end < header_end && (message[end] == ' ' || message[end] == '\t'));
    std::string_view field(message.data() + pos, end - pos);
    bool drop = false;
    if (field.size() > 23 && smtp::to_lower_ascii(field.substr(0, 23)) == "authentication-results:") {
      std::string value = smtp::to_lower_ascii(field.substr(23));
      auto first = value.find_first_not_of(" \t\r\n");
      if (first != std::string::npos && value.compare(first, lower_id.size(), lower_id) == 0) {
        auto after = first + lower_id.size();
        drop = after >= value.size() || value[after] == ';' || value[after] == ' ' || value[after] == '\t' ||
               value[after] == '\r' || value[after] == '\n' || value[after] == '/';
      }
    }
    if (!drop) result.append(field);
    pos = end;
  }
  result.append(message, pos, std::string::npos);
  return result;
}

}  // namespace

// The headers every delivered message gets: Authentication-Results (RFC 8601) with the results of
// the authentication checks, the score and the checks that fired; a tagged message also gets the
// policy's subject tag.
std::string annotate_message(std::string message, const content::HeaderSection& headers, const Verdict& verdict,
                             const FilterPolicy& policy, const std::string& hostname) {
  std::string added = fmt::format("Authentication-Results: {};", hostname);
  if (verdict.authentication_results.empty()) added += " none";
  for (const auto& result : verdict.authentication_results) added += "\r\n\t" + result + ";";
  if (added.back() == ';' && !verdict.authentication_results.empty()) added.pop_back();
  added += fmt::format("\r\nX-Gatehouse-Score: {:.1f} ({})", verdict.score, verdict.disposition);
  std::string fired;
  for (const auto& c : verdict.checks) {
    if (c.score == 0) continue;
    fired += fmt::format("{}{}={:.1f}", fired.empty() ? "" : ",\r\n\t", c.name, c.score);
  }
  if (!fired.empty()) added += "\r\nX-Gatehouse-Checks: " + fired;
  if (verdict.whitelisted) added += "\r\nX-Gatehouse-Whitelisted: yes";
  added += "\r\n";
  if (headers.count("Authentication-Results") > 0)
    message = remove_our_authentication_results(std::move(message), headers.body_offset, hostname);
  if (verdict.disposition == "tag") {
    // The Subject keeps its text after the tag; a message without one gets one.
    std::size_t subject_pos = std::string::npos;
    for (std::size_t pos = 0; pos < message.size();) {
      auto nl = message.find('\n', pos);
      if (nl == std::string::npos || nl == pos || (nl == pos + 1 && message[pos] == '\r')) break;   // end of header
      if (message.size() - pos >= 8 && smtp::to_lower_ascii(std::string_view(message).substr(pos, 8)) == "subject:") {
        subject_pos = pos;
        break;
      }
      pos = nl + 1;
    }
    if (subject_pos != std::string::npos) {
      std::size_t value = subject_pos + 8;
      while (value < message.size() && (message[value] == ' ' || message[value] == '\t')) ++value;
      message.insert(value, policy.subject_tag);
    } else {
      std::string tag = policy.subject_tag;
      while (!tag.empty() && tag.back() == ' ') tag.pop_back();
      added += "Subject: " + tag + "\r\n";
    }
  }
  // Below our Received field (RFC 5321 §4.4: it stays the topmost trace field), above the rest.
  std::size_t after_received = 0;
  if (message.size() > 9 && smtp::to_lower_ascii(std::string_view(message).substr(0, 9)) == "received:") {
    do {
      auto nl = message.find('\n', after_received);
      after_received = nl == std::string::npos ? message.size() : nl + 1;
    } while (after_received < message.size() && (message[after_received] == ' ' || message[after_received] == '\t'));
  }
  message.insert(after_received, added);
  return message;
}

struct ConnectionHandler::Transaction {
  std::string id;
  Clock::time_point started = Clock::now();
  smtp::MailArgument mail;
  std::shared_ptr<const DomainTable> domains;
  // The policy group: every accepted recipient shares back-end and thresholds.
  std::string group;                         // "" until the first recipient is accepted
  const DomainConfig* domain = nullptr;      // inbound
  bool outbound = false;
  std::vector<std::string> recipients;
  std::vector<std::string> rejected;         // "addr: reply"
  std::string last_reject_reason;
  std::string last_reject_disposition = "reject";   // "tempfail" for a greylisted recipient
  std::optional<Verdict> envelope;           // the sender checks' verdict for the policy group
  // Live back-end transaction.
  std::unique_ptr<delivery::BackendConnection> backend;
  bool backend_mail_sent = false;
  bool backend_unavailable = false;          // could not reach it: spool and retry
  std::string backend_error;
  std::optional<Reply> backend_mail_refusal; // MAIL refused by the back-end: every RCPT gets it
};

ConnectionHandler::ConnectionHandler(Gateway& gateway, ClientInfo client)
    : gateway_(gateway), client_(std::move(client)) {
  state_.client_ip = client_.ip;
  state_.local_ip = client_.local_ip;
  state_.ptr = client_.ptr;
  state_.ptr_error = client_.ptr_error;
  state_.trusted = gateway_.domains()->trusted(client_.ip);
}

checks::CheckContext ConnectionHandler::check_context(const Config& config, const FilterPolicy& policy) const {
  checks::CheckContext context;
  context.connection = const_cast<checks::ConnectionState*>(&state_);
  context.client_ip = client_.ip;
  context.helo = helo_;
  context.config = &config;
  context.policy = &policy;
  context.resolver = gateway_.resolver();
  context.reputation = &gateway_.reputation();
  if (auto* learner = gateway_.classifier()) context.classifier = &learner->model();
  context.ocr = gateway_.ocr();
  if (transaction_) {
    context.id = transaction_->id;
    context.mail_from = transaction_->mail.sender.text();
  }
  return context;
}

ConnectionHandler::~ConnectionHandler() = default;

void ConnectionHandler::set_tls(std::string version, std::string cipher) {
  client_.tls_version = std::move(version);
  client_.tls_cipher = std::move(cipher);
}

boost::asio::awaitable<Reply> ConnectionHandler::on_helo(const smtp::HeloEvent& event) {
  if (transaction_) {
    co_await release_backend(true);
    log_abandoned();
  }
  helo_ = event.name;
  state_.helo_names.push_back(event.name);
  co_return Reply{250, "2.0.0", "Ok"};
}

boost::asio::awaitable<Reply> ConnectionHandler::on_mail(const smtp::MailEvent& event) {
  if (transaction_) {  // abandoned without a reset event (STARTTLS mid-transaction)
    co_await release_backend(true);
    log_abandoned();
  }
  transaction_ = std::make_unique<Transaction>();
  transaction_->id = new_transaction_id();
  transaction_->mail = event.mail;
  transaction_->domains = gateway_.domains();
  co_return Reply{250, "2.1.0", with_id("Ok", transaction_->id)};
}

boost::asio::awaitable<Reply> ConnectionHandler::on_rcpt(const smtp::RcptEvent& event) {
  auto& t = *transaction_;
  auto config = gateway_.config();
  const auto& table = *t.domains;
  auto decision = decide_recipient(table, event.rcpt.recipient, table.trusted(client_.ip));
  auto refuse = [&](Reply reply, std::string reason) {
    t.rejected.push_back(decision.address + ": " + reply.summary());
    t.last_reject_reason = std::move(reason);
    t.last_reject_disposition = "reject";
    return with_id(std::move(reply), t.id);
  };
  // A spam trap is judged (and refused) even though no mailbox exists for it.
  const auto& traps = config->traps.addresses;
  const bool trap = decision.route == RecipientRoute::refused &&
                    std::find(traps.begin(), traps.end(), smtp::to_lower_ascii(decision.address)) != traps.end();
  if (decision.route == RecipientRoute::refused && !trap) {
    if (decision.reply.code == 550 && decision.reply.enhanced == "5.1.1") {
      // Directory harvesting: too many unknown recipients on one connection.
      if (++state_.unknown_recipients >= config->abuse.max_unknown_recipients) {
        gateway_.reputation().block(client_.ip, "directory harvest", config->abuse.harvest_block);
        spdlog::warn("client={} blocked for {}s: {} unknown recipients (directory harvest)", client_.ip,
                     config->abuse.harvest_block.count(), state_.unknown_recipients);
        refuse(decision.reply, decision.reason);
        co_return Reply{421, "4.7.0", fmt::format("{} Too many unknown recipients, closing connection", config->hostname)};
      }
    }
    co_return refuse(decision.reply, decision.reason);
  }

  // The sender checks, under the recipient domain's policy.
  const FilterPolicy& policy = decision.domain ? decision.domain->policy : config->policy;
  if (!trap) {
    // One policy group per transaction (back-end and filtering policy), so one DATA reply fits all.
    std::string group = decision.route == RecipientRoute::outbound
                            ? "outbound"
                            : fmt::format("{}|{}", decision.domain->backend.text, policy.fingerprint);
    if (!t.group.empty() && t.group != group)
      co_return with_id(Reply{452, "4.5.3", "Too many recipients for this transaction: send this one separately"}, t.id);
  }
  checks::CheckContext context = check_context(*config, policy);
  context.stage = checks::Stage::rcpt;
  context.recipient = decision.address;
  Verdict verdict = co_await gateway_.engine().judge_recipient(context);
  if (verdict.disposition == "reject" || verdict.disposition == "tempfail") {
    t.rejected.push_back(decision.address + ": " + verdict.reply.summary());
    t.last_reject_reason = verdict.reason;
    t.last_reject_disposition = "reject";
    if (!t.envelope) t.envelope = verdict;   // the explanation of a refused transaction
    co_return verdict.reply;
  }
  if (trap) co_return refuse(decision.reply, decision.reason);
  // Greylisting last: only a recipient that every other check and the back-end would accept.
  {
    auto deferred = co_await greylist(decision, policy, *config, verdict);
    if (deferred) co_return std::move(*deferred);
  }
  std::string group = decision.route == RecipientRoute::outbound
                          ? "outbound"
                          : fmt::format("{}|{}", decision.domain->backend.text, policy.fingerprint);
  if (!t.envelope || t.recipients.empty()) t.envelope = verdict;

  if (decision.route == RecipientRoute::outbound) {
    t.group = group;
    t.outbound = true;
    t.recipients.push_back(decision.address);
    co_return with_id(Reply{250, "2.1.5", "Ok"}, t.id);
  }

  const DomainConfig& domain = *decision.domain;
  if (!domain.backend.live()) {
    t.group = group;
    t.domain = &domain;
    t.recipients.push_back(decision.address);
    co_return with_id(Reply{250, "2.1.5", "Ok"}, t.id);
  }

  // Live back-end: open (or reuse) the connection and start its transaction on the first RCPT.
  // The first RCPT travels with MAIL (pipelined) when the back-end allows it.
  std::optional<Result<Reply>> early_rcpt;
  if (!t.backend && !t.backend_unavailable) {
    BackendAddress address = domain.backend;
    // The client waits while the back-end answers: backend_timeout bounds every step, the reply to
    // the message included (as documented); a slower back-end gets the message from the queue.
    delivery::BackendConnection::Timeouts timeouts{config->connect_timeout, config->backend_timeout,
                                                   config->backend_timeout};
    for (int attempt = 0; attempt < 2 && !t.backend_mail_sent && !t.backend_mail_refusal; ++attempt) {
      // A pooled connection may have been closed by the back-end meanwhile: then open a new one.
      // (co_await kept out of the ?: and of call arguments: GCC 12 miscompiles those with unique_ptr.)
      std::unique_ptr<delivery::BackendConnection> connection;
      if (attempt == 0) {
        auto context = co_await current_context();
        connection = gateway_.pool().take(address.text, context);
      }
      if (!connection) {
        boost::asio::any_io_executor executor = co_await boost::asio::this_coro::executor;
        auto opened = co_await delivery::BackendConnection::open(executor, address, config->hostname, timeouts);
        if (!opened) {
          t.backend_error = opened.error().message;
          note_backend(address.text, false);
          break;
        }
        connection = std::move(*opened);
        note_backend(address.text, true);
      }
      bool eightbit = t.mail.params.body == "8BITMIME";
      std::string sender = t.mail.sender.text();
      auto replies = co_await connection->mail_and_rcpt(std::move(sender), eightbit, t.mail.params.smtputf8,
                                                         t.mail.params.size.value_or(0), decision.address);
      auto& mail = replies.first;
      if (mail && mail->positive()) early_rcpt = std::move(replies.second);
      if (!mail) {
        t.backend_error = mail.error().message;
        continue;
      }
      if (mail->positive()) {
        t.backend = std::move(connection);
        t.backend_mail_sent = true;
      } else {
        t.backend_mail_refusal = *mail;
        {  // co_await outside the call: GCC 12 mishandles a by-value unique_ptr argument next to co_await
          auto context = co_await current_context();
          gateway_.pool().give(std::move(connection), context);
        }
      }
    }
    if (!t.backend_mail_sent && !t.backend_mail_refusal) {
      t.backend_unavailable = true;
      spdlog::warn("id={} backend {} unavailable: {}", t.id, address.text, t.backend_error);
    }
  }
  if (t.backend_mail_refusal) co_return refuse(*t.backend_mail_refusal, "backend refused sender");

  if (t.backend) {
    std::optional<Result<Reply>> answer_holder = std::move(early_rcpt);
    if (!answer_holder) {
      auto asked = co_await t.backend->rcpt(decision.address);
      answer_holder.emplace(std::move(asked));
    }
    auto& answer = *answer_holder;
    if (answer) {
      gateway_.recipient_cache().remember(decision.address, *answer);
      if (!answer->positive()) co_return refuse(*answer, fmt::format("backend {}", answer->code));
      t.group = group;
      t.domain = &domain;
      t.recipients.push_back(decision.address);
      co_return with_id(*answer, t.id);
    }
    // The connection broke mid-transaction: from here on, spool and retry.
    t.backend_error = answer.error().message;
    t.backend.reset();
    t.backend_unavailable = true;
    spdlog::warn("id={} backend {} failed at RCPT: {}", t.id, domain.backend.text, t.backend_error);
  }

  // The back-end cannot be asked now.
  if (decision.route == RecipientRoute::ask_backend) {
    auto cached = gateway_.recipient_cache().recall(decision.address);
    if (!cached)
      co_return refuse(Reply{451, "4.4.1", "Recipient verification temporarily unavailable, try again later"},
                       "backend unavailable");
    if (!cached->positive()) co_return refuse(*cached, "backend (cached)");
  }
  t.group = group;
  t.domain = &domain;
  t.recipients.push_back(decision.address);
  co_return with_id(Reply{250, "2.1.5", "Ok"}, t.id);
}

namespace {

// Whether the back-end would take `recipient` from `sender`: MAIL, RCPT and RSET on a connection of
// its own (pooled or new), so that the transaction's connection never carries a recipient the client
// was told to retry. nullopt when the back-end cannot be asked; a refused MAIL is the answer.
boost::asio::awaitable<std::optional<Reply>> ask_backend_once(Gateway& gateway, const Config& config,
                                                              const BackendAddress& address, const std::string& sender,
                                                              bool eightbit, bool smtputf8,
                                                              const std::string& recipient) {
  delivery::BackendConnection::Timeouts timeouts{config.connect_timeout, config.backend_timeout,
                                                 config.backend_timeout};
  for (int attempt = 0; attempt < 2; ++attempt) {
    // A pooled connection may have been closed meanwhile: then a new one.
    std::unique_ptr<delivery::BackendConnection> connection;
    if (attempt == 0) {
      auto context = co_await current_context();
      connection = gateway.pool().take(address.text, context);
    }
    if (!connection) {
      boost::asio::any_io_executor executor = co_await boost::asio::this_coro::executor;
      auto opened = co_await delivery::BackendConnection::open(executor, address, config.hostname, timeouts);
      if (!opened) co_return std::nullopt;
      connection = std::move(*opened);
    }
    std::string mail_sender = sender, rcpt = recipient;
    auto replies = co_await connection->mail_and_rcpt(std::move(mail_sender), eightbit, smtputf8, 0, std::move(rcpt));
    if (!replies.first) continue;   // broken connection: once more with a new one
    std::optional<Reply> answer;
    if (!replies.first->positive()) answer = *replies.first;
    else if (replies.second) answer = *replies.second;
    auto reset = co_await connection->rset();
    if (reset && reset->positive()) {
      auto context = co_await current_context();
      gateway.pool().give(std::move(connection), context);
    }
    co_return answer;
  }
  co_return std::nullopt;
}

}  // namespace

boost::asio::awaitable<std::optional<Reply>> ConnectionHandler::greylist(const RecipientDecision& decision,
                                                                         const FilterPolicy& policy,
                                                                         const Config& config, Verdict& verdict) {
  auto& t = *transaction_;
  if (!policy.greylisting) co_return std::nullopt;
  const std::string sender = t.mail.sender.text();
  const std::string exempt = checks::greylisting_exemption({&policy, decision.route == RecipientRoute::outbound || !decision.domain,
                                                            state_.trusted, verdict.whitelisted, client_.ip, sender});
  if (!exempt.empty()) {
    verdict.checks.push_back({"greylisting", 0, "exempt: " + exempt});
    co_return std::nullopt;
  }
  auto& greylist = gateway_.greylist();
  const auto key = checks::GreylistKey::of(client_.ip, sender, decision.address);
  auto result = greylist.evaluate(key, config.greylisting, Clock::now());
  if (!result.defer) {
    greylist.commit(key, result, config.greylisting, Clock::now());
    verdict.checks.push_back({"greylisting", 0, result.detail});
    co_return std::nullopt;
  }
  // Never greylist a recipient that would be refused anyway: a live back-end is asked first (its
  // remembered answer, else a probe of its own), and a refusal takes the usual way.
  if (t.backend_mail_refusal) co_return std::nullopt;
  if (decision.domain->backend.live()) {
    auto answer = gateway_.recipient_cache().recall(decision.address);
    if (!answer) {
      answer = co_await ask_backend_once(gateway_, config, decision.domain->backend, sender,
                                         t.mail.params.body == "8BITMIME", t.mail.params.smtputf8, decision.address);
      if (answer) gateway_.recipient_cache().remember(decision.address, *answer);
    }
    if (answer && !answer->positive()) co_return std::nullopt;
  }
  // Timed from after the probe, so a slow back-end does not eat into the delay.
  result = greylist.evaluate(key, config.greylisting, Clock::now());
  if (!result.defer) {   // another connection's retry passed meanwhile
    greylist.commit(key, result, config.greylisting, Clock::now());
    verdict.checks.push_back({"greylisting", 0, result.detail});
    co_return std::nullopt;
  }
  greylist.commit(key, result, config.greylisting, Clock::now());
  verdict.checks.push_back({"greylisting", 0, result.detail});
  Reply reply{451, "4.7.1", policy.reply_text("greylisting", t.id, result.reason)};
  t.rejected.push_back(decision.address + ": " + reply.summary());
  t.last_reject_reason = "greylisted";
  t.last_reject_disposition = "tempfail";
  if (!t.envelope || t.recipients.empty()) t.envelope = verdict;   // the explanation of the deferred transaction
  spdlog::info("id={} client={} from=<{}> to=<{}> greylisted ({}): {}", t.id, client_.ip, sender, decision.address,
               checks::to_string(result.kind), result.detail);
  co_return reply;
}

std::string ConnectionHandler::received_header(const smtp::Session& session) const {
  const auto& t = *transaction_;
  auto config = gateway_.config();
  // RFC 5321 §4.4 trace field; protocol keywords from RFC 3848 / RFC 6531.
  std::string protocol = t.mail.params.smtputf8 ? "UTF8SMTP" : (session.esmtp() ? "ESMTP" : "SMTP");
  if (session.tls()) protocol += "S";
  std::string from = fmt::format("from {} ({}[{}])", helo_, client_.ptr.empty() ? "" : client_.ptr + " ", client_.ip);
  std::string header = fmt::format("Received: {}\r\n\tby {} (gatehouse) with {} id {}", from, config->hostname, protocol, t.id);
  if (session.tls() && !client_.tls_version.empty())
    header += fmt::format("\r\n\t(using {} with cipher {})", client_.tls_version, client_.tls_cipher);
  if (t.recipients.size() == 1) header += fmt::format("\r\n\tfor <{}>", t.recipients.front());
  header += fmt::format("; {}\r\n", rfc5322_date(Clock::now()));
  return header;
}

boost::asio::awaitable<void> ConnectionHandler::release_backend(bool reset) {
  if (!transaction_ || !transaction_->backend) co_return;
  auto connection = std::move(transaction_->backend);
  if (reset && transaction_->backend_mail_sent) {
    auto answer = co_await connection->rset();
    if (!answer || !answer->positive()) co_return;  // closes
  }
  {  // co_await outside the call: GCC 12 mishandles a by-value unique_ptr argument next to co_await
    auto context = co_await current_context();
    gateway_.pool().give(std::move(connection), context);
  }
}

TransactionRecord ConnectionHandler::transaction_record() const {
  const auto& t = *transaction_;
  TransactionRecord record;
  record.id = t.id;
  record.time = t.started;
  record.client_ip = client_.ip;
  record.client_ptr = client_.ptr;
  record.helo = helo_;
  record.tls = client_.tls_version.empty() ? "" : client_.tls_version + " " + client_.tls_cipher;
  record.mail_from = t.mail.sender.text();
  record.recipients = t.recipients;
  record.rejected_recipients = t.rejected;
  record.direction = t.outbound ? "outbound" : "inbound";
  record.domain = t.domain ? t.domain->name : (t.outbound && !t.recipients.empty() ? domain_of_address(t.recipients.front()) : "");
  record.backend = t.outbound ? "mx" : (t.domain ? t.domain->backend.text : "");
  return record;
}

void ConnectionHandler::log_abandoned() {
  if (!transaction_) return;
  auto& t = *transaction_;
  TransactionRecord record = transaction_record();
  if (t.envelope) {
    record.score = t.envelope->score;
    record.checks = t.envelope->checks;
  }
  if (!t.rejected.empty() && t.recipients.empty()) {
    record.disposition = t.last_reject_disposition;
    record.reason = t.last_reject_reason;
    record.reply = t.rejected.back();
  } else {
    record.disposition = "abandoned";
    record.reason = "no DATA";
  }
  record.delivery_status = "none";
  count_transaction(record);
  spdlog::info("id={} client={} helo=\"{}\" from=<{}> rcpts={} rejected={} disposition={} reason=\"{}\"", record.id,
               record.client_ip, record.helo, record.mail_from, record.recipients.size(), record.rejected_recipients.size(),
               record.disposition, record.reason);
  gateway_.store().record(std::move(record));
  transaction_.reset();
}

boost::asio::awaitable<void> ConnectionHandler::on_reset() {
  co_await release_backend(true);
  log_abandoned();
}

boost::asio::awaitable<Reply> ConnectionHandler::on_message(smtp::MessageEvent& event, const smtp::Session& session) {
  const bool clean_client = !state_.early_talker && !state_.unoffered_pipelining;
  Reply reply = co_await handle_message(event, session);
  // A client whose mail was accepted untagged, without protocol abuse, skips the greeting pause
  // next time (for [abuse] pregreet_ttl).
  if (clean_client && reply.positive() && last_disposition_ == "accept" && !state_.trusted) {
    auto config = gateway_.config();
    if (config->abuse.pregreet_pause.count() > 0) gateway_.reputation().remember_good(client_.ip, config->abuse.pregreet_ttl);
  }
  // The reply quotes the transaction ID: its log row and stored copy are in the store's record
  // journal (or, without one, committed) before the client hears it, so a crash (kill -9) right
  // after the 250 cannot lose them (store/record_journal.hpp).
  auto executor = co_await boost::asio::this_coro::executor;
  co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void()>(
      [this, executor](auto handler) {
        // The handler *is* the suspended coroutine: move it exactly once into the function posted to
        // the coroutine's executor; the store's thread must not keep (and later destroy) a copy while
        // the resumed coroutine runs (heap corruption under load, see bench/README.md).
        auto slot = std::make_shared<std::optional<decltype(handler)>>(std::move(handler));
        gateway_.store().when_written([slot, executor] {
          boost::asio::post(executor, [h = std::move(**slot)]() mutable { std::move(h)(); });
          slot->reset();
        });
      },
      boost::asio::use_awaitable);
  co_return reply;
}

// What the adaptive classifier learns from this message, on its own thread (docs/content.md,
// "Classifier"): a local user's message makes the inbound messages it answers ham; an inbound
// message rejected far above the threshold is spam; an accepted inbound message's Message-ID is
// remembered so that a reply can find it.
void ConnectionHandler::learn_from(const std::string& message, const content::HeaderSection& headers,
                                   const Verdict& verdict, const FilterPolicy& policy) {
  auto* learner = gateway_.classifier();
  if (!learner) return;
  const ClassifierConfig& settings = gateway_.config()->classifier;
  if (!settings.enabled) return;
  if (state_.trusted) {
    if (!settings.learn_from_replies) return;
    std::vector<std::string> answered;
    for (const auto& field : headers.fields) {
      const std::string name = smtp::to_lower_ascii(field.name);
      if (name != "in-reply-to" && name != "references") continue;
      for (auto& id : classifier::message_ids_of(field.value)) answered.push_back(std::move(id));
    }
    if (!answered.empty()) learner->learn_replied(std::move(answered), &gateway_.store());
    return;
  }
  if (transaction_->outbound) return;
  if (verdict.disposition == "reject") {
    if (settings.autolearn && verdict.score >= policy.reject_threshold + settings.autolearn_spam_margin)
      learner->learn(message, classifier::Label::spam, "autolearn", true);
    return;
  }
  if (verdict.disposition == "accept" || verdict.disposition == "tag") {
    auto ids = classifier::message_ids_of(headers.first("Message-ID").value_or(""));
    if (!ids.empty()) learner->remember_inbound(ids.front(), transaction_->id);
  }
}

boost::asio::awaitable<Reply> ConnectionHandler::handle_message(smtp::MessageEvent& event, const smtp::Session& session) {
  auto& t = *transaction_;
  auto config = gateway_.config();
  const std::string id = t.id;

  TransactionRecord record = transaction_record();
  record.size = event.size;

  auto finish = [&](Reply reply, std::string disposition, std::string reason, std::string delivery_status,
                    std::string message_copy, bool add_id = true) {
    if (add_id) reply = with_id(std::move(reply), id);
    record.reply = reply.summary();
    record.disposition = std::move(disposition);
    record.reason = std::move(reason);
    record.delivery_status = std::move(delivery_status);
    record.has_message = !message_copy.empty();
    last_disposition_ = record.disposition;
    count_transaction(record);
    spdlog::info("id={} client={} ptr={} helo=\"{}\" tls=\"{}\" from=<{}> to=<{}> size={} header_from=\"{}\" "
                 "subject=\"{}\" msgid=\"{}\" disposition={} reason=\"{}\" score={:.1f} delivery={} attempts={} reply=\"{}\"",
                 id, record.client_ip, record.client_ptr, record.helo, record.tls, record.mail_from,
                 fmt::join(record.recipients, ","), record.size, record.header_from, record.subject, record.message_id,
                 record.disposition, record.reason, record.score, record.delivery_status, record.delivery_attempts,
                 record.reply);
    gateway_.store().record(std::move(record), std::move(message_copy));
    transaction_.reset();
    return reply;
  };

  if (event.oversize) {
    co_await release_backend(true);
    co_return finish(Reply{552, "5.3.4", "Message size exceeds fixed maximum message size"}, "reject", "size", "none", {});
  }

  std::string message = received_header(session) + event.message;
  auto headers = content::parse_headers(message);
  record.header_from = clean_header_value(headers.first("From").value_or(""));
  record.subject = clean_header_value(headers.first("Subject").value_or(""));
  record.message_id = clean_header_value(headers.first("Message-ID").value_or(""));

  if (event.bare_newlines && config->bare_newline == BareNewlinePolicy::reject) {
    co_await release_backend(true);
    co_return finish(Reply{550, "5.6.0", "Message contains bare CR or LF characters; lines must end with CRLF"},
                     "reject", "bare newline", "none", message);
  }

  // The engine's verdict: the content checks continue from the envelope's.
  const FilterPolicy& policy = t.domain ? t.domain->policy : config->policy;
  checks::CheckContext context = check_context(*config, policy);
  context.stage = checks::Stage::data;
  context.recipients = t.recipients;
  context.message = message;
  context.headers = &headers;
  std::optional<content::MessageAnalysis> analysis;
  if (gateway_.engine().needs_content(policy)) context.content = &analysis.emplace(content::analyse_message(message));
  Verdict envelope_verdict = t.envelope.value_or(Verdict{});
  Verdict verdict = co_await gateway_.engine().judge_message(context, std::move(envelope_verdict));
  record.score = verdict.score;
  record.checks = verdict.checks;
  learn_from(message, headers, verdict, policy);
  if (verdict.disposition == "reject" || verdict.disposition == "tempfail") {
    co_await release_backend(true);
    co_return finish(verdict.reply, verdict.disposition, verdict.reason, "none", message, false);
  }
  message = annotate_message(std::move(message), headers, verdict, policy, config->hostname);
  const std::string disposition = verdict.disposition;

  // Durable before the client hears 250: the spool's fsync. For a live hand-off the back-end gets
  // the message at the same time, and the reply waits for both (the fsync and the back-end's
  // answer). A crash in between can cost a duplicate (the client, unanswered, sends again), which
  // a crash after the back-end's answer could cost anyway; never a loss.
  delivery::SpoolEnvelope envelope;
  envelope.id = id;
  envelope.mail_from = record.mail_from;
  envelope.recipients = t.recipients;
  envelope.backend = record.backend;
  envelope.domain = record.domain;
  envelope.direction = record.direction;
  envelope.queued_at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
  auto spool_failed = [&](const Status& stored) {
    spdlog::error("id={} spool: {}", id, stored.error().message);
    return finish(Reply{451, "4.3.0", "Temporary local problem, please try again later"}, "tempfail", "spool error",
                  "none", message);
  };

  // Live hand-off: the client's reply is the back-end's answer.
  if (t.backend) {
    auto connection = std::move(t.backend);
    auto outcome = co_await both(gateway_.spool().store(envelope, message), connection->data(message, t.recipients.size()));
    Status stored = std::move(outcome.first);
    auto replies = std::move(outcome.second);
    if (replies) {  // the back-end answered: its connection goes back to the pool
      // co_await outside the call: GCC 12 mishandles a by-value unique_ptr argument next to co_await
      auto context = co_await current_context();
      gateway_.pool().give(std::move(connection), context);
    }
    const bool all_accepted = replies && replies->size() >= t.recipients.size() &&
                              std::all_of(replies->begin(), replies->end(), [](auto& r) { return r.positive(); });
    // No durable copy to retry from: the client keeps the message and tries again.
    if (!stored && !all_accepted) co_return spool_failed(stored);
    if (!stored) spdlog::error("id={} spool: {} (the back-end accepted the message, nothing to retry)", id, stored.error().message);
    if (replies) {
      const auto& list = *replies;
      std::vector<std::string> deferred, failed;
      for (std::size_t i = 0; i < t.recipients.size() && i < list.size(); ++i) {
        if (list[i].transient()) deferred.push_back(t.recipients[i]);
        else if (list[i].permanent()) failed.push_back(t.recipients[i]);
      }
      bool all_same = std::all_of(list.begin(), list.end(), [&](auto& r) { return r.code / 100 == list.front().code / 100; });
      record.delivery_attempts = 1;
      record.delivery_detail = list.front().summary();
      if (all_same && !list.front().positive()) {
        // Refused by the back-end as a whole: the refusal goes to the client, never a bounce.
        gateway_.spool().remove(id);
        bool permanent = list.front().permanent();
        co_return finish(list.front(), permanent ? "reject" : "tempfail", fmt::format("backend {}", list.front().code),
                         "none", message);
      }
      if (deferred.empty()) {
        if (stored) gateway_.spool().remove(id);
        // LMTP recipients refused after DATA are logged (the copy stays for release), not bounced.
        if (!failed.empty()) record.delivery_detail = fmt::format("refused for {} after DATA", fmt::join(failed, ", "));
        co_return finish(Reply{250, "2.0.0", "Ok: queued"}, disposition, "", failed.empty() ? "delivered" : "partial",
                         message);
      }
      envelope.recipients = deferred;
      envelope.attempts = 1;
      auto updated = gateway_.spool().update(envelope);
      if (!updated) spdlog::error("id={} spool update: {}", id, updated.error().message);
      gateway_.queue().schedule(id, config->retry_schedule.front());
      co_return finish(Reply{250, "2.0.0", "Ok: queued"}, disposition, "", "queued", message);
    }
    // Time-out or broken connection: the spooled copy will be retried.
    t.backend_error = replies.error().message;
    spdlog::warn("id={} backend {} failed at DATA: {}", id, record.backend, t.backend_error);
    record.delivery_attempts = 1;
    record.delivery_detail = t.backend_error;
    gateway_.queue().schedule(id, config->retry_schedule.front());
    co_return finish(Reply{250, "2.0.0", "Ok: queued"}, disposition, "", "queued", message);
  }

  auto stored = co_await gateway_.spool().store(envelope, message);
  if (!stored) {
    co_await release_backend(true);
    co_return spool_failed(stored);
  }

  if (t.domain && t.domain->backend.kind == BackendAddress::Kind::maildir) {
    auto result = co_await delivery::attempt_delivery(*config, gateway_.resolver(), envelope, message);
    record.delivery_attempts = 1;
    record.delivery_detail = result.detail;
    if (result.deferred.empty()) {
      gateway_.spool().remove(id);
      co_return finish(Reply{250, "2.0.0", "Ok: queued"}, disposition, "", "delivered", message);
    }
    gateway_.queue().schedule(id, config->retry_schedule.front());
    co_return finish(Reply{250, "2.0.0", "Ok: queued"}, disposition, "", "queued", message);
  }

  // Back-end unreachable during the transaction, or outbound: the queue delivers it.
  record.delivery_detail = t.backend_error;
  gateway_.queue().schedule(id, t.outbound ? std::chrono::seconds(0) : config->retry_schedule.front());
  co_return finish(Reply{250, "2.0.0", "Ok: queued"}, disposition, "", "queued", message);
}

}  // namespace gatehouse::engine
