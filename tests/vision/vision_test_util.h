#pragma once
// Shared helpers of the vision tests: fixture paths, a per-process temp folder, the facts PIL/numpy recorded.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "common/remove_tree.h"
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/error_of.h"

#ifndef SIGTRAIN_VISION_FIXTURES
#define SIGTRAIN_VISION_FIXTURES "tests/fixtures/vision"
#endif

namespace vision_test {

namespace fs = std::filesystem;

inline std::string fixture(const std::string& name) { return std::string(SIGTRAIN_VISION_FIXTURES) + "/" + name; }

// A fresh folder under the temp dir, unique per process and name.
inline fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("sigtrain_vision_" + std::to_string(::getpid())) / name;
  sigtrain::remove_tree(d.string());
  fs::create_directories(d);
  return d;
}

inline std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const fs::path& path, const std::vector<unsigned char>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// tests/fixtures/vision/expected.json, written by scripts/vision/make_fixtures.py from PIL and numpy.
inline const nlohmann::json& expected() {
  static const nlohmann::json j = nlohmann::json::parse(std::ifstream(fixture("expected.json")));
  return j;
}

using sigtrain::testing::error_of;

}  // namespace vision_test
