#pragma once
// Line-by-line reading of text files through zlib; gzip-compressed and plain files alike (gzopen is transparent).
#include <zlib.h>

#include <string>

namespace sigtrain::singlecell {

class GzLineReader {
 public:
  explicit GzLineReader(const std::string& path);  // FormatError when it cannot be opened
  ~GzLineReader();
  GzLineReader(const GzLineReader&) = delete;
  GzLineReader& operator=(const GzLineReader&) = delete;

  // Next line without the trailing "\n" / "\r\n"; false at end of file. FormatError on a gzip error (truncated).
  bool next(std::string& line);
  int64_t line_number() const { return line_no_; }  // 1-based number of the last line returned
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  gzFile gz_ = nullptr;
  int64_t line_no_ = 0;
};

}  // namespace sigtrain::singlecell
