#include "data/vision/gz_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "data/vision/vision_error.h"

namespace sigtrain::vision {
namespace {
gzFile as_gz(void* f) { return static_cast<gzFile>(f); }
}  // namespace

GzReader::GzReader(std::string path) : path_(std::move(path)) {
  file_ = gzopen(path_.c_str(), "rb");
  if (file_ == nullptr) throw_vision_error(path_, std::string("cannot open: ") + std::strerror(errno));
  gzbuffer(as_gz(file_), 1 << 20);
}

GzReader::~GzReader() {
  if (file_ != nullptr) gzclose(as_gz(file_));
}

size_t GzReader::read(void* buffer, size_t size) {
  auto* out = static_cast<unsigned char*>(buffer);
  size_t done = 0;
  while (done < size) {
    // gzread takes an unsigned int length and returns int: read in chunks below INT_MAX.
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size - done, size_t{1} << 30));
    const int got = gzread(as_gz(file_), out + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(as_gz(file_), &code);
      throw_vision_error(path_, std::string("read error after ") + std::to_string(bytes_read_ + done) +
                                    " bytes: " + (msg != nullptr ? msg : "unknown zlib error"));
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  bytes_read_ += done;
  return done;
}

bool GzReader::at_end() {
  unsigned char probe = 0;
  if (read(&probe, 1) == 0) return true;
  gzungetc(probe, as_gz(file_));
  --bytes_read_;
  return false;
}

}  // namespace sigtrain::vision
