// Learning for the adaptive classifier: turns a message into a count change (tokenizer.hpp),
// keeps a message from being counted twice (its digest is remembered in the token store), and
// keeps the in-memory model in step with the store. `gatehouse learn` uses Learner directly; the
// daemon uses BackgroundLearner, which does the same on a thread of its own after the SMTP reply:
// replies of local users (ham), confidently rejected messages (spam), reloads when another
// process learned, and the daily ageing of the tokens. See docs/content.md ("Classifier").
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "classifier/classifier.hpp"
#include "classifier/tokenizer.hpp"
#include "config/config.hpp"
#include "store/store.hpp"
#include "store/token_store.hpp"

namespace gatehouse::classifier {

enum class Label { ham, spam };
std::string_view to_string(Label label);

// Identifies a message for learning whatever trace fields were added on the way: SHA-256 of its
// Message-ID and its body (line ends ignored), hex.
std::string message_digest(std::string_view message);

// The features of a raw message (a leading mbox "From " line is skipped).
std::vector<Feature> message_features(std::string_view message, const TokenizerOptions& options = {});

struct LearnResult {
  enum class Kind { learned, relearned, unchanged, forgotten, not_learned };
  Kind kind = Kind::learned;
  std::string detail;
};

class Learner {
 public:
  // `model` may be null (the CLI only writes the store).
  Learner(TokenStore& store, Model* model, TokenizerOptions options = {});

  Status load();                   // the whole model from the store
  Status load_some(const std::vector<Feature>& features);   // just these features (one message)
  Status reload_if_changed();      // when another process learned or aged since

  // Queues the lesson in the current batch (commit() writes it). A message learned before as the
  // same kind is unchanged; as the other kind it is moved (counted once, as `label`). With
  // `only_if_new`, a message learned before in any way is left as it is (automatic learning never
  // overrides a person).
  LearnResult learn(std::string_view message, Label label, const std::string& source, bool only_if_new = false);
  LearnResult forget(std::string_view message);
  Status commit();
  std::size_t pending() const { return pending_.size(); }

  Result<AgeingResult> age(const ClassifierConfig& config, Clock::time_point now);

 private:
  std::optional<LearnedMessage> learned_as(const std::string& digest);
  Status apply_step(const GenerationStep& step, const std::vector<LearnRecord>& records);

  TokenStore& store_;
  Model* model_;
  TokenizerOptions options_;
  std::vector<LearnRecord> pending_;
  std::unordered_map<std::string, std::string> pending_labels_;   // digest → label ("" = forgotten)
  std::int64_t generation_ = -1;   // of the store, as loaded into the model
};

// The daemon's learner: one thread, a bounded queue of lessons, reloads and ageing.
class BackgroundLearner {
 public:
  BackgroundLearner(std::unique_ptr<TokenStore> token_store, ClassifierConfig config);
  ~BackgroundLearner();

  Status start();                               // loads the model and starts the thread
  const Model& model() const { return model_; }
  const ClassifierConfig& config() const { return config_; }

  // After the reply to the client; each returns at once.
  void learn(std::string message, Label label, std::string source, bool only_if_new);
  // An accepted inbound message: remember its Message-ID for learning from replies.
  void remember_inbound(std::string message_id, std::string transaction_id);
  // A local user's message: every message it answers (In-Reply-To, References) that came in
  // through the gateway and is still stored is learned as ham.
  void learn_replied(std::vector<std::string> message_ids, Store* store);
  // Blocks until every lesson queued so far is written (tests, shutdown).
  void drain();

 private:
  void post(std::function<void()> job);
  void run();

  std::unique_ptr<TokenStore> token_store_;
  ClassifierConfig config_;
  Model model_;
  Learner learner_;
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<std::function<void()>> jobs_;
  std::vector<TokenStore::InboundEntry> inbound_;   // written in batches (remember_inbound)
  bool flush_requested_ = false;                    // drain(): write the inbound batch now
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

// Message-IDs of an In-Reply-To or References field value, without angle brackets.
std::vector<std::string> message_ids_of(std::string_view value);

}  // namespace gatehouse::classifier
