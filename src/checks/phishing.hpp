// The signs of phishing in a message's links (checks/phishing.cpp), as pure functions the check and
// the unit tests share: link text naming another site than the link goes to, numeric hosts, the
// "user@host" trick (RFC 3986 §3.2.1 userinfo), and names confusable with the organisation's own
// domains or with protected brands (Unicode TR #39 §4 skeletons; one edit on the registrable label).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "content/analysis.hpp"

namespace gatehouse::checks {

struct PhishingSign {
  std::string finding;   // link_text_brand, link_text_mismatch, ip_host, userinfo_trick, lookalike_own, lookalike_brand, form_to_remote
  std::string detail;
};

// The registrable domain among `originals` that `domain` (a registrable domain, A-label) imitates:
// same TR #39 skeleton, or one edit away on a label of at least 6 letters under the same suffix;
// nullopt when none does, or when `domain` is one of them.
std::optional<std::string> imitated_domain(std::string_view domain, const std::vector<std::string>& originals);

// The original whose whole name a host carries as its leading labels while belonging to another
// registrable domain ("paypal.com.login.example.net" → "paypal.com").
std::optional<std::string> carried_domain(std::string_view host, std::string_view registrable,
                                          const std::vector<std::string>& originals);

// Every sign found, at most one per finding (the first example, with a count when there are more).
// `from_domain` is the header From domain ("" when none); `own_domains` the served domains.
std::vector<PhishingSign> find_phishing_signs(const content::MessageAnalysis& analysis, std::string_view from_domain,
                                              const std::vector<std::string>& own_domains,
                                              const std::vector<std::string>& protected_domains);

}  // namespace gatehouse::checks
