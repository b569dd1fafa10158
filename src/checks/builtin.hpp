// The checks gatehouse ships, one file each (checks/*.cpp), and the list the engine starts with.
#pragma once
#include <memory>
#include <vector>

#include "checks/check.hpp"

namespace gatehouse::checks {

std::unique_ptr<Check> make_trusted_networks_check();   // trusted_networks.cpp
std::unique_ptr<Check> make_lists_check();              // lists.cpp
std::unique_ptr<Check> make_reputation_check();         // reputation.cpp
std::unique_ptr<Check> make_protocol_check();           // protocol.cpp
std::unique_ptr<Check> make_spam_trap_check();          // spam_trap.cpp
std::unique_ptr<Check> make_helo_check();               // helo.cpp
std::unique_ptr<Check> make_dnsbl_check();              // dnsbl.cpp
std::unique_ptr<Check> make_uribl_check();              // uribl.cpp
std::unique_ptr<Check> make_phishing_check();           // phishing.cpp
std::unique_ptr<Check> make_html_obfuscation_check();   // html_obfuscation.cpp
std::unique_ptr<Check> make_reverse_dns_check();        // reverse_dns.cpp
std::unique_ptr<Check> make_spf_check();                // spf_check.cpp
std::unique_ptr<Check> make_spf_alignment_check();      // spf_check.cpp (its data-stage part)
std::unique_ptr<Check> make_sender_verify_check();      // sender_verify.cpp
std::unique_ptr<Check> make_header_structure_check();   // header_structure.cpp
std::unique_ptr<Check> make_attachments_check();        // attachments.cpp
std::unique_ptr<Check> make_message_date_check();       // message_date.cpp
std::unique_ptr<Check> make_header_addresses_check();   // header_addresses.cpp
std::unique_ptr<Check> make_subject_check();            // subject.cpp
std::unique_ptr<Check> make_free_mail_check();          // free_mail.cpp
std::unique_ptr<Check> make_salutation_check();         // salutation.cpp
std::unique_ptr<Check> make_forged_mailer_check();      // forged_mailer.cpp
std::unique_ptr<Check> make_priority_check();           // priority.cpp
std::unique_ptr<Check> make_received_chain_check();     // received_chain.cpp
std::unique_ptr<Check> make_mime_structure_check();     // mime_structure.cpp
std::unique_ptr<Check> make_obfuscation_check();        // obfuscation.cpp
std::unique_ptr<Check> make_watch_words_check();        // watch_words.cpp
std::unique_ptr<Check> make_classifier_check();         // classifier.cpp
std::unique_ptr<Check> make_antivirus_check();           // antivirus.cpp
std::unique_ptr<Check> make_ocr_check();                 // ocr.cpp

std::vector<std::unique_ptr<Check>> builtin_checks();

}  // namespace gatehouse::checks
