// The list of built-in checks. See builtin.hpp.
#include "checks/builtin.hpp"

namespace gatehouse::checks {

std::vector<std::unique_ptr<Check>> builtin_checks() {
  std::vector<std::unique_ptr<Check>> checks;
  checks.push_back(make_trusted_networks_check());
  checks.push_back(make_lists_check());
  checks.push_back(make_reputation_check());
  checks.push_back(make_protocol_check());
  checks.push_back(make_spam_trap_check());
  checks.push_back(make_helo_check());
  checks.push_back(make_dnsbl_check());
  checks.push_back(make_uribl_check());
  checks.push_back(make_phishing_check());
  checks.push_back(make_html_obfuscation_check());
  checks.push_back(make_reverse_dns_check());
  checks.push_back(make_sender_verify_check());
  checks.push_back(make_spf_check());
  checks.push_back(make_spf_alignment_check());
  checks.push_back(make_header_structure_check());
  checks.push_back(make_attachments_check());
  checks.push_back(make_message_date_check());
  checks.push_back(make_header_addresses_check());
  checks.push_back(make_subject_check());
  checks.push_back(make_free_mail_check());
  checks.push_back(make_salutation_check());
  checks.push_back(make_forged_mailer_check());
  checks.push_back(make_priority_check());
  checks.push_back(make_received_chain_check());
  checks.push_back(make_mime_structure_check());
  checks.push_back(make_obfuscation_check());
  checks.push_back(make_watch_words_check());
  checks.push_back(make_classifier_check());
  checks.push_back(make_antivirus_check());
  checks.push_back(make_ocr_check());
  return checks;
}

}  // namespace gatehouse::checks
