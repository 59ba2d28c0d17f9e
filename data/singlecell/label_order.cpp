#include "data/singlecell/label_order.h"

#include <algorithm>
#include <cstdlib>

namespace sigtrain::singlecell {

void sort_label_names(std::vector<std::string>& names) {
  std::sort(names.begin(), names.end());
  const bool numeric = std::all_of(names.begin(), names.end(), [](const std::string& v) {
    char* end = nullptr;
    std::strtod(v.c_str(), &end);
    return !v.empty() && end != v.c_str() && *end == '\0';
  });
  if (numeric) {
    std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      return std::strtod(a.c_str(), nullptr) < std::strtod(b.c_str(), nullptr);
    });
  }
}

}  // namespace sigtrain::singlecell
