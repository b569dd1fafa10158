// See record_json.hpp.
#include "store/record_json.hpp"

#include <boost/json.hpp>
#include <ctime>

#include "common/time_text.hpp"

namespace gatehouse {

boost::json::object record_to_json(const TransactionRecord& r, bool with_time_text) {
  boost::json::object o;
  o["id"] = r.id;
  o["time"] = std::chrono::duration_cast<std::chrono::milliseconds>(r.time.time_since_epoch()).count();
  if (with_time_text) o["time_text"] = format_local_time(r.time);
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

namespace {

// Reads one field of `object` into `out`, or says which field was wrong.
struct FieldReader {
  const boost::json::object& object;
  std::string bad;

  const boost::json::value* get(const char* key) {
    const auto* value = object.if_contains(key);
    if (!value && bad.empty()) bad = key;
    return value;
  }
  void text(const char* key, std::string& out) {
    if (const auto* value = get(key)) {
      if (const auto* s = value->if_string()) out.assign(s->data(), s->size());
      else if (bad.empty()) bad = key;
    }
  }
  void number(const char* key, double& out) {
    if (const auto* value = get(key)) {
      if (value->is_number()) out = value->to_number<double>();
      else if (bad.empty()) bad = key;
    }
  }
  template <class Integer>
  void integer(const char* key, Integer& out) {
    if (const auto* value = get(key)) {
      if (value->is_int64()) out = static_cast<Integer>(value->as_int64());
      else if (value->is_uint64()) out = static_cast<Integer>(value->as_uint64());
      else if (bad.empty()) bad = key;
    }
  }
  void strings(const char* key, std::vector<std::string>& out) {
    const auto* value = get(key);
    if (!value) return;
    const auto* array = value->if_array();
    if (!array) {
      if (bad.empty()) bad = key;
      return;
    }
    for (const auto& item : *array) {
      if (const auto* s = item.if_string()) out.emplace_back(s->data(), s->size());
      else if (bad.empty()) bad = key;
    }
  }
};

}  // namespace

Result<TransactionRecord> record_from_json(const boost::json::object& object) {
  TransactionRecord r;
  FieldReader read{object, {}};
  read.text("id", r.id);
  std::int64_t milliseconds = 0;
  read.integer("time", milliseconds);
  r.time = Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(milliseconds)));
  read.text("client_ip", r.client_ip);
  read.text("client_ptr", r.client_ptr);
  read.text("helo", r.helo);
  read.text("tls", r.tls);
  read.text("mail_from", r.mail_from);
  read.strings("recipients", r.recipients);
  read.strings("rejected_recipients", r.rejected_recipients);
  read.text("header_from", r.header_from);
  read.text("subject", r.subject);
  read.text("message_id", r.message_id);
  read.integer("size", r.size);
  read.text("disposition", r.disposition);
  read.text("reason", r.reason);
  read.text("reply", r.reply);
  read.number("score", r.score);
  if (const auto* checks = read.get("checks")) {
    if (const auto* array = checks->if_array()) {
      for (const auto& item : *array) {
        const auto* check = item.if_object();
        if (!check) {
          if (read.bad.empty()) read.bad = "checks";
          continue;
        }
        FieldReader check_read{*check, {}};
        CheckResult result;
        check_read.text("name", result.name);
        check_read.number("score", result.score);
        check_read.text("detail", result.detail);
        if (!check_read.bad.empty() && read.bad.empty()) read.bad = "checks." + check_read.bad;
        r.checks.push_back(std::move(result));
      }
    } else if (read.bad.empty()) {
      read.bad = "checks";
    }
  }
  read.text("direction", r.direction);
  read.text("domain", r.domain);
  read.text("backend", r.backend);
  read.text("delivery_status", r.delivery_status);
  read.integer("delivery_attempts", r.delivery_attempts);
  read.text("delivery_detail", r.delivery_detail);
  if (const auto* value = read.get("has_message")) {
    if (value->is_bool()) r.has_message = value->as_bool();
    else if (read.bad.empty()) read.bad = "has_message";
  }
  if (!read.bad.empty()) {
    Error error;
    error.message = "transaction record: field \"" + read.bad + "\" missing or of the wrong type";
    return error;
  }
  return r;
}

}  // namespace gatehouse
