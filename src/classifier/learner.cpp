// Learning for the adaptive classifier. See learner.hpp.
#include "classifier/learner.hpp"

#include <pthread.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include "common/text.hpp"
#include "content/analysis.hpp"
#include "content/headers.hpp"

namespace gatehouse::classifier {

std::string_view to_string(Label label) { return label == Label::spam ? "spam" : "ham"; }

namespace {

LearnRecord change_for(const std::string& digest, const std::vector<Feature>& features, int spam, int ham) {
  LearnRecord record;
  record.digest = digest;
  record.features.reserve(features.size());
  for (const auto& feature : features) record.features.push_back(feature.hash);
  record.spam = spam;
  record.ham = ham;
  record.day = today();
  return record;
}

}  // namespace

std::string message_digest(std::string_view message) {
  message = content::strip_mbox_from_line(message);
  auto headers = content::parse_headers(message);
  std::string message_id(trim_ascii_whitespace(headers.first("Message-ID").value_or("")));
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  EVP_DigestUpdate(context, message_id.data(), message_id.size());
  EVP_DigestUpdate(context, "\n", 1);
  std::string_view body = headers.body_offset <= message.size() ? message.substr(headers.body_offset) : std::string_view();
  // Line ends and trailing blank lines differ between an mbox file and the SMTP copy of a message.
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  std::size_t start = 0;
  while (start < body.size()) {
    auto cr = body.find('\r', start);
    std::string_view piece = body.substr(start, cr == std::string_view::npos ? std::string_view::npos : cr - start);
    EVP_DigestUpdate(context, piece.data(), piece.size());
    if (cr == std::string_view::npos) break;
    start = cr + 1;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context, digest, &length);
  EVP_MD_CTX_free(context);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

std::vector<Feature> message_features(std::string_view message, const TokenizerOptions& options) {
  message = content::strip_mbox_from_line(message);
  auto analysis = content::analyse_message(message);
  auto headers = content::parse_headers(message);
  return tokenize(analysis, headers, options);
}

std::vector<std::string> message_ids_of(std::string_view value) {
  std::vector<std::string> ids;
  for (std::size_t open = value.find('<'); open != std::string_view::npos && ids.size() < 100;
       open = value.find('<', open + 1)) {
    auto close = value.find('>', open);
    if (close == std::string_view::npos) break;
    std::string_view id = trim_ascii_whitespace(value.substr(open + 1, close - open - 1));
    if (!id.empty() && id.find('@') != std::string_view::npos) ids.emplace_back(id);
    open = close;
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
Learner::Learner(TokenStore& store, Model* model, TokenizerOptions options)
    : store_(store), model_(model), options_(options) {}

Status Learner::load() {
  auto snapshot = store_.load();
  if (!snapshot) return snapshot.error();
  if (model_) {
    Model::Table table;
    table.reserve(snapshot->tokens.size());
    for (const auto& row : snapshot->tokens) table[row.hash] = {row.spam, row.ham, row.last_seen_day};
    model_->replace(std::move(table), Totals{snapshot->spam_messages, snapshot->ham_messages});
  }
  generation_ = snapshot->generation;
  return Ok{};
}

Status Learner::load_some(const std::vector<Feature>& features) {
  std::vector<std::uint64_t> hashes;
  hashes.reserve(features.size());
  for (const auto& feature : features) hashes.push_back(feature.hash);
  auto snapshot = store_.load_some(hashes);
  if (!snapshot) return snapshot.error();
  if (model_) {
    Model::Table table;
    for (const auto& row : snapshot->tokens) table[row.hash] = {row.spam, row.ham, row.last_seen_day};
    model_->replace(std::move(table), Totals{snapshot->spam_messages, snapshot->ham_messages});
  }
  generation_ = snapshot->generation;
  return Ok{};
}

Status Learner::reload_if_changed() {
  std::int64_t now = store_.generation();
  if (now < 0 || now == generation_) return Ok{};
  return load();
}

std::optional<LearnedMessage> Learner::learned_as(const std::string& digest) {
  if (auto it = pending_labels_.find(digest); it != pending_labels_.end()) {
    if (it->second.empty()) return std::nullopt;
    return LearnedMessage{it->second, "pending"};
  }
  return store_.learned(digest);
}

LearnResult Learner::learn(std::string_view message, Label label, const std::string& source, bool only_if_new) {
  const std::string digest = message_digest(message);
  const std::string wanted(to_string(label));
  auto before = learned_as(digest);
  if (before && (only_if_new || before->label == wanted))
    return {LearnResult::Kind::unchanged, fmt::format("already learned as {} ({})", before->label, before->source)};
  auto features = message_features(message, options_);
  const bool moving = before.has_value();
  int spam = label == Label::spam ? 1 : (moving ? -1 : 0);
  int ham = label == Label::ham ? 1 : (moving ? -1 : 0);
  LearnRecord record = change_for(digest, features, spam, ham);
  record.label = wanted;
  record.source = source;
  pending_.push_back(std::move(record));
  pending_labels_[digest] = wanted;
  if (moving)
    return {LearnResult::Kind::relearned, fmt::format("moved from {} to {}: {} features", before->label, wanted,
                                                      features.size())};
  return {LearnResult::Kind::learned, fmt::format("{} features", features.size())};
}

LearnResult Learner::forget(std::string_view message) {
  const std::string digest = message_digest(message);
  auto before = learned_as(digest);
  if (!before) return {LearnResult::Kind::not_learned, "was not learned"};
  auto features = message_features(message, options_);
  LearnRecord record = change_for(digest, features, before->label == "spam" ? -1 : 0, before->label == "ham" ? -1 : 0);
  pending_.push_back(std::move(record));   // label "" = forget
  pending_labels_[digest] = "";
  return {LearnResult::Kind::forgotten, fmt::format("was {}", before->label)};
}

Status Learner::commit() {
  if (pending_.empty()) return Ok{};
  std::vector<LearnRecord> records = std::move(pending_);
  pending_.clear();
  pending_labels_.clear();
  auto step = store_.learn(records);
  if (!step) return step.error();
  return apply_step(*step, records);
}

Status Learner::apply_step(const GenerationStep& step, const std::vector<LearnRecord>& records) {
  if (!model_) {
    generation_ = step.after;
    return Ok{};
  }
  // Nobody else wrote since the model was loaded: apply our own change instead of reloading.
  if (step.before == generation_) {
    for (const auto& record : records) model_->apply(CountChange{record.features, record.spam, record.ham, record.day});
    generation_ = step.after;
    return Ok{};
  }
  return load();
}

Result<AgeingResult> Learner::age(const ClassifierConfig& config, Clock::time_point now) {
  AgeingPolicy policy;
  policy.today = today();
  policy.max_age_days = static_cast<std::int32_t>(config.token_max_age.count() / 86400);
  policy.max_learned = config.max_learned;
  policy.forget_before = now - config.token_max_age;
  auto result = store_.age(policy);
  if (!result) return result;
  if (result->generation.after != result->generation.before || !model_) {
    if (model_) {
      if (auto loaded = load(); !loaded) return loaded.error();
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
namespace {
constexpr std::size_t kMaxQueuedLessons = 1000;   // beyond this, lessons are dropped (and logged)
constexpr auto kMaintenanceInterval = std::chrono::seconds(30);
// Accepted messages' Message-IDs are written in batches: at this many, or this long after the first.
constexpr std::size_t kInboundBatch = 256;
constexpr auto kInboundDelay = std::chrono::seconds(2);
constexpr std::size_t kMaxQueuedInbound = 20000;
constexpr auto kAgeingInterval = std::chrono::hours(24);
}  // namespace

BackgroundLearner::BackgroundLearner(std::unique_ptr<TokenStore> token_store, ClassifierConfig config)
    : token_store_(std::move(token_store)), config_(std::move(config)), learner_(*token_store_, &model_) {}

BackgroundLearner::~BackgroundLearner() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status BackgroundLearner::start() {
  if (auto loaded = learner_.load(); !loaded) return loaded;
  auto totals = model_.totals();
  spdlog::info("classifier: {} features from {} spam and {} ham messages", model_.size(), totals.spam, totals.ham);
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "gatehouse-learn");
  return Ok{};
}

void BackgroundLearner::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (jobs_.size() >= kMaxQueuedLessons) {
      spdlog::warn("classifier: learning queue full, a lesson was dropped");
      return;
    }
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void BackgroundLearner::learn(std::string message, Label label, std::string source, bool only_if_new) {
  post([this, message = std::move(message), label, source = std::move(source), only_if_new] {
    auto result = learner_.learn(message, label, source, only_if_new);
    if (result.kind == LearnResult::Kind::learned || result.kind == LearnResult::Kind::relearned)
      spdlog::info("classifier: learned a message as {} ({}): {}", to_string(label), source, result.detail);
  });
}

void BackgroundLearner::remember_inbound(std::string message_id, std::string transaction_id) {
  bool full = false;
  {
    std::lock_guard lock(mutex_);
    if (inbound_.size() >= kMaxQueuedInbound) return;   // the writer is far behind: replies to these are not learned
    inbound_.emplace_back(std::move(message_id), std::move(transaction_id));
    full = inbound_.size() >= kInboundBatch;
  }
  if (full) wake_.notify_one();
}

void BackgroundLearner::learn_replied(std::vector<std::string> message_ids, Store* store) {
  post([this, message_ids = std::move(message_ids), store] {
    for (const auto& message_id : message_ids) {
      auto id = token_store_->inbound_transaction(message_id);
      if (!id) continue;
      auto message = store->message(*id);
      if (!message) continue;
      auto result = learner_.learn(*message, Label::ham, "reply", false);
      spdlog::info("classifier: id={} answered by a local user: ham ({})", *id, result.detail);
    }
  });
}

void BackgroundLearner::drain() {
  std::unique_lock lock(mutex_);
  flush_requested_ = true;
  wake_.notify_one();
  idle_.wait(lock, [&] { return jobs_.empty() && inbound_.empty() && !busy_; });
}

void BackgroundLearner::run() {
  auto next_ageing = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto timeout = inbound_.empty() ? std::chrono::duration_cast<std::chrono::seconds>(kMaintenanceInterval) : kInboundDelay;
    wake_.wait_for(lock, timeout, [&] {
      return stopping_ || flush_requested_ || !jobs_.empty() || inbound_.size() >= kInboundBatch;
    });
    std::vector<std::function<void()>> batch(std::make_move_iterator(jobs_.begin()), std::make_move_iterator(jobs_.end()));
    jobs_.clear();
    std::vector<TokenStore::InboundEntry> inbound;
    inbound.swap(inbound_);
    flush_requested_ = false;
    const bool stop = stopping_;
    busy_ = true;
    lock.unlock();
    if (auto saved = token_store_->remember_inbound(inbound); !saved) spdlog::warn("classifier: {}", saved.error().message);
    // Another process (`gatehouse learn`, a release) may have learned: load its lessons first.
    if (auto reloaded = learner_.reload_if_changed(); !reloaded)
      spdlog::warn("classifier: {}", reloaded.error().message);
    for (auto& job : batch) job();
    if (auto committed = learner_.commit(); !committed) spdlog::error("classifier: {}", committed.error().message);
    if (std::chrono::steady_clock::now() >= next_ageing) {
      next_ageing = std::chrono::steady_clock::now() + kAgeingInterval;
      auto aged = learner_.age(config_, Clock::now());
      if (!aged) spdlog::warn("classifier: {}", aged.error().message);
      else if (aged->halved || aged->tokens_removed)
        spdlog::info("classifier: ageing {}removed {} tokens", aged->halved ? "halved the counts and " : "",
                     aged->tokens_removed);
    }
    lock.lock();
    busy_ = false;
    idle_.notify_all();
    if (stop && jobs_.empty() && inbound_.empty()) return;
  }
}

}  // namespace gatehouse::classifier
