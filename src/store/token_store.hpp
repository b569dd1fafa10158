// The adaptive classifier's part of the state store: per-feature spam/ham counts with the day each
// was last seen, the number of messages learned of each kind, the digests of learned messages (so
// that learning the same message twice does not count it twice, and a release can take back an
// automatic spam lesson), and the Message-IDs of recently accepted inbound messages (so that a
// local user's reply can teach that the message it answers was ham). SQLite
// (sqlite_token_store.cpp) keeps these tables in the daemon's database; the daemon holds the
// counts in memory (classifier/classifier.hpp) and reloads them when another process learned.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "store/store.hpp"

namespace gatehouse {

struct TokenRow {
  std::uint64_t hash = 0;
  std::uint32_t spam = 0, ham = 0;
  std::int32_t last_seen_day = 0;    // days since the Unix epoch
};

struct TokenSnapshot {
  std::vector<TokenRow> tokens;
  std::uint64_t spam_messages = 0, ham_messages = 0;
  std::int64_t generation = 0;
};

// One message learned, re-learned as the other kind, or forgotten, as one unit.
struct LearnRecord {
  std::string digest;                    // of the message (classifier/learner.hpp)
  std::string label;                     // "ham" or "spam"; "" = forget the message
  std::string source;                    // "cli", "reply", "autolearn", "release"
  std::vector<std::uint64_t> features;
  int spam = 0, ham = 0;                 // +1 / -1 per kind
  std::int32_t day = 0;
};

struct LearnedMessage {
  std::string label;                     // "ham" | "spam"
  std::string source;
};

// Generations before and after a write: when `before` is the one a reader last loaded, the reader
// has seen everything else and may apply its own change instead of reloading.
struct GenerationStep {
  std::int64_t before = 0, after = 0;
};

struct AgeingPolicy {
  std::int32_t today = 0;
  std::int32_t max_age_days = 180;       // tokens not seen in a learned message for longer are dropped
  std::uint64_t max_learned = 50000;     // above this many messages of one kind, every count is halved
  Clock::time_point forget_before{};     // learned-message digests and inbound Message-IDs older than this go
};

struct AgeingResult {
  bool halved = false;
  std::uint64_t tokens_removed = 0;
  GenerationStep generation;
};

class TokenStore {
 public:
  virtual ~TokenStore() = default;
  virtual Result<TokenSnapshot> load() = 0;
  // Only these features (and the totals): for judging one message without loading everything.
  virtual Result<TokenSnapshot> load_some(const std::vector<std::uint64_t>& hashes) = 0;
  virtual std::int64_t generation() = 0;                       // -1 when it cannot be read
  virtual std::optional<LearnedMessage> learned(const std::string& digest) = 0;
  // Applies the records in one transaction (counts, totals, learned digests) and bumps the generation.
  virtual Result<GenerationStep> learn(const std::vector<LearnRecord>& records) = 0;
  virtual Result<AgeingResult> age(const AgeingPolicy& policy) = 0;
  // Inbound Message-ID → transaction ID, for learning from replies.
  // Inbound Message-ID → transaction ID pairs, in one transaction (the daemon batches them: one
  // write per accepted message would contend with the store's writer for the database lock).
  using InboundEntry = std::pair<std::string, std::string>;
  virtual Status remember_inbound(const std::vector<InboundEntry>& entries) = 0;
  Status remember_inbound(const std::string& message_id, const std::string& transaction_id) {
    return remember_inbound(std::vector<InboundEntry>{{message_id, transaction_id}});
  }
  virtual std::optional<std::string> inbound_transaction(const std::string& message_id) = 0;
};

// Opens (creating the tables if needed) the classifier tables in the SQLite database at `path`.
Result<std::unique_ptr<TokenStore>> open_sqlite_token_store(const std::string& path);

}  // namespace gatehouse
