#pragma once
// A fresh directory per test, removed afterwards; plus fixture access.
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include "common/atomic_file.h"
#include "common/remove_tree.h"

namespace sigtrain::data::testing {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("sigtrain-test-data-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    try {
      sigtrain::remove_tree(path_.string());
    } catch (...) {  // a destructor must not throw; a leftover temp folder is harmless
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline std::filesystem::path hamlet_path() { return std::filesystem::path(SIGTRAIN_TEXT_FIXTURES) / "hamlet-act-1.txt"; }
inline std::string hamlet_text() { return sigtrain::read_file(hamlet_path().string()); }

}  // namespace sigtrain::data::testing
