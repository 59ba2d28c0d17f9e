#pragma once
// Reads a file that may or may not be gzip-compressed (zlib's gzopen/gzread pass plain files through unchanged).
// Every error names the file.
#include <cstddef>
#include <cstdint>
#include <string>

namespace sigtrain::vision {

class GzReader {
 public:
  // Throws VisionError when the file cannot be opened.
  explicit GzReader(std::string path);
  ~GzReader();
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  const std::string& path() const { return path_; }
  // Reads up to `size` bytes; returns how many were read (fewer only at the end of the data). Throws VisionError
  // on a read or decompression error (corrupt gzip stream).
  size_t read(void* buffer, size_t size);
  // True when no byte is left.
  bool at_end();
  // Total uncompressed bytes read so far.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  std::string path_;
  void* file_ = nullptr;  // gzFile, kept opaque so zlib.h stays out of this header
  uint64_t bytes_read_ = 0;
};

// Big-endian uint32 at p.
inline uint32_t read_be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace sigtrain::vision
