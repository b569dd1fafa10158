// Reading the names in a Received trace field (RFC 5321 §4.4, RFC 5322 §3.6.7): the host that
// wrote it (the word after "by") and the client's name as that host looked it up (its reverse DNS).
// The field is free text in practice; this reads the forms sendmail, Postfix, exim and qmail write:
//   from HELO (RDNS [192.0.2.1]) by HOST …            sendmail, Postfix
//   from RDNS ([192.0.2.1] helo=HELO) by HOST …       exim
//   from RDNS (HELO name) (192.0.2.1) by HOST …       qmail
// The HELO name is the client's own claim and is not returned.
#pragma once
#include <string>
#include <string_view>

namespace gatehouse::content {

struct ReceivedNames {
  std::string by;            // the host that wrote the field, lower case; "" when none
  std::string client_name;   // the client's reverse DNS as that host wrote it; "" when none or "unknown"
};

ReceivedNames read_received_names(std::string_view value);

}  // namespace gatehouse::content
