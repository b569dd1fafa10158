// See record_json.hpp.
#include "store/record_json.hpp"

#include <boost/json.hpp>
#include <ctime>

#include "common/time_text.hpp"

namespace gatehouse {

boost::json::object record_to_json(const TransactionRecord& r) {
  boost::json::object o;
  o["id"] = r.id;
  o["time"] = std::chrono::duration_cast<std::chrono::milliseconds>(r.time.time_since_epoch()).count();
  o["time_text"] = format_local_time(r.time);
  o["client_ip"] = r.client_ip;
  o["client_ptr"] = r.client_ptr;
  o["helo"] = r.helo;
  o["tls"] = r.tls;
  o["mail_from"] = r.mail_from;
  o["recipients"] = boost::json::value_from(r.recipients);
  o["rejected_recipients"] = boost::json::value_from(r.rejected_recipients);
  o["header_from"] = r.header_from;
  o["subject"] = r.subject;
  o["message_id"] = r.message_id;
  o["size"] = r.size;
  o["disposition"] = r.disposition;
  o["reason"] = r.reason;
  o["reply"] = r.reply;
  o["score"] = r.score;
  boost::json::array checks;
  for (auto& c : r.checks) checks.push_back(boost::json::object{{"name", c.name}, {"score", c.score}, {"detail", c.detail}});
  o["checks"] = std::move(checks);
  o["direction"] = r.direction;
  o["domain"] = r.domain;
  o["backend"] = r.backend;
  o["delivery_status"] = r.delivery_status;
  o["delivery_attempts"] = r.delivery_attempts;
  o["delivery_detail"] = r.delivery_detail;
  o["has_message"] = r.has_message;
  return o;
}

}  // namespace gatehouse
