// Structural header checks (RFC 5322 §3.6): the fields every message must carry (From, Date,
// exactly once), the Message-ID it should carry, and header sections that cannot be parsed.
#pragma once
#include "checks/check.hpp"

namespace gatehouse::checks {

class HeaderStructureCheck final : public Check {
 public:
  std::string_view name() const override { return "header_structure"; }
  Stage stage() const override { return Stage::data; }
  int cost() const override { return 1; }
  std::pair<double, double> score_range() const override { return {0.0, 4.5}; }
  CheckOutcome run(const CheckContext& context) const override;
};

}  // namespace gatehouse::checks
