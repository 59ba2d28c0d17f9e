#pragma once
// Read-only memory map of a whole file (POSIX mmap). Move-only; unmaps on destruction.
#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace sigtrain::data {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws std::runtime_error naming the file when it cannot be opened or mapped. An empty file maps to size 0.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void reset() noexcept;
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sigtrain::data
