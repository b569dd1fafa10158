// Builds the MessageAnalysis the content checks share (content/analysis.hpp).
#include "content/analysis.hpp"

namespace gatehouse::content {

MessageAnalysis analyse_message(std::string_view message, const ContentLimits& limits) {
  MessageAnalysis analysis;
  analysis.mime = parse_mime(message, limits.mime);
  return analysis;
}

}  // namespace gatehouse::content
