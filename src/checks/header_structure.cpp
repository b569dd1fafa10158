// Structural header checks (RFC 5322 §3.6 field counts). See header_structure.hpp.
#include "checks/header_structure.hpp"

namespace gatehouse::checks {

CheckOutcome HeaderStructureCheck::run(const CheckContext& context) const {
  CheckOutcome outcome;
  if (!context.headers) return outcome;
  const auto& h = *context.headers;
  auto note = [&](double score, std::string_view what) {
    outcome.score += score;
    if (!outcome.detail.empty()) outcome.detail += "; ";
    outcome.detail += what;
  };
  if (h.count("From") == 0) note(1.5, "no From header");
  else if (h.count("From") > 1) note(1.5, "several From headers");
  if (h.count("Date") == 0) note(1.0, "no Date header");
  else if (h.count("Date") > 1) note(1.0, "several Date headers");
  if (h.count("Message-ID") == 0) note(0.5, "no Message-ID header");
  if (h.count("Subject") > 1) note(0.5, "several Subject headers");
  if (h.malformed) note(1.0, "malformed header lines");
  return outcome;
}

}  // namespace gatehouse::checks
