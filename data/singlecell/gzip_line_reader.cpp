#include "data/singlecell/gzip_line_reader.h"

#include <cstring>

#include "data/singlecell/format_error.h"

namespace sigtrain::singlecell {

GzLineReader::GzLineReader(const std::string& path) : path_(path) {
  gz_ = gzopen(path.c_str(), "rb");
  if (!gz_) throw_format_error(path, "", "cannot open");
  gzbuffer(gz_, 1 << 18);
}

GzLineReader::~GzLineReader() {
  if (gz_) gzclose(gz_);
}

bool GzLineReader::next(std::string& line) {
  line.clear();
  char buf[1 << 16];
  bool got = false;
  while (gzgets(gz_, buf, sizeof(buf))) {
    got = true;
    const size_t n = std::strlen(buf);
    line.append(buf, n);
    if (n > 0 && buf[n - 1] == '\n') break;
  }
  if (!got) {
    int err = 0;
    const char* msg = gzerror(gz_, &err);
    if (err != Z_OK && err != Z_STREAM_END) {
      throw_format_error(path_, "line " + std::to_string(line_no_ + 1), std::string("gzip error: ") + msg);
    }
    return false;
  }
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  ++line_no_;
  return true;
}

}  // namespace sigtrain::singlecell
