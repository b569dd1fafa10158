// Shared by every fuzz target in fuzz/ (linked into each by fuzz/build.sh): lets a run keep going
// past an invariant violation that is already reported and awaiting a fix.
//
//   FUZZ_IGNORE="bare CR or LF inside a reply line,code outside" build-fuzz/smtp_session ...
//
// An invariant whose description contains one of the comma-separated texts is not treated as a
// crash. Default: nothing is ignored.
#include <cstdlib>
#include <string>
#include <string_view>

bool fuzz_invariant_ignored(const char* what) {
  static const std::string ignore_list = [] {
    const char* value = std::getenv("FUZZ_IGNORE");
    return value ? std::string(value) : std::string();
  }();
  std::string_view rest = ignore_list;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    if (!item.empty() && std::string_view(what).find(item) != std::string_view::npos) return true;
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return false;
}
