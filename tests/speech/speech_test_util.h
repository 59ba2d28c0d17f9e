#pragma once
// Helpers shared by the speech tests: fixture paths, a per-process temporary folder, tone and WAV writers (through
// libsndfile directly, independent of the library's reader), and catching an error's message.
#include <sndfile.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/remove_tree.h"
#include "tests/error_of.h"

#ifndef SIGTRAIN_SPEECH_FIXTURES
#define SIGTRAIN_SPEECH_FIXTURES "tests/fixtures/speech"
#endif

namespace speech_test {

inline std::string fixture(const std::string& name) { return std::string(SIGTRAIN_SPEECH_FIXTURES) + "/" + name; }

inline std::filesystem::path temp_dir(const std::string& name) {
  const auto d = std::filesystem::temp_directory_path() / ("sigtrain_speech_" + std::to_string(::getpid())) / name;
  sigtrain::remove_tree(d.string());
  std::filesystem::create_directories(d);
  return d;
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

inline std::vector<float> sine(double freq_hz, double rate_hz, int64_t n, double amplitude = 0.5) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    x[static_cast<size_t>(i)] = static_cast<float>(amplitude * std::sin(2.0 * std::numbers::pi * freq_hz * i / rate_hz));
  return x;
}

// Interleaved float samples as a 32-bit float WAV.
inline void write_wav(const std::string& path, const std::vector<float>& interleaved, int rate_hz, int channels) {
  SF_INFO info{};
  info.samplerate = rate_hz;
  info.channels = channels;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (f == nullptr) throw std::runtime_error("test: cannot write " + path);
  sf_writef_float(f, interleaved.data(), static_cast<sf_count_t>(interleaved.size() / static_cast<size_t>(channels)));
  sf_close(f);
}

using sigtrain::testing::error_of;

}  // namespace speech_test
