// One transaction of the log as JSON: the shape `gatehouse log search --json` / `gatehouse show
// --json` print and the web API (src/web/api.cpp) returns.
#pragma once
#include <boost/json/object.hpp>

#include "common/result.hpp"
#include "store/store.hpp"

namespace gatehouse {

// "time" is milliseconds since the Unix epoch; "time_text" the same in the local time zone (left
// out when `with_time_text` is false: the store's record journal, where nobody reads it).
boost::json::object record_to_json(const TransactionRecord& record, bool with_time_text = true);
// The inverse ("time_text" is ignored); an error names the first field that is missing or of the
// wrong type.
Result<TransactionRecord> record_from_json(const boost::json::object& object);

}  // namespace gatehouse
