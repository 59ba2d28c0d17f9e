#pragma once
// Order of label names in reports and label ids: numeric when every name is a number ("2" before "10"), else by
// text. Deterministic for a given set of names.
#include <string>
#include <vector>

namespace sigtrain::singlecell {

void sort_label_names(std::vector<std::string>& names);

}  // namespace sigtrain::singlecell
