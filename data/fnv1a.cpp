#include "data/fnv1a.h"

#include <cstdio>

namespace sigtrain::data {

std::string hex64(uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace sigtrain::data
