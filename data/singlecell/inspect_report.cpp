#include "data/singlecell/inspect_report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "data/singlecell/label_order.h"

namespace sigtrain::singlecell {
namespace {

std::string columns_text(const std::vector<ColumnInfo>& cols) {
  if (cols.empty()) return "none";
  std::string s;
  for (const auto& c : cols) {
    if (!s.empty()) s += ", ";
    s += c.name + " (" + c.type;
    if (c.type == "categorical") s += ", " + std::to_string(c.n_categories) + " categories";
    s += ")";
  }
  return s;
}

}  // namespace

InspectReport inspect_file(const std::string& path, const std::string& label_column, const OpenOptions& options) {
  auto reader = open_cell_matrix(path, options);
  InspectReport r;
  r.info = reader->info();
  r.label_column = label_column;
  if (!label_column.empty()) {
    std::map<std::string, int64_t> counts;
    int64_t missing = 0;
    for (const auto& v : reader->obs_column(label_column)) {
      if (v.empty()) ++missing;
      else counts[v]++;
    }
    std::vector<std::string> names;
    for (const auto& [name, n] : counts) names.push_back(name);
    sort_label_names(names);
    for (const auto& name : names) r.label_counts.emplace_back(name, counts[name]);
    if (missing > 0) r.label_counts.emplace_back("(missing)", missing);
  }
  return r;
}

std::string InspectReport::to_text() const {
  std::ostringstream o;
  o << "file:     " << info.path << "\n";
  o << "format:   " << info.format << "\n";
  o << "matrix:   " << info.matrix_path << "  " << info.encoding << "  " << info.dtype;
  if (!info.index_dtype.empty()) o << "  (indices " << info.index_dtype << ")";
  o << "\n";
  o << "shape:    " << info.n_cells << " cells x " << info.n_genes << " genes\n";
  const double entries = static_cast<double>(info.n_cells) * static_cast<double>(info.n_genes);
  char pct[32];
  std::snprintf(pct, sizeof(pct), "%.2f", entries > 0 ? 100.0 * static_cast<double>(info.nnz) / entries : 0.0);
  o << "nnz:      " << info.nnz << " (" << pct << "% of entries)\n";
  std::string layers;
  for (const auto& l : info.layers) layers += (layers.empty() ? "" : ", ") + l;
  o << "layers:   " << (layers.empty() ? "none" : layers) << "\n";
  o << "obs (" << info.obs_columns.size() << "):  " << columns_text(info.obs_columns) << "\n";
  o << "var (" << info.var_columns.size() << "):  " << columns_text(info.var_columns) << "\n";
  if (!label_column.empty()) {
    o << "label '" << label_column << "': " << label_counts.size() << " categories\n";
    size_t width = 0;
    for (const auto& [name, n] : label_counts) width = std::max(width, name.size());
    for (const auto& [name, n] : label_counts) {
      o << "  " << name << std::string(width - name.size() + 2, ' ') << n << "\n";
    }
  }
  return o.str();
}

}  // namespace sigtrain::singlecell
