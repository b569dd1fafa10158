// Structural header checks (RFC 5322 §3.6): the fields every message must carry (From, Date,
// exactly once), the Message-ID it should carry, and header sections that cannot be parsed.
#include "checks/builtin.hpp"

namespace gatehouse::checks {
namespace {

class HeaderStructureCheck final : public Check {
 public:
  std::string_view name() const override { return "header_structure"; }
  Stage stage() const override { return Stage::data; }
  int cost() const override { return 1; }
  std::pair<double, double> score_range(const Config&, const FilterPolicy&) const override { return {0.0, 4.5}; }
  bool may_decide(const Config&, const FilterPolicy&) const override { return false; }

  boost::asio::awaitable<CheckOutcome> run(CheckContext& context) const override {
    CheckOutcome outcome;
    if (!context.headers) co_return outcome;
    const auto& h = *context.headers;
    auto note = [&](double score, std::string finding, std::string detail) {
      outcome.contributions.push_back({std::move(finding), Action::points(score), std::move(detail)});
    };
    if (h.count("From") == 0) note(1.5, "no_from", "no From header");
    else if (h.count("From") > 1) note(1.5, "several_from", "several From headers");
    if (h.count("Date") == 0) note(1.0, "no_date", "no Date header");
    else if (h.count("Date") > 1) note(1.0, "several_date", "several Date headers");
    if (h.count("Message-ID") == 0) note(0.5, "no_message_id", "no Message-ID header");
    if (h.count("Subject") > 1) note(0.5, "several_subject", "several Subject headers");
    if (h.malformed) note(1.0, "malformed", "malformed header lines");
    co_return outcome;
  }
};

}  // namespace

std::unique_ptr<Check> make_header_structure_check() { return std::make_unique<HeaderStructureCheck>(); }

}  // namespace gatehouse::checks
