// Reading the names in a Received trace field (RFC 5321 §4.4, RFC 5322 §3.6.7): the host that
// wrote it (the word after "by") and the client's name as that host looked it up (its reverse DNS).
// The field is free text in practice; this reads the forms sendmail, Postfix, exim and qmail write:
//   from HELO (RDNS [192.0.2.1]) by HOST …            sendmail, Postfix
//   from RDNS ([192.0.2.1] helo=HELO) by HOST …       exim
//   from RDNS (HELO name) (192.0.2.1) by HOST …       qmail
// The HELO name is the client's own claim: it is returned apart from the looked-up name. An exim
// field without "helo=" means the HELO name was the looked-up name (exim writes it only when the
// two differ).
#pragma once
#include <string>
#include <string_view>

namespace gatehouse::content {

struct ReceivedNames {
  std::string by;            // the host that wrote the field, lower case; "" when none
  std::string client_name;   // the client's reverse DNS as that host wrote it; "" when none or "unknown"
  std::string helo;          // the name the client gave in HELO or EHLO, lower case; "" when the field shows none
  std::string client_ip;     // the client's address ("192.0.2.1", "2001:db8::1"); "" when none
  std::string id;            // what follows " id " (the writer's queue id), as written; "" when none
};

ReceivedNames read_received_names(std::string_view value);

// Whether an address is one a client on the open Internet cannot have: loopback, private (RFC 1918,
// RFC 4193), shared (RFC 6598) or link-local. Text that is not an address is not internal.
bool is_internal_address(std::string_view address);

}  // namespace gatehouse::content
