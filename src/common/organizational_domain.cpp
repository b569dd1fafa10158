// Organizational domains with libpsl. See organizational_domain.hpp.
#include "common/organizational_domain.hpp"

#include <libpsl.h>

#include <algorithm>

namespace gatehouse {
namespace {

const psl_ctx_t* suffix_list() {
  // The newest list on the system (the publicsuffix package), else the one built into libpsl.
  static const psl_ctx_t* context = [] {
    const psl_ctx_t* latest = psl_latest(nullptr);
    return latest ? latest : psl_builtin();
  }();
  return context;
}

std::string normalize(std::string_view domain) {
  std::string lower(domain);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
  while (!lower.empty() && lower.back() == '.') lower.pop_back();
  return lower;
}

}  // namespace

std::string organizational_domain(std::string_view domain) {
  std::string name = normalize(domain);
  if (name.empty()) return name;
  const psl_ctx_t* list = suffix_list();
  if (!list) return name;
  const char* registrable = psl_registrable_domain(list, name.c_str());
  return registrable ? std::string(registrable) : name;
}

bool aligned(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) return false;
  return organizational_domain(a) == organizational_domain(b);
}

}  // namespace gatehouse
