#include "data/fnv1a.h"

#include <cctype>
#include <stdexcept>

#include <cstdio>

namespace sigtrain::data {

std::string hex64(uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

std::optional<uint64_t> parse_hex64(const std::string& text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  size_t used = 0;
  uint64_t value = 0;
  try {
    value = std::stoull(text, &used, 16);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != text.size() || text[0] == '-' || text[0] == '+' || std::isspace(static_cast<unsigned char>(text[0])))
    return std::nullopt;
  return value;
}

}  // namespace sigtrain::data
