// The interface every check implements: one small unit per test, declaring the earliest SMTP stage
// at which it has what it needs, its cost, and the range of score it can contribute under a policy;
// it reports findings, which the policy ([filter.checks.NAME] in the configuration) turns into
// scores or outright decisions. The engine (engine/engine.hpp) runs the cheap checks first, skips
// the ones that cannot change the disposition, and records every contribution.
#pragma once
#include <any>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "content/headers.hpp"

namespace gatehouse::dns {
class Resolver;
}
namespace gatehouse::content {
struct MessageAnalysis;   // content/analysis.hpp: include it in the checks that read it
class OcrPool;            // content/ocr.hpp
}
namespace gatehouse::engine {
class Reputation;
}
namespace gatehouse::classifier {
class Model;
struct Feature;
}

namespace gatehouse::checks {

// Earliest point of the SMTP conversation with everything the check looks at (RFC 5321 §3).
enum class Stage { connect, helo, mail, rcpt, data };
std::string_view to_string(Stage stage);

// What is known about the connection, shared by every check and transaction on it. The network
// layer fills the protocol facts; checks keep the results of their lookups in `memo` so that a
// lookup is made once per connection however many recipients and transactions it carries.
struct ConnectionState {
  std::string client_ip;
  std::string local_ip;                    // the address the client connected to
  std::string ptr;                         // first PTR name ("" when none or failed)
  std::string ptr_error;                   // "" or why the PTR lookup failed (timeout, servfail)
  std::vector<std::string> helo_names;     // every HELO/EHLO argument, in order
  bool trusted = false;                    // from [server] trusted_networks
  // Protocol abuse seen by the network layer (smtp/server.cpp).
  bool early_talker = false;               // sent data before our banner
  bool unoffered_pipelining = false;       // pipelined commands after HELO (PIPELINING not offered)
  std::size_t errors = 0;                  // protocol errors so far
  std::size_t rsets = 0;
  std::size_t unknown_recipients = 0;      // recipients refused as unknown (harvest detection)
  std::unordered_map<std::string, std::any> memo;
};

// What a check may look at. Fields of later stages are empty in earlier ones.
struct CheckContext {
  Stage stage = Stage::connect;
  std::string id;                          // the transaction ID (for replies and logs)
  ConnectionState* connection = nullptr;
  std::string client_ip;
  std::string helo;
  std::string mail_from;                   // "" = the null sender
  std::string recipient;                   // rcpt stage: the recipient being judged
  std::vector<std::string> recipients;     // data stage: every accepted recipient
  std::string_view message;                // data stage: the whole message
  // Data stage: when the message arrived; the epoch (unset) means now. `gatehouse check --arrival`
  // judges an old message as of the time it was received.
  std::chrono::system_clock::time_point arrival{};
  const content::HeaderSection* headers = nullptr;  // data stage
  const content::MessageAnalysis* content = nullptr; // data stage: MIME parse and what is derived from it
  const Config* config = nullptr;
  const FilterPolicy* policy = nullptr;    // the recipient domain's policy
  dns::Resolver* resolver = nullptr;
  engine::Reputation* reputation = nullptr;
  const classifier::Model* classifier = nullptr;     // data stage: the learned tokens (null: none loaded)
  // `gatehouse check` loads only the counts of the message's own features: this loads those of
  // features found later (the words of its images). Unset in the daemon, which has them all.
  std::function<void(const std::vector<classifier::Feature>&)> load_classifier_features;
  content::OcrPool* ocr = nullptr;                   // data stage: the OCR workers (null: none started)
  // Data stage: the text of the message's images as the ocr check read it, normalised like
  // content->normalized_text (content/normalize.hpp), one a line. The checks that read the
  // normalised text read this too (watch_words, classifier).
  std::string image_text;
};

// One finding of a check, already turned into an action by the policy.
struct Contribution {
  std::string finding;                     // "not_fqdn", "listed", ...
  Action action;
  std::string detail;                      // shown in the explanation and as {reason} of a reply
  int code = 0;                            // reply for reject/tempfail: 0 = the check's default
  std::string enhanced;
};

struct CheckOutcome {
  std::vector<Contribution> contributions;
  std::string error;                       // the check could not decide (DNS timeout, ...): no evidence
  std::string note;                        // logged with no score ("pass", "exempt: postmaster@")
  std::string authentication_result;       // RFC 8601 resinfo for the header, "spf=pass smtp.mailfrom=…"

  // Adds `finding` with the action `policy` gives it.
  void add(const CheckPolicy& policy, const std::string& finding, std::string detail) {
    contributions.push_back({finding, policy.action(finding), std::move(detail)});
  }
};

class Check {
 public:
  virtual ~Check() = default;
  virtual std::string_view name() const = 0;
  virtual Stage stage() const = 0;
  virtual int cost() const = 0;   // relative: 1 = in memory, 10 = one DNS lookup, 50 = a connection, 100 = content
  // The least and most it can add to the score under this configuration and policy.
  virtual std::pair<double, double> score_range(const Config& config, const FilterPolicy& policy) const;
  // Whether it can decide outright (reject, tempfail, accept) under this configuration and policy;
  // such checks are never skipped.
  virtual bool may_decide(const Config& config, const FilterPolicy& policy) const;
  // Runs even for white-listed senders (antivirus).
  virtual bool always_runs() const { return false; }
  // Names of the checks that read what this one adds to the context (the ocr check's image_text:
  // watch_words, classifier). The engine runs those after it, and runs it only when one of them
  // is enabled and can decide outright or add a score that could still change the disposition.
  virtual std::vector<std::string_view> feeds() const { return {}; }
  // Whether the message gives it anything to do (the ocr check: an image). One that has nothing
  // to do is not run, and the checks it feeds keep their own place.
  virtual bool has_input(const CheckContext&) const { return true; }
  // Reads context.content (the MIME parse and what is derived from it): the gateway builds the
  // MessageAnalysis only when an enabled check says so.
  virtual bool reads_content() const { return false; }
  // Judges the sending host (block lists, HELO, reverse DNS, SPF, callouts): the engine skips it for
  // entries of the policy's No Host Checks list.
  virtual bool host_check() const { return false; }
  // The reply a reject/tempfail of this check gives unless the contribution names one.
  virtual std::string_view reply_kind() const { return name(); }
  virtual int reject_code() const { return 550; }
  virtual std::string_view reject_enhanced() const { return "5.7.1"; }

  virtual boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const = 0;
};

// Helpers for the common cases of score_range/may_decide: the actions of this check's policy.
std::pair<double, double> action_score_range(const CheckPolicy& policy);
bool actions_decide(const CheckPolicy& policy);

// An address in the text form inet_ntop gives (IPv4-mapped IPv6 as IPv4), for comparing addresses
// written differently; the input itself when it is not an address.
std::string canonical_ip(std::string_view ip);

// "postmaster@…" or "abuse@…" (RFC 5321 §4.5.1, RFC 2142): never refused for who the sender is.
bool is_role_recipient(std::string_view address);

}  // namespace gatehouse::checks
