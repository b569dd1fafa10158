// The interface every check implements: one small unit per test, declaring its stage, its cost
// and the range of score it can contribute, and optionally deciding outright. The engine
// (engine/engine.hpp) orders checks by stage and cost and records every contribution.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "content/headers.hpp"
#include "smtp/reply.hpp"

namespace gatehouse::checks {

enum class Stage { connect, helo, mail, rcpt, data };

// What a check may look at. Fields of later stages are empty in earlier ones.
struct CheckContext {
  std::string client_ip;
  std::string helo;
  std::string mail_from;
  std::vector<std::string> recipients;
  std::string_view message;                       // data stage: the whole message
  const content::HeaderSection* headers = nullptr; // data stage
};

enum class Decision { none, accept, reject, tempfail };

struct CheckOutcome {
  double score = 0;
  std::string detail;                  // shown in the explanation; empty = nothing found
  Decision decision = Decision::none;  // reject/tempfail decide outright with `reply`
  smtp::Reply reply;
};

class Check {
 public:
  virtual ~Check() = default;
  virtual std::string_view name() const = 0;
  virtual Stage stage() const = 0;
  virtual int cost() const = 0;                         // relative: 1 = in-memory, 10 = DNS, 100 = content
  virtual std::pair<double, double> score_range() const = 0;
  virtual CheckOutcome run(const CheckContext& context) const = 0;
};

}  // namespace gatehouse::checks
