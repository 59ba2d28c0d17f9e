#include "data/singlecell/obs_csv.h"

#include "data/singlecell/format_error.h"
#include "data/singlecell/gzip_line_reader.h"

namespace sigtrain::singlecell {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

CsvTable read_csv_table(const std::string& path) {
  GzLineReader in(path);
  std::string line;
  CsvTable t;
  if (!in.next(line)) throw_format_error(path, "line 1", "empty file, expected a header row");
  auto head = split_csv_line(line);
  t.header.assign(head.begin() + 1, head.end());
  t.columns.resize(t.header.size());
  while (in.next(line)) {
    if (line.empty()) continue;
    auto f = split_csv_line(line);
    if (f.size() != head.size()) {
      throw_format_error(path, "line " + std::to_string(in.line_number()),
                         "expected " + std::to_string(head.size()) + " fields, got " + std::to_string(f.size()));
    }
    t.index.push_back(f[0]);
    for (size_t j = 1; j < f.size(); ++j) t.columns[j - 1].push_back(std::move(f[j]));
  }
  return t;
}

}  // namespace sigtrain::singlecell
