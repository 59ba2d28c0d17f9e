#pragma once
// A per-cell label table next to a MEX folder (obs.csv): a header row whose first field names the index (may be
// empty), then one row per cell: barcode, values... RFC-4180 quoting ("a,b", "" for a quote) is understood.
#include <string>
#include <vector>

namespace sigtrain::singlecell {

struct CsvTable {
  std::vector<std::string> header;                 // without the first (index) field
  std::vector<std::string> index;                  // first field of each row
  std::vector<std::vector<std::string>> columns;   // columns[j][i] = row i, column header[j]
};

std::vector<std::string> split_csv_line(const std::string& line);
CsvTable read_csv_table(const std::string& path);  // FormatError with the line number on ragged rows

}  // namespace sigtrain::singlecell
